"""The server cost model as WSGI middleware (settings ``cost``; off by default).

Two layers, placed around service protection by :class:`d365lab.mock.app.MockApp`:

- :class:`ServerTime` (inside service protection) classifies each request by message, runs
  it, then waits until the modelled server time has passed (the mock's own CPU time counts
  towards it). The wait is a sleep on the request's worker thread, so it burns no CPU, and
  because it sits inside :class:`~d365lab.mock.protection.ServiceProtection` it feeds the
  caller's execution-time limit exactly as a real server's work does.
- :class:`NetworkLatency` (outside everything) waits the modelled round trip before the
  request reaches the tenant; the client sees it, the execution-time limit does not.

Example::

    settings = with_cost_model(MockSettings(), "realistic", scale=0.1)
    app = create_app(":memory:", settings)      # both layers installed, active per request
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from d365lab.mock.cost_settings import (
    COST_MODEL_HEADER,
    SERVER_MS_HEADER,
    CostSettings,
    cost_model_header,
)
from d365lab.mock.multipart import BatchRequest, ChangeSet, parse_batch
from d365lab.mock.settings import MockSettings
from d365lab.mock.wsgi import StartResponse, WsgiApp, run_wsgi

_BULK = re.compile(r"Microsoft\.Dynamics\.CRM\.(CreateMultiple|UpdateMultiple|UpsertMultiple)$")
_QUALIFY = re.compile(r"(Microsoft\.Dynamics\.CRM\.)?QualifyLead$")
_CLOSE = re.compile(r"(Microsoft\.Dynamics\.CRM\.)?(Win|Lose)Opportunity$")
_ROW_MARK = b'"@odata.etag"'


@dataclass(frozen=True)
class RequestShape:
    """What the cost model needs to know about one request (or one operation of a ``$batch``)."""

    method: str
    last_segment: str
    rows: int = 0  # targets of a bulk message
    #: GET only: a query (True) or a single read (False); None: decided by the answer's shape.
    query: bool | None = None
    #: The operations of a ``$batch``, change sets flattened, in order.
    parts: tuple[RequestShape, ...] = ()


def modelled_ms(cost: CostSettings, shape: RequestShape, answer_body: bytes) -> float:
    """Server time in milliseconds (before ``scale``) for a request of ``shape`` that answered ``answer_body``."""
    return cost.request_ms + _message_ms(cost, shape, answer_body)


def batch_operation_ms(cost: CostSettings, part: RequestShape) -> float:
    """Server time of one operation inside a ``$batch`` (before ``scale``).

    An operation costs what its message costs on its own, minus the per-request overhead a
    batch saves. The saving is calibrated on a create: ``single_write_ms`` alone, and
    ``batch_operation_ms`` inside a batch (Microsoft's ExecuteMultiple figure). A message
    saves that difference, but never more than the same share of its own cost, so a cheap
    read inside a batch is not free::

        max(message - (single_write_ms - batch_operation_ms),
            message * batch_operation_ms / single_write_ms)
    """
    message = _message_ms(cost, part, b"")
    saving = max(0.0, cost.single_write_ms - cost.batch_operation_ms)
    ratio = cost.batch_operation_ms / cost.single_write_ms if cost.single_write_ms > 0 else 1.0
    return max(message - saving, message * ratio, 0.0)


def _message_ms(cost: CostSettings, shape: RequestShape, answer_body: bytes) -> float:
    """The cost of the message itself, without ``request_ms``."""
    segment, method = shape.last_segment, shape.method
    if method == "GET":
        query = shape.query
        if query is None:
            query = answer_body.lstrip().startswith(b"{") and b'"value"' in answer_body[:4096]
        if query:
            return cost.query_page_ms + cost.query_row_ms * answer_body.count(_ROW_MARK)
        return cost.read_ms
    if method != "POST":
        return cost.single_write_ms
    if segment == "$batch":
        return sum(batch_operation_ms(cost, part) for part in shape.parts)
    if _BULK.search(segment):
        return cost.bulk_request_ms + cost.bulk_row_ms * shape.rows
    if _QUALIFY.search(segment):
        return cost.qualify_lead_ms
    if _CLOSE.search(segment):
        return cost.close_opportunity_ms
    if "." in segment or segment[:1].isupper():
        return cost.action_ms
    return cost.single_write_ms


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back into ``environ`` so the app can still read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""  # nothing to count; the app reads the stream as it is
    body: bytes = stream.read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _count_targets(body: bytes | str) -> int:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return 0
    targets = parsed.get("Targets") if isinstance(parsed, dict) else None
    return len(targets) if isinstance(targets, list) else 0


def _shape(method: str, segment: str, body: bytes | str, query: bool | None) -> RequestShape:
    if method == "POST" and _BULK.search(segment):
        return RequestShape(method, segment, _count_targets(body))
    return RequestShape(method, segment, query=query if method == "GET" else None)


def _is_query_url(segment: str) -> bool:
    """A GET of a collection (``leads``, ``leads(id)/lead_tasks``), judged by the URL's last segment.

    A key or a function call (``leads(id)``, ``RetrieveVersion()``), an unbound function
    (``WhoAmI``, ``Microsoft.Dynamics.CRM.X``) and ``$count``/``$value``/``$ref`` are single reads.
    """
    return not ("(" in segment or "." in segment or segment[:1].isupper() or segment.startswith("$"))


def _batch_part(request: BatchRequest) -> RequestShape:
    path = request.url.split("?", 1)[0].rstrip("/")
    segment = path.rsplit("/", 1)[-1]
    return _shape(request.method, segment, request.body, _is_query_url(segment))


def batch_parts(body: bytes, content_type: str) -> tuple[RequestShape, ...]:
    """The operations of a ``$batch`` body, change sets flattened; none when the body is malformed.

    A malformed batch is answered 400 by the app, so it costs ``request_ms`` only.
    """
    try:
        items = parse_batch(body, content_type)
    except ValueError:  # MultipartError, undecodable text: the app answers 400
        return ()
    requests = [r for item in items for r in (item.requests if isinstance(item, ChangeSet) else [item])]
    return tuple(_batch_part(r) for r in requests)


def request_shape(environ: dict[str, Any]) -> RequestShape:
    """Classify the request in ``environ`` (reads and restores its body when it must look inside)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "")).rstrip("/")
    segment = path.rsplit("/", 1)[-1]
    if method != "POST":
        return RequestShape(method, segment)
    if segment == "$batch":
        parts = batch_parts(_read_body(environ), str(environ.get("CONTENT_TYPE") or ""))
        return RequestShape(method, segment, parts=parts)
    if _BULK.search(segment):
        return _shape(method, segment, _read_body(environ), None)
    return RequestShape(method, segment)


