"""``POST $batch``: run the parts of a multipart batch through the app's dispatcher.

- Parts run sequentially, in order, each through :meth:`MockApp.handle`.
- A change set is atomic: it runs inside ``app.tenant.transaction()``; a failing part
  rolls back every write of the change set and the change set answers with that one
  failure (a plain part, not a nested multipart), as OData prescribes.
- ``Content-ID: <n>`` on a part lets later parts use ``$<n>`` as the request URL
  (``PATCH $1``, ``PUT $1/lastname``) or as a bind value (``"x@odata.bind": "$1"``,
  ``{"@odata.id": "$1"}``); an undeclared reference fails that part with 400.
- GET is allowed only outside change sets. At most 1000 requests per batch (400 beyond).
- Without ``Prefer: odata.continue-on-error`` processing stops at the first failure and
  the batch answers with that failure's status (the parts so far plus the failure); with
  it the batch answers 200 with every part, failed ones holding their error.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol
from urllib.parse import parse_qsl

from d365lab.mock.multipart import (
    BatchRequest,
    BatchResponsePart,
    ChangeSet,
    MultipartError,
    parse_batch,
    write_batch,
)
from d365lab.mock.service_errors import INVALID_ARGUMENT, MockError
from d365lab.mock.tenant_api import Tenant
from d365lab.mock.wire import SERVICE_PATH, Headers, MockRequest, MockResponse, error_response, parse_json_body

MAX_BATCH_REQUESTS = 1000
_REFERENCE = re.compile(r"^\$([A-Za-z0-9_.-]+)(/.*)?$")
_ENTITY_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")


class BatchApp(Protocol):
    """What the batch handler needs from the app."""

    tenant: Tenant

    def handle(self, request: MockRequest) -> MockResponse:
        """Dispatch one request and answer it (errors rendered, never raised)."""
        ...


class _ChangeSetFailedError(Exception):
    def __init__(self, part: BatchResponsePart) -> None:
        super().__init__(part.status)
        self.part = part


def _error_part(error: MockError, content_id: str | None) -> BatchResponsePart:
    return _to_part(error_response(error), content_id)


def _to_part(response: MockResponse, content_id: str | None) -> BatchResponsePart:
    headers = [(name, value) for name, value in response.headers.items() if name.lower() != "content-length"]
    names = {name.lower() for name, _ in headers}
    if "odata-entityid" in names and "location" not in names:
        headers.append(("Location", response.headers["OData-EntityId"]))
    return BatchResponsePart(response.status, headers, response.body.decode("utf-8"), content_id)


class _BatchRun:
    """One batch being executed: the Content-ID map and the answers so far."""

    def __init__(self, app: BatchApp, outer: MockRequest) -> None:
        self.app = app
        self.outer = outer
        self.references: dict[str, str] = {}

    def resolve(self, value: str) -> str:
        """A ``$<n>`` reference (with an optional path after it) as the entity URL."""
        match = _REFERENCE.match(value)
        if match is None:
            return value
        target = self.references.get(match.group(1))
        if target is None:
            raise MockError(400, INVALID_ARGUMENT,
                            f"Content-ID Reference: '${match.group(1)}' does not exist in the batch context.")
        return target + (match.group(2) or "")

    def _resolve_body(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._resolve_body(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve_body(item) for item in value]
        if isinstance(value, str) and value.startswith("$") and _REFERENCE.match(value):
            return self.resolve(value)
        return value

    def to_request(self, part: BatchRequest) -> MockRequest:
        """The dispatcher request of a batch part, with references resolved."""
        url = part.url
        marker = f"{SERVICE_PATH}/"
        if url.split("?")[0].rstrip("/").endswith("$batch"):
            raise MockError(400, INVALID_ARGUMENT,
                            "Batches cannot be nested: a $batch part cannot be a $batch request.")
        url = self.resolve(url)
        if marker in url:
            url = url.split(marker, 1)[1]
        path, _, query_string = url.lstrip("/").partition("?")
        headers = Headers(part.headers)
        for name in ("Authorization", "CallerObjectId"):
            if name not in headers and name in self.outer.headers:
                headers[name] = self.outer.headers[name]
        body = part.body.encode("utf-8")
        if part.body.strip() and ("$" in part.body):
            try:
                parsed = parse_json_body(body)
            except MockError:  # the part's own request answers the malformed body
                parsed = None
            if parsed is not None:
                body = json.dumps(self._resolve_body(parsed)).encode("utf-8")
        return MockRequest(method=part.method, path=path, query=dict(parse_qsl(query_string, keep_blank_values=True)),
                           headers=headers, body=body, base_url=self.outer.base_url)

    def execute(self, part: BatchRequest) -> BatchResponsePart:
        """Run one part and remember its entity URL under its Content-ID."""
        try:
            request = self.to_request(part)
        except MockError as error:
            return _error_part(error, part.content_id)
        response = self.app.handle(request)
        if part.content_id is not None and response.status < 400:
            location = self._entity_url(request, response)
            if location is not None:
                self.references[part.content_id] = location
        return _to_part(response, part.content_id)

    def _entity_url(self, request: MockRequest, response: MockResponse) -> str | None:
        for name in ("OData-EntityId", "Location"):
            if name in response.headers:
                return response.headers[name]
        if response.body and request.method == "POST":
            match = _ENTITY_KEY.match(request.path) or re.match(r"^([A-Za-z_][A-Za-z0-9_]*)$", request.path)
            if match is not None:
                try:
                    table = self.app.tenant.table(match.group(1))
                    ident = response.json().get(table.primary_id)
                except (MockError, ValueError, AttributeError):
                    return None
                if isinstance(ident, str):
                    return f"{request.base_url}/{table.entity_set}({ident})"
        if request.method in ("PATCH", "PUT") and _ENTITY_KEY.match(request.path):
            return request.url
        return None

    def execute_change_set(self, change_set: ChangeSet) -> list[BatchResponsePart]:
        """Run a change set atomically; raise :class:`_ChangeSetFailedError` after rolling it back."""
        answers: list[BatchResponsePart] = []
        saved = dict(self.references)
        try:
            with self.app.tenant.transaction():
                for part in change_set.requests:
                    if part.method == "GET":
                        error = MockError(400, INVALID_ARGUMENT,
                                          "GET requests are not allowed inside a change set; put them outside it.")
                        raise _ChangeSetFailedError(_error_part(error, part.content_id))
                    answer = self.execute(part)
                    if answer.status >= 400:
                        raise _ChangeSetFailedError(answer)
                    answers.append(answer)
        except _ChangeSetFailedError:
            self.references = saved
            raise
        return answers


def _count(items: list[BatchRequest | ChangeSet]) -> int:
    return sum(len(item.requests) if isinstance(item, ChangeSet) else 1 for item in items)


def handle_batch(app: BatchApp, request: MockRequest) -> MockResponse:
    """Answer ``POST $batch`` (see the module docstring)."""
    try:
        items = parse_batch(request.body, request.headers.get("Content-Type", ""))
    except (MultipartError, UnicodeDecodeError) as exc:
        return error_response(MockError(400, INVALID_ARGUMENT, f"The $batch request body is malformed: {exc}"))
    if _count(items) > MAX_BATCH_REQUESTS:
        return error_response(MockError(
            400, INVALID_ARGUMENT,
            f"The batch holds {_count(items)} requests; a batch may hold at most {MAX_BATCH_REQUESTS}."))
    continue_on_error = "odata.continue-on-error" in request.prefer()
    run = _BatchRun(app, request)
    answers: list[BatchResponsePart | list[BatchResponsePart]] = []
    failure: int | None = None
    for item in items:
        if isinstance(item, ChangeSet):
            try:
                answers.append(run.execute_change_set(item))
                continue
            except _ChangeSetFailedError as failed:
                answers.append(failed.part)
                status = failed.part.status
        else:
            answer = run.execute(item)
            answers.append(answer)
            status = answer.status
        if status >= 400 and not continue_on_error:
            failure = status
            break
    content_type, body = write_batch(answers)
    headers = Headers({"Content-Type": content_type, "OData-Version": "4.0"})
    if continue_on_error:
        headers["Preference-Applied"] = "odata.continue-on-error"
    return MockResponse(failure or 200, headers, body)
