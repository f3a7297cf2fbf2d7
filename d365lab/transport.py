"""HTTP transport: one pooled ``requests.Session``, OData headers, retries and throttling.

* Every call carries ``x-ms-client-request-id`` (the same id on each retry of one call).
* 429: waits ``Retry-After`` seconds, and every thread using this transport waits too
  (a shared "paused until" instant behind a lock), because the limit is per user.
* 502/503/504 and connection errors: capped exponential backoff; a host name that does not
  resolve fails at once ("cannot resolve"). Requests that are not
  idempotent (actions) are retried only when they cannot have run (429, 503, connect failure).
* A total-wait cap bounds the time one call may spend sleeping.
* 401: the token is refreshed once and the call retried once.
* ``x-ms-dop-hint`` is read from every response (:attr:`Transport.recommended_parallelism`).
* ``logging`` under ``d365lab.http`` with the ``Authorization`` header redacted.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter

from d365lab import __version__
from d365lab.auth import TokenProvider
from d365lab.config import API_PATH
from d365lab.errors import (
    ClientValidationError,
    DataverseError,
    ThrottledError,
    TransportError,
    error_from_response,
    parse_retry_after,
)
from d365lab.webapi.request import Answer, Request

T = TypeVar("T")

log = logging.getLogger("d365lab.http")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_SECRET_PAIR = re.compile(r"((?:client_secret|password|access_token|refresh_token)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,]+",
                          re.IGNORECASE)


def redact(text: str) -> str:
    """Replace bearer tokens and ``secret=...`` pairs in ``text`` with ``<redacted>``."""
    return _SECRET_PAIR.sub(r"\1<redacted>", _BEARER.sub(r"\1<redacted>", text))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credentials removed, safe to log."""
    return {k: ("<redacted>" if k.lower() in ("authorization", "cookie", "set-cookie") else v)
            for k, v in headers.items()}


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs bearer tokens and secrets from the records of the logger it is attached to."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted."""
        record.msg = redact(record.getMessage())
        record.args = None
        return True


log.addFilter(RedactingFilter())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: attempts per call, the cap on total sleeping, and backoff shape."""

    max_attempts: int = 6
    max_total_wait: float = 300.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based): base * 2^(n-1), capped."""
        return float(min(self.backoff_cap, self.backoff_base * (2 ** max(retry_number - 1, 0))))


def _is_connect_failure(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        return isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))
    return False


