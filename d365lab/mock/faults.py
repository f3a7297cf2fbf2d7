"""Seeded fault injection as WSGI middleware (settings ``faults``).

Per request, in this order, with one ``random.Random(seed)`` so a run is reproducible:

- ``latency_ms`` of added latency;
- with probability ``error_rate``: 503 Service Unavailable with the Dataverse envelope
  and the request-id headers of any answer, without running the request;
- with probability ``drop_rate``: the connection is "dropped" — half of the drops happen
  after the request ran (the write happened, the answer is lost), half before. A drop is
  an answer with header ``X-D365Lab-Mock-Drop: 1`` and a body shorter than its declared
  ``Content-Length``: the in-process router raises ``requests.ConnectionError`` on that
  header; over real HTTP the server closes the connection mid-body and the client sees
  an incomplete read.

Example::

    settings = MockSettings(faults=FaultSettings(seed=7, error_rate=0.1, drop_rate=0.05))
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from d365lab.mock.protection import request_id_headers
from d365lab.mock.settings import FaultSettings, MockSettings
from d365lab.mock.wire import JSON_CONTENT_TYPE
from d365lab.mock.wsgi import StartResponse, WsgiApp, run_wsgi, send_error

DROP_HEADER = "X-D365Lab-Mock-Drop"
UNEXPECTED_ERROR = "0x80040216"
UNAVAILABLE_MESSAGE = "Service Unavailable (fault injected by the d365lab mock tenant)."
_TRUNCATED_BODY = b'{"error":'
_DECLARED_LENGTH = 4096


class FaultInjection:
    """WSGI middleware answering some requests with 503s, latency or dropped connections."""

    def __init__(self, wsgi_app: WsgiApp, settings: MockSettings,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.app = wsgi_app
        self.settings = settings
        self.sleep = sleep
        self._seed = settings.faults.seed
        self._random = random.Random(self._seed)
        self._lock = threading.Lock()

    @property
    def faults(self) -> FaultSettings:
        """The fault settings in force (read per request, so a test may change them)."""
        return self.settings.faults

    @property
    def active(self) -> bool:
        """True when any fault is configured."""
        f = self.faults
        return f.error_rate > 0 or f.drop_rate > 0 or f.latency_ms > 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Inject the drawn fault, or pass the request on."""
        if not self.active:
            return self.app(environ, start_response)
        with self._lock:
            if self.faults.seed != self._seed:
                self._seed = self.faults.seed
                self._random = random.Random(self._seed)
            # Always three draws per request, so one fault's rate never shifts another's sequence.
            fail, drop, drop_after_running = (self._random.random() for _ in range(3))
        if self.faults.latency_ms > 0:
            self.sleep(self.faults.latency_ms / 1000.0)
        if fail < self.faults.error_rate:
            return self._unavailable(start_response)
        if drop < self.faults.drop_rate:
            if drop_after_running < 0.5:
                self._run_and_discard(environ)
            return self._dropped(start_response)
        return self.app(environ, start_response)

    def _run_and_discard(self, environ: dict[str, Any]) -> None:
        run_wsgi(self.app, environ)

    @staticmethod
    def _unavailable(start_response: StartResponse) -> Iterable[bytes]:
        return send_error(start_response, "503 Service Unavailable", UNEXPECTED_ERROR, UNAVAILABLE_MESSAGE,
                          request_id_headers())

    @staticmethod
    def _dropped(start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [
            ("Content-Type", JSON_CONTENT_TYPE),
            (DROP_HEADER, "1"),
            ("Content-Length", str(_DECLARED_LENGTH)),
        ])
        return [_TRUNCATED_BODY]
