"""``$batch``: many requests in one HTTP call, with atomic change sets and Content-ID references.

>>> with client.batch() as batch:                                         # doctest: +SKIP
...     with batch.changeset() as cs:
...         lead = cs.create("lead", {"subject": "Coffee", "lastname": "Doe"})
...         cs.create("leadtoopportunitysalesprocess", {"leadId@odata.bind": lead.ref, ...})
...         won = cs.add(opportunities.win_request(opp_id, actual_revenue=Decimal("100")))
...     batch.get("account", account_id, select=["name"])
>>> batch.results[0].status                                               # doctest: +SKIP
204

:meth:`Batch.add` and :meth:`ChangeSet.add` take any request value
(:class:`~d365lab.webapi.request.Request`: a row write, an action, a Sales verb's request)
and return a :class:`Pending` whose :meth:`~Pending.result` is the decoded answer once the
batch has run. Rows created in a batch get a client-generated primary key, so ``lead.id`` is
known before the batch runs. Without ``continue_on_error`` the first failing part raises its
typed error (the responses received are still in ``batch.results``).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from d365lab.config import API_PATH
from d365lab.errors import ClientValidationError
from d365lab.odata import Filter
from d365lab.tables import resolve
from d365lab.webapi import messages, rows
from d365lab.webapi.batch_wire import (
    CRLF,
    BatchRequest,
    BatchResponse,
    encode_part,
    is_multipart,
    parse_batch_answer,
)
from d365lab.webapi.messages import Binding
from d365lab.webapi.request import Request, Sender

__all__ = ["MAX_BATCH_REQUESTS", "Batch", "BatchRef", "BatchRequest", "BatchResponse", "ChangeSet", "Pending"]

MAX_BATCH_REQUESTS = 1000
T = TypeVar("T")


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


class Pending(Generic[T]):
    """A request added to a batch; its decoded result once the batch has run."""

    def __init__(self, request: Request[T], part: BatchRequest) -> None:
        self.request = request
        self.part = part
        self.response: BatchResponse | None = None

    @property
    def ref(self) -> str | None:
        """``$<Content-ID>`` inside a change set (None outside one)."""
        return None if self.part.content_id is None else f"${self.part.content_id}"

    def result(self) -> T:
        """The decoded answer; raises the part's typed error (unless the request recovers from it)."""
        if self.response is None:
            raise ClientValidationError("no answer for this part: the batch has not run, or stopped at an "
                                        "earlier error")
        error = self.response.error()
        if error is not None:
            if self.request.recover is None:
                raise error
            return self.request.recover(error)
        return self.request.decode(self.response.answer())


class _Writes:
    """Adding requests, and the row writes shared by a batch and its change sets."""

    def __init__(self, owner: Batch) -> None:
        self._owner = owner

    def add(self, request: Request[T]) -> Pending[T]:
        """Add any request value; its result is known once the batch has run."""
        raise NotImplementedError

    def create(self, table: str, data: Mapping[str, Any]) -> BatchRef:
        """POST a new row; returns a reference whose ``id`` is the generated primary key."""
        request = rows.create_row(table, data)
        pending = self.add(request)
        return BatchRef(resolve(table).name, pending.part.content_id or 0, request.key)

    def update(self, table: str, record: str | BatchRef, data: Mapping[str, Any], *, etag: str | None = None) -> None:
        """PATCH an existing row (``If-Match: *`` or the ETag); ``record`` may be a :class:`BatchRef`."""
        self.add(rows.update_row(table, _key(record), data, etag=etag))

    def upsert(self, table: str, record_id: str, data: Mapping[str, Any]) -> None:
        """PATCH without ``If-Match``: create or update."""
        self.add(rows.upsert_row(table, record_id, data))

    def delete(self, table: str, record: str | BatchRef) -> None:
        """DELETE a row."""
        self.add(rows.delete_row(table, _key(record)))

    def action(self, name: str, parameters: Mapping[str, Any] | None = None, *, bound: Binding | None = None) -> None:
        """POST an action."""
        self.add(messages.action(name, parameters, bound=bound))


def _key(record: str | BatchRef) -> str:
    return record.ref if isinstance(record, BatchRef) else record


