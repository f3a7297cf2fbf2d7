"""Serve a mock tenant over real HTTP with waitress.

>>> running = start_background()          # doctest: +SKIP
>>> running.base_url, running.token       # doctest: +SKIP
('http://127.0.0.1:53817', '…')
>>> running.stop()                        # doctest: +SKIP

``serve`` runs in the foreground (the ``d365lab mock serve`` command);
``start_background`` runs on a daemon thread on a free loopback port and requires a
random bearer token unless the settings name one.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.utilities import BadRequest

from d365lab.mock.app import MockApp, create_app
from d365lab.mock.header_casing import CasePreservingChannel
from d365lab.mock.hostcheck import HostCheck
from d365lab.mock.settings import MockSettings

DB_ENV = "D365LAB_MOCK_DB"
_log = logging.getLogger(__name__)
THREADS = 8
#: Where waitress's task queue logs: errors only. Its "Task queue depth is n" warnings are normal
#: when a client sends parallel requests (bulk imports, labs), for the embedded and served tenant.
_QUIET_QUEUE_LOG = logging.getLogger("waitress.queue.d365lab")
_QUIET_QUEUE_LOG.setLevel(logging.ERROR)
#: A line feed not preceded by a carriage return, or a control character no HTTP header holds.
_MALFORMED_HEAD = re.compile(rb"(?<!\r)\n|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: What a request line starts with (a method token); TLS handshakes and binary junk do not.
_REQUEST_START = re.compile(rb"[\r\n]*[A-Za-z]")


def default_db_path() -> str:
    """The embedded tenant's database: ``$D365LAB_MOCK_DB`` or the user data dir.

    ``D365LAB_MOCK_DB`` may be a path or ``:memory:``; the default is
    ``platformdirs.user_data_dir("d365lab")/mock-tenant.sqlite`` (its folder is created).
    """
    configured = os.environ.get(DB_ENV)
    if configured:
        return configured
    folder = Path(platformdirs.user_data_dir("d365lab"))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "mock-tenant.sqlite")


class MockDatabaseError(Exception):
    """The mock tenant's SQLite file cannot be used (missing folder, not a database, no permission)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot open database {path} ({reason})")


class PortInUseError(OSError):
    """Another program already listens on the port ``serve`` was asked to use."""


def open_app(db_path: str, settings: MockSettings | None = None) -> MockApp:
    """:func:`create_app`, with an unusable database file reported as :class:`MockDatabaseError`."""
    try:
        return create_app(db_path, settings)
    except (OSError, sqlite3.Error) as exc:
        raise MockDatabaseError(db_path, str(exc) or type(exc).__name__) from None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    """Refuse a non-loopback bind unless remote access is allowed AND a token is set."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ValueError(f"refusing to serve the mock tenant on {host}: pass allow_remote=True "
                         "(--allow-remote) to listen beyond loopback")
    if not token:
        raise ValueError(f"refusing to serve the mock tenant on {host} without a token: "
                         "set a bearer token (--token) so other machines cannot use it freely")


class StrictLineEndingParser(HTTPRequestParser):  # type: ignore[misc]
    """waitress's request parser, answering 400 at once to a header that can never be valid.

    waitress waits for the CRLF CRLF that ends a header; a client that ends its lines with
    LF alone (or sends TLS or binary data) never sends one, and the connection would hang
    until the channel timeout (120 s). The answer is waitress's own plain-text ``400 Bad Request`` (the request never
    reaches the app, so it is not the JSON envelope), and the connection is closed.
    """

    completed: bool
    header_plus: bytes
    body_rcv: Any
    error: Any

    def received(self, data: bytes) -> int:
        """Consume bytes of one request (see :meth:`HTTPRequestParser.received`)."""
        if self.body_rcv is None and not self.completed:
            pending: bytes = self.header_plus + data
            end = pending.find(b"\r\n\r\n")
            head = pending if end < 0 else pending[:end]
            problem = _head_problem(head)
            if problem is not None:
                self.parse_header(b"GET / HTTP/1.0\r\n")
                self.error = BadRequest(problem)
                self.completed = True
                return len(data)
        consumed: int = super().received(data)
        return consumed


def _head_problem(head: bytes) -> str | None:
    """Why the start of a request can never become a valid header (None when it still may)."""
    if head.strip(b"\r\n") and _REQUEST_START.match(head) is None:
        return "not an HTTP request (TLS or binary data sent to a plain-HTTP port?)"
    found = _MALFORMED_HEAD.search(head)
    if found is None:
        return None
    if found.group() == b"\n":
        return "bare LF line ending: HTTP/1.1 header lines end with CRLF"
    return "control character in the request header"


class StrictChannel(CasePreservingChannel):
    """A waitress channel whose requests are parsed by :class:`StrictLineEndingParser` and whose
    answers keep the app's header-name spellings (:mod:`d365lab.mock.header_casing`)."""

    parser_class = StrictLineEndingParser


