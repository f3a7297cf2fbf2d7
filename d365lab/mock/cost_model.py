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

from d365lab.mock.cost_settings import CostSettings
from d365lab.mock.settings import MockSettings
from d365lab.mock.wsgi import StartResponse, WsgiApp, run_wsgi

_BULK = re.compile(r"Microsoft\.Dynamics\.CRM\.(CreateMultiple|UpdateMultiple|UpsertMultiple)$")
_QUALIFY = re.compile(r"(Microsoft\.Dynamics\.CRM\.)?QualifyLead$")
_CLOSE = re.compile(r"(Microsoft\.Dynamics\.CRM\.)?(Win|Lose)Opportunity$")
_BATCH_PART = re.compile(rb"content-type:\s*application/http", re.IGNORECASE)
_ROW_MARK = b'"@odata.etag"'


@dataclass(frozen=True)
class RequestShape:
    """What the cost model needs to know about one request."""

    method: str
    last_segment: str
    rows: int = 0  # targets of a bulk message, operations of a $batch


def modelled_ms(cost: CostSettings, shape: RequestShape, answer_body: bytes) -> float:
    """Server time in milliseconds (before ``scale``) for a request of ``shape`` that answered ``answer_body``."""
    segment, method = shape.last_segment, shape.method
    total = cost.request_ms
    if method == "GET":
        if answer_body.lstrip().startswith(b"{") and b'"value"' in answer_body[:4096]:
            return total + cost.query_page_ms + cost.query_row_ms * answer_body.count(_ROW_MARK)
        return total + cost.read_ms
    if method != "POST":
        return total + cost.single_write_ms
    if segment == "$batch":
        return total + cost.batch_operation_ms * shape.rows
    if _BULK.search(segment):
        return total + cost.bulk_request_ms + cost.bulk_row_ms * shape.rows
    if _QUALIFY.search(segment):
        return total + cost.qualify_lead_ms
    if _CLOSE.search(segment):
        return total + cost.close_opportunity_ms
    if "." in segment or segment[:1].isupper():
        return total + cost.action_ms
    return total + cost.single_write_ms


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


def _count_targets(body: bytes) -> int:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return 0
    targets = parsed.get("Targets") if isinstance(parsed, dict) else None
    return len(targets) if isinstance(targets, list) else 0


def request_shape(environ: dict[str, Any]) -> RequestShape:
    """Classify the request in ``environ`` (reads and restores its body when it must count rows)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "")).rstrip("/")
    segment = path.rsplit("/", 1)[-1]
    if method != "POST":
        return RequestShape(method, segment)
    if segment == "$batch":
        return RequestShape(method, segment, len(_BATCH_PART.findall(_read_body(environ))))
    if _BULK.search(segment):
        return RequestShape(method, segment, _count_targets(_read_body(environ)))
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
        target = modelled_ms(cost, shape, answer.body) * cost.scale / 1000.0
        remaining = target - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        start_response(answer.status, answer.headers)
        return [answer.body]


class NetworkLatency:
    """Wait the modelled network round trip before the request reaches the tenant."""

    def __init__(self, wsgi_app: WsgiApp, settings: MockSettings) -> None:
        self.app = wsgi_app
        self.settings = settings

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Sleep ``latency_ms * scale``, then pass the request on."""
        cost = self.settings.cost
        if cost.enabled and cost.latency_ms > 0:
            time.sleep(cost.latency_ms * cost.scale / 1000.0)
        return self.app(environ, start_response)
