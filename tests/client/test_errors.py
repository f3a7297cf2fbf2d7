"""Error mapping: status + Dataverse code + message -> one typed, actionable error."""

from __future__ import annotations

import json

import pytest

from d365lab.errors import (
    AccessDeniedError,
    AuthenticationError,
    DataverseError,
    DuplicateRecordError,
    InvalidStateTransitionError,
    NotFoundError,
    PreconditionFailedError,
    ThrottledError,
    error_from_response,
)


def _body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


@pytest.mark.parametrize(("status", "code", "message", "cls"), [
    (404, "0x80040217", "lead With Id = 1 Does Not Exist", NotFoundError),
    (404, "0x8006088a", "Resource not found for the segment 'Leads'.", NotFoundError),
    (412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.",
     PreconditionFailedError),
    (412, "0x80040237", "Cannot insert duplicate key.", DuplicateRecordError),
    (412, "", "A record with matching key values already exists.", DuplicateRecordError),
    (500, "0x80040333", "A record was not created or updated because a duplicate of the current record already "
                        "exists.", DuplicateRecordError),
    (429, "0x80072322", "Number of requests exceeded the limit", ThrottledError),
    (401, "", "", AuthenticationError),
    (403, "0x80040220", "Principal user is missing prvCreateLead privilege", AccessDeniedError),
    (400, "0x80040203", "4 is not a valid status code for state code LeadState.Open on lead with Id 1.",
     InvalidStateTransitionError),
    (400, "", "The lead is closed. You cannot convert or qualify a lead that is already closed.",
     InvalidStateTransitionError),
    (400, "0x0", "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.", DataverseError),
    (400, "0x0", "Could not find a property named 'activestage' on type 'Microsoft.Dynamics.CRM.lead'.",
     DataverseError),
    (400, "0x8004431A", "An opportunity cannot be closed by setting its statecode.", InvalidStateTransitionError),
    (400, "0x80040203", "Stages must be navigated in sequence: from Develop ...", InvalidStateTransitionError),
])
def test_mapping(status: int, code: str, message: str, cls: type[DataverseError]) -> None:
    error = error_from_response(status, _body(code, message), {"x-ms-service-request-id": "r1"},
                                method="GET", url="https://x/api/data/v9.2/leads")
    assert type(error) is cls
    assert error.status == status
    assert error.request_id == "r1"
    if message:
        assert error.message == message


def test_message_is_actionable() -> None:
    error = error_from_response(404, _body("0x80040217", "lead With Id = 1 Does Not Exist"), {"REQ_ID": "abc"},
                                method="GET", url="https://org/api/data/v9.2/leads(1)")
    text = str(error)
    assert text.startswith("GET https://org/api/data/v9.2/leads(1) HTTP 404 code 0x80040217: lead With Id = 1")
    assert "check the id" in text and "[request id abc]" in text


def test_retry_after_and_transience() -> None:
    error = error_from_response(429, _body("0x80072326", "concurrent"), {"Retry-After": "12"})
    assert error.retry_after == 12.0 and error.is_transient
    assert not error_from_response(400, _body("0x0", "bad"), {}).is_transient
    assert error_from_response(503, "", {}).is_transient


def test_non_json_bodies_are_tolerated() -> None:
    error = error_from_response(502, "<html>Bad gateway</html>", {})
    assert error.message == "<html>Bad gateway</html>"
