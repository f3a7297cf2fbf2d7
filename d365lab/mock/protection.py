"""Service-protection limits as WSGI middleware (active when ``settings.throttle.enabled``).

Per caller (the bearer token; only a hash of it is kept), over a sliding window of
``window_seconds``:

- number of requests (``requests_per_window``) -> 429 ``0x80072322``;
- combined execution time in ms (``execution_ms_per_window``) -> 429 ``0x80072321``;
- requests in flight at once (``max_concurrent``) -> 429 ``0x80072326``, immediately.

Like the service, the window limits trip only once they have been exceeded; a 429 carries
an integer ``Retry-After`` (seconds until enough of the window has drained, or
``retry_after_seconds`` when set) and, like every answer of the tenant, a fresh
``x-ms-service-request-id`` / ``REQ_ID`` (:func:`request_id_headers`). Successful answers carry
``x-ms-ratelimit-burst-remaining-xrm-requests`` and ``x-ms-ratelimit-time-remaining-xrm-requests``.
A ``$batch`` is one HTTP request and so counts once; refused requests do not count.

Example::

    app = ServiceProtection(create_app(":memory:", settings), settings)
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from d365lab.mock.service_errors import THROTTLE_CONCURRENCY, THROTTLE_REQUESTS, THROTTLE_TIME
from d365lab.mock.settings import MockSettings, ThrottleSettings
from d365lab.mock.wire import new_request_id
from d365lab.mock.wsgi import StartResponse, WsgiApp, run_wsgi, send_error

BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests"
REQUEST_ID_HEADERS = ("x-ms-service-request-id", "REQ_ID")


def request_id_headers() -> list[tuple[str, str]]:
    """The request-id headers of an answer a middleware gives itself: one fresh id under both names.

    The app decorates its own answers the same way; answers that never reach it (a 429 here,
    an injected 503) need them too, as the service's do.
    """
    request_id = new_request_id()
    return [(name, request_id) for name in REQUEST_ID_HEADERS]


@dataclass
class _CallerUsage:
    """What one caller did within the window."""

    starts: deque[float] = field(default_factory=deque)
    executions: deque[tuple[float, float]] = field(default_factory=deque)  # (finished at, ms)
    in_flight: int = 0

    def forget_before(self, horizon: float) -> None:
        while self.starts and self.starts[0] <= horizon:
            self.starts.popleft()
        while self.executions and self.executions[0][0] <= horizon:
            self.executions.popleft()

    @property
    def execution_ms(self) -> float:
        return sum(ms for _, ms in self.executions)


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: code, message and Retry-After seconds."""

    code: str
    message: str
    retry_after: int


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def requests_message(limits: ThrottleSettings) -> str:
    """The service's message for the request-count limit."""
    return (f"Number of requests exceeded the limit of {limits.requests_per_window} "
            f"over time window of {_seconds(limits.window_seconds)} seconds.")


def time_message(limits: ThrottleSettings) -> str:
    """The service's message for the execution-time limit (two spaces before 'milliseconds', as served)."""
    return (f"Combined execution time of incoming requests exceeded limit of {limits.execution_ms_per_window:,}  "
            f"milliseconds over time window of {_seconds(limits.window_seconds)} seconds. Decrease number of "
            f"concurrent requests or reduce the duration of requests and try again later.")


def concurrency_message(limits: ThrottleSettings) -> str:
    """The service's message for the concurrency limit."""
    return f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}."


class ServiceProtection:
    """WSGI middleware enforcing per-caller service-protection limits."""

    def __init__(self, wsgi_app: WsgiApp, settings: MockSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = wsgi_app
        self.settings = settings
        self.clock = clock
        self._usage: dict[str, _CallerUsage] = {}
        self._lock = threading.Lock()

    @property
    def limits(self) -> ThrottleSettings:
        """The limits in force (read per request, so a test may change the settings)."""
        return self.settings.throttle

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Count the request against its caller, refuse it with 429 or pass it on."""
        if not self.limits.enabled:
            return self.app(environ, start_response)
        caller = hashlib.sha256(environ.get("HTTP_AUTHORIZATION", "").encode()).hexdigest()
        with self._lock:
            usage = self._usage.setdefault(caller, _CallerUsage())
            now = self.clock()
            usage.forget_before(now - self.limits.window_seconds)
            refusal = self._refusal(usage, now)
            if refusal is None:
                usage.starts.append(now)
                usage.in_flight += 1
        if refusal is not None:
            return self._refuse(refusal, start_response)
        started = self.clock()
        try:
            answer = run_wsgi(self.app, environ)
        finally:
            with self._lock:
                finished = self.clock()
                usage.in_flight -= 1
                usage.executions.append((finished, max(0.0, (finished - started) * 1000.0)))
                burst_left = max(0, self.limits.requests_per_window - len(usage.starts))
                time_left = max(0, round(self.limits.execution_ms_per_window - usage.execution_ms))
        headers = [*answer.headers, (BURST_HEADER, str(burst_left)), (TIME_HEADER, str(time_left))]
        start_response(answer.status, headers)
        return [answer.body]

    def _refusal(self, usage: _CallerUsage, now: float) -> Refusal | None:
        limits = self.limits
        if usage.in_flight >= limits.max_concurrent:
            return Refusal(THROTTLE_CONCURRENCY, concurrency_message(limits), self._retry_after(1.0))
        if len(usage.starts) >= limits.requests_per_window:
            # One more fits once this many of the oldest requests have left the window.
            excess = len(usage.starts) - limits.requests_per_window
            drains_at = usage.starts[excess] + limits.window_seconds
            return Refusal(THROTTLE_REQUESTS, requests_message(limits), self._retry_after(drains_at - now))
        if usage.execution_ms >= limits.execution_ms_per_window:
            drains_at = self._time_drains_at(usage)
            return Refusal(THROTTLE_TIME, time_message(limits), self._retry_after(drains_at - now))
        return None

    def _time_drains_at(self, usage: _CallerUsage) -> float:
        """When enough execution time has left the window to go below the limit."""
        total = usage.execution_ms
        for finished, ms in usage.executions:
            total -= ms
            if total < self.limits.execution_ms_per_window:
                return finished + self.limits.window_seconds
        return self.clock() + self.limits.window_seconds

    def _retry_after(self, seconds: float) -> int:
        if self.limits.retry_after_seconds is not None:
            return self.limits.retry_after_seconds
        return max(1, math.ceil(seconds))

    @staticmethod
    def _refuse(refusal: Refusal, start_response: StartResponse) -> Iterable[bytes]:
        return send_error(start_response, "429 Too Many Requests", refusal.code, refusal.message,
                          [("Retry-After", str(refusal.retry_after)), *request_id_headers()])
