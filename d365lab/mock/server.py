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
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from waitress.server import create_server

from d365lab.mock.app import MockApp, create_app
from d365lab.mock.header_casing import preserve_header_case
from d365lab.mock.settings import MockSettings

DB_ENV = "D365LAB_MOCK_DB"
_log = logging.getLogger(__name__)
THREADS = 8
#: Where the embedded server's waitress task queue logs: errors only (queue-depth warnings are
#: normal under parallel requests). ``serve`` keeps waitress's own logger.
_EMBEDDED_QUEUE_LOG = logging.getLogger("waitress.queue.embedded")
_EMBEDDED_QUEUE_LOG.setLevel(logging.ERROR)


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
        server = create_server(app, host=host, port=port, threads=THREADS, ident="d365lab-mock")
    except BaseException:
        app.close()
        raise
    preserve_header_case(server)
    # Commands print their own output while the embedded tenant serves them; a burst of
    # parallel requests (bulk imports, labs) would add waitress's "Task queue depth" warnings.
    server.task_dispatcher.queue_logger = _EMBEDDED_QUEUE_LOG
    thread = threading.Thread(target=_run_quietly, args=(server,), name="d365lab-mock-server", daemon=True)
    thread.start()
    actual_port = server.effective_port
    return RunningServer(f"http://{host}:{actual_port}", token, app, server, thread)


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
        server = create_server(app, host=host, port=port, threads=THREADS, ident="d365lab-mock")
    except OSError as exc:
        app.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, f"port {port} is already in use") from None
        raise
    preserve_header_case(server)
    print(f"d365lab mock tenant: http://{host}:{server.effective_port}/api/data/v9.2/  (database: {path})",
          flush=True)
    if effective.token is None:
        print("WARNING: no token configured -- ANY bearer token is accepted. Use --token to require one.",
              flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.close()
