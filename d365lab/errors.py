"""One error hierarchy for everything the Dataverse Web API (or the wire) can throw at you.

Every error carries what a person needs to act: the HTTP status, the Dataverse error code
(a hex string such as ``0x80040217``), the service's message, the request ids to quote to
support, and for throttling the ``retry_after`` seconds.

>>> try:                                   # doctest: +SKIP
...     client.records.get("lead", lead_id)
... except NotFoundError as exc:
...     print(exc.code, exc.message)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Dataverse error codes the client recognises.
CODE_DUPLICATE_KEY = "0x80040237"
CODE_DUPLICATE_DETECTED = "0x80040333"
THROTTLE_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})
#: Codes of "the record's state does not allow this" (invalid state/status, lead or opportunity
#: already closed). Partly UNVERIFIED on real tenants, so messages are matched as well.
STATE_CODES = frozenset({"0x8004431a", "0x8004d30a", "0x80043b12"})

_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
#: Fragments of service messages that mean "this record is not in a state that allows it".
_STATE_MESSAGE_FRAGMENTS = (
    "is not a valid status code",
    "is closed",
    "already closed",
    "is not active",
    "cannot be reactivated",
    "active stage",
    "next stage",
    "previous stage",
    "stages must",
    "must be done in sequence",
    "navigated in sequence",
    "finished only",
    "is finished",
    "is aborted",
)


class DataverseError(Exception):
    """Base class of every d365lab error raised while talking to Dataverse.

    ``status`` is the HTTP status (None when no response arrived), ``code`` the Dataverse
    error code, ``message`` the service message, ``request_id`` / ``correlation_id`` the
    service's ids and ``client_request_id`` the id d365lab sent. ``ambiguous_retry`` is True
    when the error came back on a retry after an attempt whose outcome is unknown (the
    first attempt may have been applied). ``hint`` replaces the class's advice when the
    caller knows what to fix (the 401 hint depends on the authentication mode).
    """

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        client_request_id: str | None = None,
        retry_after: float | None = None,
        ambiguous_retry: bool = False,
        hint: str | None = None,
    ) -> None:
        if hint is not None:
            self.hint = hint  # a caller knows better than the class default (e.g. which credential to fix)
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.url = url
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.client_request_id = client_request_id
        self.retry_after = retry_after
        self.ambiguous_retry = ambiguous_retry
        super().__init__(self._render())

    @property
    def is_transient(self) -> bool:
        """True when retrying the same request later may succeed."""
        return self.status in _TRANSIENT_STATUSES

    def _render(self) -> str:
        parts = []
        if self.method and self.url:
            parts.append(f"{self.method} {self.url}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.hint:
            text += f" ({self.hint})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class NotFoundError(DataverseError):
    """The record, table or operation does not exist (HTTP 404)."""

    hint = "check the id and table; the record may have been deleted"


class PreconditionFailedError(DataverseError):
    """The ETag sent in ``If-Match`` no longer matches the record (HTTP 412)."""

    hint = "someone changed the record since you read it; read it again and retry with the new ETag"


class DuplicateRecordError(DataverseError):
    """A record with the same key exists, or a duplicate-detection rule fired."""

    hint = "a record with this key already exists; update it instead, or use upsert"


class ThrottledError(DataverseError):
    """Service protection limits were hit (HTTP 429); see ``retry_after``."""

    hint = "the service asks you to slow down; wait retry_after seconds or lower parallelism"


class AuthenticationError(DataverseError):
    """The bearer token is missing, expired or rejected (HTTP 401), or one could not be obtained."""

    hint = "check AZURE_TENANT_ID / AZURE_CLIENT_ID / credentials and that the app user exists in the environment"


class AccessDeniedError(DataverseError):
    """The caller lacks a privilege (HTTP 403)."""

    hint = "ask an administrator to grant the missing privilege (a security role) to this user"


class InvalidStateTransitionError(DataverseError):
    """The record's state does not allow the change (closed lead, wrong status for a state, stage order)."""

    hint = "read the record's statecode/statuscode; reopen or reactivate it first if needed"


class ClientValidationError(DataverseError):
    """d365lab refused a request before sending it; ``table`` and ``field`` name what is wrong."""

    def __init__(self, message: str, *, table: str | None = None, field: str | None = None) -> None:
        self.table = table
        self.field = field
        where = ".".join(p for p in (table, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class TransportError(DataverseError):
    """No usable HTTP response: connection failure, timeout, or a malformed answer."""

    hint = "check network access to the environment URL; the request may or may not have been applied"

    @property
    def is_transient(self) -> bool:
        """Connection problems are usually transient."""
        return True


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str | None]:
    """Return ``(code, message)`` from a Dataverse error body, tolerating non-JSON bodies."""
    if not body:
        return None, None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None, text.strip()[:500] or None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code = err.get("code")
        message = err.get("message")
        return (str(code) if code is not None else None, str(message) if message is not None else None)
    return None, text.strip()[:500] or None


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value:
            return value
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (integer or decimal seconds); None when absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def error_class_for(status: int, code: str | None, message: str) -> type[DataverseError]:
    """Pick the error class for an HTTP status, Dataverse code and message."""
    lowered = message.lower()
    if status == 429 or (code in THROTTLE_CODES):
        return ThrottledError
    if code in (CODE_DUPLICATE_KEY, CODE_DUPLICATE_DETECTED) or "matching key values already exists" in lowered:
        return DuplicateRecordError
    if status == 404:
        return NotFoundError
    if status == 412:
        if "duplicate" in lowered:
            return DuplicateRecordError
        return PreconditionFailedError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return AccessDeniedError
    if status == 400 and ((code or "").lower() in STATE_CODES or (
            not lowered.startswith("could not find a property")
            and any(fragment in lowered for fragment in _STATE_MESSAGE_FRAGMENTS))):
        return InvalidStateTransitionError
    return DataverseError


def error_from_response(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str],
    *,
    method: str | None = None,
    url: str | None = None,
    client_request_id: str | None = None,
    ambiguous_retry: bool = False,
    hint: str | None = None,
) -> DataverseError:
    """Build the typed error for a failed HTTP response (``hint`` overrides the class's advice)."""
    code, message = parse_error_body(body)
    if not message:
        message = {401: "the request was not authenticated", 403: "access denied",
                   404: "not found", 429: "too many requests"}.get(status, f"HTTP {status}")
    cls = error_class_for(status, code, message)
    return cls(
        message,
        status=status,
        code=code,
        method=method,
        url=url,
        request_id=_header(headers, "x-ms-service-request-id", "REQ_ID", "request-id"),
        correlation_id=_header(headers, "x-ms-correlation-request-id", "x-ms-correlation-id"),
        client_request_id=client_request_id,
        retry_after=parse_retry_after(_header(headers, "Retry-After")),
        ambiguous_retry=ambiguous_retry,
        hint=hint,
    )


def describe_error(exc: BaseException) -> str:
    """One line for a person: d365lab's own errors as they word themselves, others with their type.

    >>> describe_error(ValueError("bad"))
    'ValueError: bad'
    """
    text = str(exc).strip()
    if isinstance(exc, DataverseError) and text:
        return text
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
