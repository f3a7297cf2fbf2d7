"""``$batch``: many requests in one HTTP call, with atomic change sets and Content-ID references.

>>> with client.batch() as batch:                                         # doctest: +SKIP
...     with batch.changeset() as cs:
...         lead = cs.create("lead", {"subject": "Coffee", "lastname": "Doe"})
...         cs.create("leadtoopportunitysalesprocess", {"leadId@odata.bind": lead.ref, ...})
...     batch.get("account", account_id, select=["name"])
>>> batch.results[0].status                                               # doctest: +SKIP
204

Rows created in a batch get a client-generated primary key, so ``lead.id`` is known before
the batch runs. Without ``continue_on_error`` the first failing part raises its typed error
(the responses received are still in ``batch.results``).
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import requests

from d365lab.config import API_PATH
from d365lab.errors import ClientValidationError, DataverseError, TransportError, error_from_response
from d365lab.odata import Query, dumps, entity_id_from_url, guid, key_segment
from d365lab.operations import Binding, operation_path
from d365lab.tables import resolve, validate_payload
from d365lab.transport import Transport

MAX_BATCH_REQUESTS = 1000
CRLF = "\r\n"


@dataclass(frozen=True)
class BatchRef:
    """A row written inside a change set: ``ref`` (``$1``) for later parts, ``id`` when known up front."""

    table: str
    content_id: int
    id: str | None

    @property
    def ref(self) -> str:
        """The Content-ID reference, usable as a URL or as an ``@odata.bind`` value in the same change set."""
        return f"${self.content_id}"


@dataclass
class BatchRequest:
    """One request inside a batch."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: int | None = None


@dataclass
class BatchResponse:
    """One response of a batch."""

    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        """True for 1xx-3xx."""
        return self.status < 400

    @property
    def entity_id(self) -> str | None:
        """The id in ``OData-EntityId`` (creates), if any."""
        url = self.headers.get("odata-entityid") or self.headers.get("location")
        return entity_id_from_url(url) if url else None

    def error(self) -> DataverseError | None:
        """The typed error of a failed part, or None."""
        if self.ok:
            return None
        raw = json.dumps(self.body) if isinstance(self.body, dict | list) else (self.body or "")
        return error_from_response(self.status, raw, self.headers)


class _Writes:
    """Write operations shared by a batch and its change sets."""

    def __init__(self, owner: Batch) -> None:
        self._owner = owner

    def _add(self, request: BatchRequest) -> None:
        raise NotImplementedError

    def create(self, table: str, data: Mapping[str, Any]) -> BatchRef:
        """POST a new row; returns a reference whose ``id`` is the generated primary key."""
        info = resolve(table)
        body = dict(data)
        validate_payload(info, body, creating=True)
        record_id = None
        if info.primary_id:
            record_id = guid(body[info.primary_id]) if body.get(info.primary_id) else str(uuid.uuid4())
            body[info.primary_id] = record_id
        content_id = self._owner.next_content_id()
        self._add(BatchRequest("POST", self._owner.url(info.entity_set), body,
                               {"Content-Type": "application/json; type=entry"}, content_id))
        return BatchRef(info.name, content_id, record_id)

    def update(self, table: str, record: str | BatchRef, data: Mapping[str, Any], *, etag: str | None = None) -> None:
        """PATCH an existing row (``If-Match: *`` or the ETag); ``record`` may be a :class:`BatchRef`."""
        info = resolve(table)
        validate_payload(info, data, creating=False)
        self._add(BatchRequest("PATCH", self._target(info.entity_set, record), dict(data),
                               {"Content-Type": "application/json; type=entry", "If-Match": etag or "*"},
                               self._owner.next_content_id()))

    def upsert(self, table: str, record_id: str, data: Mapping[str, Any]) -> None:
        """PATCH without ``If-Match``: create or update."""
        info = resolve(table)
        validate_payload(info, data, creating=True)
        self._add(BatchRequest("PATCH", self._owner.url(key_segment(info.entity_set, record_id)), dict(data),
                               {"Content-Type": "application/json; type=entry"}, self._owner.next_content_id()))

    def delete(self, table: str, record: str | BatchRef) -> None:
        """DELETE a row."""
        info = resolve(table)
        self._add(BatchRequest("DELETE", self._target(info.entity_set, record), None, {},
                               self._owner.next_content_id()))

    def action(self, name: str, parameters: Mapping[str, Any] | None = None, *, bound: Binding | None = None) -> None:
        """POST an action."""
        self._add(BatchRequest("POST", self._owner.url(operation_path(name, bound)), dict(parameters or {}),
                               {"Content-Type": "application/json; type=entry"}, self._owner.next_content_id()))

    def _target(self, entity_set: str, record: str | BatchRef) -> str:
        if isinstance(record, BatchRef):
            return record.ref
        return self._owner.url(key_segment(entity_set, record))