class ServerTime:
    """Spend each request's modelled server time (inside service protection)."""

    def __init__(self, wsgi_app: WsgiApp, settings: MockSettings) -> None:
        self.app = wsgi_app
        self.settings = settings

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Run the request, then wait out the rest of its modelled server time."""
        cost = self.settings.cost
        if not cost.enabled:
            return self.app(environ, start_response)
        started = time.monotonic()
        shape = request_shape(environ)
        answer = run_wsgi(self.app, environ)
        target_ms = modelled_ms(cost, shape, answer.body) * cost.scale
        remaining = target_ms / 1000.0 - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        start_response(answer.status, [*answer.headers, (SERVER_MS_HEADER, f"{target_ms:.1f}")])
        return [answer.body]


class NetworkLatency:
    """Wait the modelled network round trip before the request reaches the tenant.

    It also adds :data:`~d365lab.mock.cost_settings.COST_MODEL_HEADER` to every answer (429s
    included), so a client can tell which model and limits the mock serves.
    """

    def __init__(self, wsgi_app: WsgiApp, settings: MockSettings) -> None:
        self.app = wsgi_app
        self.settings = settings

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Sleep ``latency_ms * scale``, then pass the request on (its answer names the model)."""
        cost = self.settings.cost
        if not cost.enabled:
            return self.app(environ, start_response)
        if cost.latency_ms > 0:
            time.sleep(cost.latency_ms * cost.scale / 1000.0)
        header = (COST_MODEL_HEADER, cost_model_header(self.settings))

        def named(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, header], exc_info)

        return self.app(environ, named)