def _is_name_resolution_failure(exc: requests.RequestException) -> bool:
    """True when the host name does not resolve (DNS): retrying within seconds will not change that."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NameResolutionError) or isinstance(
        getattr(reason, "__cause__", None), socket.gaierror)


class Transport:
    """Sends Web API requests for one environment; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], None] = time.sleep,
        pool_size: int = 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_root = f"{self.base_url}{API_PATH}/"
        self.tokens = tokens
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.clock = clock
        self.sleeper = sleeper
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "User-Agent": f"d365lab/{__version__}",
        })
        self._counter_lock = threading.Lock()
        self._request_count = 0
        self._pause_lock = threading.Lock()
        self._paused_until = 0.0
        self._dop_hint: int | None = None

    # ------------------------------------------------------------------ properties
    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._counter_lock:
            return self._request_count

    @property
    def recommended_parallelism(self) -> int:
        """The service's ``x-ms-dop-hint`` (1 until a response carried one)."""
        return max(self._dop_hint or 1, 1)

    def url_for(self, path: str) -> str:
        """Absolute URL of ``path`` (relative to the service root); absolute URLs must stay on this environment."""
        if path.startswith(("http://", "https://")):
            if not path.startswith(self.service_root):
                raise ClientValidationError(f"refusing to send credentials to {path!r}: it is not under "
                                            f"{self.service_root}")
            return path
        return self.service_root + path.lstrip("/")

    # ------------------------------------------------------------------ throttling
    def pause_all(self, seconds: float) -> None:
        """Hold every request of this transport for ``seconds`` from now."""
        with self._pause_lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def _wait_while_paused(self, budget: float, method: str, url: str) -> float:
        """Sleep until the shared pause ends; refuse to sleep past this call's remaining budget."""
        waited = 0.0
        while True:
            with self._pause_lock:
                until = self._paused_until
            remaining = until - self.clock()
            if remaining <= 0:
                return waited
            if waited + remaining > budget:
                raise ThrottledError(f"requests are paused for {remaining:.0f} more seconds after a 429, longer "
                                     "than this call may wait (RetryPolicy.max_total_wait)", status=429,
                                     method=method, url=url, retry_after=remaining)
            self.sleeper(remaining)
            waited += remaining

    def _count(self) -> None:
        with self._counter_lock:
            self._request_count += 1

    # ------------------------------------------------------------------ sending
    def send(self, request: Request[T]) -> T:
        """Send a request value (with retries) and return its decoded answer.

        An error goes to ``request.recover`` when the request has one (which returns a result
        or raises the error again).
        """
        accept = request.accept
        try:
            response = self.request(request.method, request.path, query=request.query, data=request.encoded_body(),
                                    headers=request.headers or None, idempotent=request.idempotent,
                                    accept=None if accept is None else (lambda r: accept(answer_of(r))))
        except DataverseError as exc:
            if request.recover is None:
                raise
            return request.recover(exc)
        return request.decode(answer_of(response))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        accept: Callable[[requests.Response], bool] | None = None,
    ) -> requests.Response:
        """Send one request with retries; return the response or raise a :class:`DataverseError`.

        ``query`` is an already encoded query string (see :mod:`d365lab.odata`); ``data`` the
        encoded body. ``idempotent=False`` limits retries to failures that cannot have run.
        ``accept`` lets a caller take an error status itself (``$batch`` answers 4xx with a
        multipart body describing the failed part).
        """
        url = self.url_for(path)
        if query:
            url = f"{url}?{query}"
        client_request_id = str(uuid.uuid4())
        extra = dict(headers or {})
        extra["x-ms-client-request-id"] = client_request_id
        if data is not None and "Content-Type" not in extra:
            extra["Content-Type"] = "application/json; charset=utf-8"
        policy = self.retry
        attempt = 0
        waited = 0.0
        refreshed = False
        ambiguous = False

        def fail(error: DataverseError) -> DataverseError:
            error.ambiguous_retry = ambiguous
            return error

        while True:
            attempt += 1
            waited += self._wait_while_paused(policy.max_total_wait - waited, method, url)
            send_headers = dict(extra)
            send_headers["Authorization"] = f"Bearer {self.tokens.get_token()}"
            started = time.perf_counter()
            try:
                self._count()
                response = self.session.request(method, url, data=data, headers=send_headers, timeout=self.timeout)
            except requests.RequestException as exc:
                if _is_name_resolution_failure(exc):
                    host = urllib3.util.parse_url(url).host
                    raise fail(TransportError(f"cannot resolve the host name {host!r}", method=method, url=url,
                                              client_request_id=client_request_id,
                                              hint=f"check the URL {self.base_url} and the network; " + (
                                                  "an earlier attempt may have been applied" if ambiguous
                                                  else "nothing was sent"))) from exc
                connect_failure = _is_connect_failure(exc)
                delay = policy.backoff(attempt)
                reason = redact(str(exc)) or type(exc).__name__
                if (not idempotent and not connect_failure) or attempt >= policy.max_attempts \
                        or waited + delay > policy.max_total_wait:
                    ambiguous = ambiguous or not connect_failure
                    raise fail(TransportError(f"no response: {reason}", method=method, url=url,
                                              client_request_id=client_request_id)) from exc
                ambiguous = ambiguous or not connect_failure
                log.warning("%s %s: %s; retry %d in %.1fs", method, url, reason, attempt, delay)
                self.sleeper(delay)
                waited += delay
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._read_dop_hint(response)
            status = response.status_code
            log.debug("%s %s -> %d in %.0f ms [client request id %s] headers=%s", method, url, status, elapsed_ms,
                      client_request_id, redact_headers(send_headers))
            if status < 400 or (accept is not None and status not in (401, 429) and accept(response)):
                return response
            if status == 401 and not refreshed:
                refreshed = True
                log.info("%s %s -> 401; refreshing the token and retrying once", method, url)
                self.tokens.invalidate()
                continue
            hint = getattr(self.tokens, "rejected_hint", None) if status == 401 else None
            error = error_from_response(status, response.content, response.headers, method=method, url=url,
                                        client_request_id=client_request_id, hint=hint)
            if status == 429:
                delay = error.retry_after if error.retry_after is not None else policy.backoff(attempt)
                # the limit is per user: other threads must hold off even if this call gives up
                self.pause_all(delay)
                if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait:
                    raise fail(error)
                log.warning("%s %s throttled (%s); all requests pause %.1fs", method, url, error.code, delay)
                continue
            if status in (502, 503, 504) and (idempotent or status == 503):
                delay = parse_retry_after(response.headers.get("Retry-After")) or policy.backoff(attempt)
                if attempt >= policy.max_attempts or waited + delay > policy.max_total_wait:
                    raise fail(error)
                ambiguous = ambiguous or status != 503
                log.warning("%s %s -> %d; retry %d in %.1fs", method, url, status, attempt, delay)
                self.sleeper(delay)
                waited += delay
                continue
            raise fail(error)

    def _read_dop_hint(self, response: requests.Response) -> None:
        value = response.headers.get("x-ms-dop-hint")
        if value and value.strip().isdigit():
            self._dop_hint = int(value.strip())

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def answer_of(response: requests.Response) -> Answer:
    """The :class:`Answer` of an HTTP response."""
    return Answer(response.status_code, response.headers, response.content)