class ChangeSet(_Writes):
    """An atomic group of writes: all succeed or all roll back."""

    def __init__(self, owner: Batch) -> None:
        super().__init__(owner)
        self.requests: list[BatchRequest] = []

    def _add(self, request: BatchRequest) -> None:
        self._owner.check_room()
        self.requests.append(request)

    def __enter__(self) -> ChangeSet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Batch(_Writes):
    """A ``$batch`` request under construction; executes when the ``with`` block ends cleanly."""

    def __init__(self, transport: Transport, *, continue_on_error: bool = False) -> None:
        super().__init__(self)
        self._transport = transport
        self.continue_on_error = continue_on_error
        self.items: list[BatchRequest | ChangeSet] = []
        self.results: list[BatchResponse] = []
        self._content_ids = 0
        self._size = 0
        self.executed = False

    # ------------------------------------------------------------------ building
    def url(self, path: str) -> str:
        """The in-batch URL of a service path (``/api/data/v9.2/leads``)."""
        return f"{API_PATH}/{path}"

    def next_content_id(self) -> int:
        """A Content-ID unique within the batch."""
        self._content_ids += 1
        return self._content_ids

    def check_room(self) -> None:
        """Refuse the 1001st request before sending."""
        if self._size >= MAX_BATCH_REQUESTS:
            raise ClientValidationError(f"a $batch holds at most {MAX_BATCH_REQUESTS} requests")
        self._size += 1

    def _add(self, request: BatchRequest) -> None:
        self.check_room()
        request.content_id = None  # Content-ID only matters inside change sets
        self.items.append(request)

    def changeset(self) -> ChangeSet:
        """Start an atomic change set (use as a context manager)."""
        changeset = ChangeSet(self)
        self.items.append(changeset)
        return changeset

    def get(self, table: str, key: str | Mapping[str, Any], *, select: Sequence[str] | None = None) -> None:
        """GET one row (outside change sets)."""
        info = resolve(table)
        query = Query(select=select or ()).encode()
        url = self.url(key_segment(info.entity_set, key)) + (f"?{query}" if query else "")
        self._add(BatchRequest("GET", url))

    def list(self, table: str, *, filter: str | None = None, select: Sequence[str] | None = None,
             top: int | None = None) -> None:
        """GET the first page of a query (outside change sets)."""
        info = resolve(table)
        query = Query(select=select or (), filter=filter, top=top).encode()
        self._add(BatchRequest("GET", self.url(info.entity_set) + (f"?{query}" if query else "")))

    # ------------------------------------------------------------------ wire format
    def encode(self, boundary: str) -> bytes:
        """The multipart/mixed body (CRLF line endings, closing boundaries)."""
        lines: list[str] = []
        for item in self.items:
            lines.append(f"--{boundary}")
            if isinstance(item, ChangeSet):
                changeset_boundary = f"changeset_{uuid.uuid4().hex}"
                lines += [f"Content-Type: multipart/mixed; boundary={changeset_boundary}", ""]
                for request in item.requests:
                    lines.append(f"--{changeset_boundary}")
                    lines += _encode_request(request)
                lines.append(f"--{changeset_boundary}--")
            else:
                lines += _encode_request(item)
        lines.append(f"--{boundary}--")
        lines.append("")
        return CRLF.join(lines).encode("utf-8")

    def execute(self) -> builtins.list[BatchResponse]:
        """Send the batch; return the responses in order (raise the first error unless continue_on_error)."""
        if self.executed:
            raise ClientValidationError("this batch was already executed")
        self.executed = True
        if not self.items:
            return []
        boundary = f"batch_{uuid.uuid4().hex}"
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        if self.continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        read_only = all(isinstance(i, BatchRequest) and i.method == "GET" for i in self.items)
        response = self._transport.request("POST", "$batch", data=self.encode(boundary), headers=headers,
                                           idempotent=read_only, accept=_is_multipart)
        self.results = parse_batch_response(response)
        if not self.continue_on_error:
            for result in self.results:
                error = result.error()
                if error is not None:
                    raise error
        return self.results

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.execute()


def _encode_request(request: BatchRequest) -> list[str]:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if request.content_id is not None:
        lines.append(f"Content-ID: {request.content_id}")
    lines += ["", f"{request.method} {request.url} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    lines.append("")
    lines.append(dumps(request.body).decode("utf-8") if request.body is not None else "")
    return lines


def _is_multipart(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").lower().startswith("multipart/mixed")


def _boundary_of(content_type: str) -> str:
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip().strip('"')
    raise TransportError(f"no boundary in Content-Type {content_type!r}")


def parse_batch_response(response: requests.Response) -> list[BatchResponse]:
    """Parse a ``$batch`` response (nested change-set responses flattened, in order)."""
    content_type = response.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise TransportError(f"expected a multipart $batch response, got {content_type!r}",
                             status=response.status_code)
    return parse_multipart(response.content.decode("utf-8"), _boundary_of(content_type))


def parse_multipart(text: str, boundary: str) -> list[BatchResponse]:
    """Parse one multipart level; recurse into nested multipart parts."""
    text = text.replace("\r\n", "\n")
    out: list[BatchResponse] = []
    for section in text.split(f"--{boundary}")[1:]:
        if section.startswith("--"):
            break
        head, _, rest = section.lstrip("\n").partition("\n\n")
        headers = _parse_headers(head)
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/mixed"):
            out.extend(parse_multipart(rest, _boundary_of(content_type)))
        else:
            out.append(_parse_http(rest, headers.get("content-id")))
    return out


def _parse_headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return headers


def _parse_http(text: str, content_id: str | None) -> BatchResponse:
    status_line, _, rest = text.partition("\n")
    pieces = status_line.split(" ", 2)
    if len(pieces) < 2 or not pieces[1].isdigit():
        raise TransportError(f"malformed $batch part status line {status_line!r}")
    if rest.startswith("\n"):
        head, body_text = "", rest[1:]
    else:
        head, _, body_text = rest.partition("\n\n")
    headers = _parse_headers(head)
    body_text = body_text.strip()
    body: Any = None
    if body_text:
        try:
            body = json.loads(body_text)
        except ValueError:
            body = body_text
    return BatchResponse(int(pieces[1]), headers, body, headers.get("content-id") or content_id)