def worker_threads(settings: MockSettings) -> int:
    """Waitress worker threads: with the cost model on, enough for every caller's concurrency limit to wait at once."""
    if not settings.cost.enabled:
        return THREADS
    return max(THREADS, settings.throttle.max_concurrent + 12)


def _create_server(app: MockApp, host: str, port: int, *, check_host: bool) -> Any:
    """A waitress server for ``app`` (strict line endings, quiet queue; Host checked when asked)."""
    wsgi: Any = app
    if check_host:
        wsgi = HostCheck(app, host, lambda: int(server.effective_port))
    server = create_server(wsgi, host=host, port=port, threads=worker_threads(app.settings), ident="d365lab-mock")
    server.channel_class = StrictChannel
    server.task_dispatcher.queue_logger = _QUIET_QUEUE_LOG
    return server


@dataclass
class RunningServer:
    """A mock tenant served on a background thread."""

    base_url: str
    token: str
    app: MockApp
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving, close open connections and the database."""
        server = self._server
        channels = server._map  # the event loop's socket map (server, connections, trigger)

        def close_all() -> None:
            # Runs on the loop thread: closing sockets from here cannot race its select().
            for channel in list(channels.values()):
                try:
                    channel.close()
                except OSError:  # already closed by its peer
                    pass

        if self._thread.is_alive():
            try:
                server.trigger.pull_trigger(close_all)
            except OSError:  # the trigger is gone: nothing can race us any more
                close_all()
            self._thread.join(timeout=5)
        else:
            close_all()
        server.task_dispatcher.shutdown()
        self.app.close()


def _run_quietly(server: Any) -> None:
    """The event loop of a background server; a loop torn down by ``stop`` ends quietly."""
    try:
        server.run()
    except OSError as exc:  # a socket closed under the loop while stopping
        if server.socket.fileno() != -1:
            _log.warning("mock server loop ended: %s", exc)


def start_background(db_path: str = ":memory:", settings: MockSettings | None = None, *,
                     host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a tenant on a free loopback port from a daemon thread.

    When ``settings.token`` is None a random token is generated and required. Raises
    :class:`MockDatabaseError` when ``db_path`` cannot be used.
    """
    base = settings if settings is not None else MockSettings.model_validate({})
    token = base.token or secrets.token_urlsafe(24)
    # A shallow copy: nested throttle/fault settings stay shared, so a caller can still tune them.
    effective = base.model_copy(update={"token": token})
    check_bind(host, allow_remote=False, token=token)
    app = open_app(db_path, effective)
    try:
        server = _create_server(app, host, port, check_host=True)
    except BaseException:
        app.close()
        raise
    thread = threading.Thread(target=_run_quietly, args=(server,), name="d365lab-mock-server", daemon=True)
    thread.start()
    actual_port = server.effective_port
    return RunningServer(f"http://{host}:{actual_port}", token, app, server, thread)


def describe_protection(settings: MockSettings) -> list[str]:
    """One line each for service protection and fault injection when they are on."""
    lines: list[str] = []
    throttle, faults = settings.throttle, settings.faults
    if throttle.enabled:
        lines.append(f"service protection: {throttle.requests_per_window} requests and "
                     f"{throttle.execution_ms_per_window} ms of execution per {throttle.window_seconds:g} s, "
                     f"{throttle.max_concurrent} concurrent requests per caller")
    cost = settings.cost
    if cost.enabled:
        lines.append(f"server cost model: {cost.name} at scale {cost.scale:g} "
                     f"(x-ms-dop-hint {settings.dop_hint}, {worker_threads(settings)} worker threads)")
    if faults.error_rate or faults.drop_rate or faults.latency_ms:
        lines.append(f"fault injection (seed {faults.seed}): {faults.error_rate:g} errors (503), "
                     f"{faults.drop_rate:g} dropped connections, {faults.latency_ms:g} ms added latency")
    return lines


def serve(host: str = "127.0.0.1", port: int = 8765, db_path: str | None = None,
          settings: MockSettings | None = None, *, allow_remote: bool = False) -> None:
    """Serve a tenant in the foreground until interrupted.

    The database is opened and the port bound before anything is announced, so a failure
    (:class:`MockDatabaseError`, :class:`PortInUseError`, ``ValueError`` for a refused
    host) never follows a "serving at" line.
    """
    effective = settings if settings is not None else MockSettings.model_validate({})
    check_bind(host, allow_remote, effective.token)
    path = db_path or default_db_path()
    app = open_app(path, effective)
    try:
        server = _create_server(app, host, port, check_host=is_loopback(host))
    except OSError as exc:
        app.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, f"port {port} is already in use") from None
        raise
    print(f"d365lab mock tenant: http://{host}:{server.effective_port}/api/data/v9.2/  (database: {path})",
          flush=True)
    if effective.token is None:
        print("WARNING: no token configured -- ANY bearer token is accepted. Set D365LAB_MOCK_TOKEN "
              "(or --token) to require one.", flush=True)
    for line in describe_protection(effective):
        print(line, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.close()
