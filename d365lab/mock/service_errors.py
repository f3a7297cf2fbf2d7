"""Errors the mock answers with, rendered as the Dataverse error envelope."""

from __future__ import annotations

NOT_FOUND = "0x80040217"
RESOURCE_NOT_FOUND = "0x8006088a"
UNKNOWN_PROPERTY = "0x0"
MAX_LENGTH = "0x80044331"
DUPLICATE_KEY = "0x80040237"
CONCURRENCY_MISMATCH = "0x80060882"
INVALID_ARGUMENT = "0x80040203"
INVALID_STATE = "0x8004431a"
LEAD_CLOSED = "0x8004d30a"
OPPORTUNITY_CLOSED = "0x80043b12"
THROTTLE_REQUESTS = "0x80072322"
THROTTLE_TIME = "0x80072321"
THROTTLE_CONCURRENCY = "0x80072326"
UNAUTHORIZED = "0x80048306"


class MockError(Exception):
    """A failed request: HTTP status, Dataverse hex code and message.

    Raised anywhere in the mock; the WSGI app turns it into
    ``{"error": {"code": ..., "message": ...}}`` with ``status``. Raising it inside
    a tenant transaction rolls the transaction back.
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def envelope(self) -> dict[str, dict[str, str]]:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message}}


def not_found(logical_name: str, record_id: str) -> MockError:
    """404 for a missing record, worded as the service words it."""
    return MockError(404, NOT_FOUND, f"{logical_name} With Id = {record_id} Does Not Exist")


def bad_request(message: str, code: str = INVALID_ARGUMENT) -> MockError:
    """400 with a message."""
    return MockError(400, code, message)


def unknown_property(prop: str, logical_name: str) -> MockError:
    """400 for a property the table does not have."""
    return MockError(
        400, UNKNOWN_PROPERTY,
        f"Could not find a property named '{prop}' on type 'Microsoft.Dynamics.CRM.{logical_name}'.",
    )


def unknown_segment(segment: str) -> MockError:
    """404 for an unknown entity set, action or function."""
    return MockError(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{segment}'.")