class ChangeSet(_Writes):
    """An atomic group of writes: all succeed or all roll back."""

    def __init__(self, owner: Batch) -> None:
        super().__init__(owner)
        self.requests: list[BatchRequest] = []

    def add(self, request: Request[T]) -> Pending[T]:
        """Add a write to the change set (it gets a Content-ID, usable as ``pending.ref``)."""
        if request.method == "GET":
            raise ClientValidationError("a change set holds writes only; add GET requests to the batch")
        pending = self._owner.pending(request, self._owner.next_content_id())
        self.requests.append(pending.part)
        return pending

    def __enter__(self) -> ChangeSet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Batch(_Writes):
    """A ``$batch`` request under construction; executes when the ``with`` block ends cleanly."""

    def __init__(self, sender: Sender, *, continue_on_error: bool = False) -> None:
        super().__init__(self)
        self._sender = sender
        self.continue_on_error = continue_on_error
        self.items: list[BatchRequest | ChangeSet] = []
        self.results: list[BatchResponse] = []
        self._pending: list[Pending[Any]] = []
        self._content_ids = 0
        self.executed = False

    # ------------------------------------------------------------------ building
    def url(self, path: str) -> str:
        """The in-batch URL of a service path (``/api/data/v9.2/leads``)."""
        return f"{API_PATH}/{path}"

    def next_content_id(self) -> int:
        """A Content-ID unique within the batch."""
        self._content_ids += 1
        return self._content_ids

    def pending(self, request: Request[T], content_id: int | None) -> Pending[T]:
        """The wire part of ``request`` (refusing the 1001st request before sending)."""
        if len(self._pending) >= MAX_BATCH_REQUESTS:
            raise ClientValidationError(f"a $batch holds at most {MAX_BATCH_REQUESTS} requests")
        headers = dict(request.headers)
        if request.body is not None:
            headers["Content-Type"] = "application/json; type=entry"
        url = request.path if request.path.startswith("$") else self.url(request.target())
        pending = Pending(request, BatchRequest(request.method, url, request.encoded_body(), headers, content_id))
        self._pending.append(pending)
        return pending

    def add(self, request: Request[T]) -> Pending[T]:
        """Add a request outside change sets (each such write is its own transaction)."""
        pending = self.pending(request, None)
        self.items.append(pending.part)
        return pending

    def changeset(self) -> ChangeSet:
        """Start an atomic change set (use as a context manager)."""
        changeset = ChangeSet(self)
        self.items.append(changeset)
        return changeset

    def get(self, table: str, key: str | Mapping[str, Any], *,
            select: Sequence[str] | None = None) -> Pending[dict[str, Any]]:
        """GET one row (outside change sets)."""
        return self.add(rows.get_row(table, key, select=select))

    def list(self, table: str, *, filter: str | Filter | None = None, select: Sequence[str] | None = None,
             top: int | None = None) -> Pending[dict[str, Any]]:
        """GET the first page of a query (outside change sets); the result is the page object."""
        return self.add(rows.query_page(table, filter=filter, select=select, top=top))

    # ------------------------------------------------------------------ wire format
    def encode(self, boundary: str) -> bytes:
        """The multipart/mixed body (CRLF line endings, closing boundaries)."""
        lines: builtins.list[str] = []
        for item in self.items:
            lines.append(f"--{boundary}")
            if isinstance(item, ChangeSet):
                changeset_boundary = f"changeset_{uuid.uuid4().hex}"
                lines += [f"Content-Type: multipart/mixed; boundary={changeset_boundary}", ""]
                for request in item.requests:
                    lines.append(f"--{changeset_boundary}")
                    lines += encode_part(request)
                lines.append(f"--{changeset_boundary}--")
            else:
                lines += encode_part(item)
        lines.append(f"--{boundary}--")
        lines.append("")
        return CRLF.join(lines).encode("utf-8")

    def request(self) -> Request[builtins.list[BatchResponse]]:
        """The ``POST $batch`` request carrying every part added so far."""
        boundary = f"batch_{uuid.uuid4().hex}"
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        if self.continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        read_only = all(isinstance(i, BatchRequest) and i.method == "GET" for i in self.items)
        return Request("POST", "$batch", parse_batch_answer, body=self.encode(boundary), headers=headers,
                       idempotent=read_only, accept=is_multipart, encoder=bytes)

    def execute(self) -> builtins.list[BatchResponse]:
        """Send the batch; return the responses in order (raise the first error unless continue_on_error)."""
        if self.executed:
            raise ClientValidationError("this batch was already executed")
        self.executed = True
        if not self.items:
            return []
        self.results = self._sender.send(self.request())
        self._match_responses()
        if not self.continue_on_error:
            for result in self.results:
                error = result.error()
                if error is not None:
                    raise error
        return self.results

    def _match_responses(self) -> None:
        """Give each pending part its response: by position when every part answered, else by Content-ID."""
        if len(self.results) == len(self._pending):
            for pending, response in zip(self._pending, self.results, strict=True):
                pending.response = response
            return
        by_id = {r.content_id: r for r in self.results if r.content_id is not None}
        for pending in self._pending:
            if pending.part.content_id is not None:
                pending.response = by_id.get(str(pending.part.content_id))

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.execute()
