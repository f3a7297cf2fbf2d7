"""The mock over real HTTP under hostile or sloppy clients (issue 11).

HEAD answers carry no body (keep-alive stays in sync), bare-LF requests are answered at
once, the Host header must name the server (DNS rebinding), tokens come from the
environment and are compared in constant time, ``mock serve`` exposes throttling and
fault injection and keeps waitress's queue warnings quiet, and a broken handler or
middleware module stops the tenant instead of turning into 404s.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

import d365lab.mock.app as app_module
from d365lab.cli import app as cli_app
from d365lab.mock.app import ExtensionError, create_app
from d365lab.mock.server import RunningServer, start_background

SERVICE = "/api/data/v9.2/"


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_background(":memory:")
    yield running
    running.stop()


def _port(running: RunningServer) -> int:
    return int(running.base_url.rsplit(":", 1)[1])


def test_head_has_no_body_and_keep_alive_stays_in_sync(server: RunningServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
    auth = {"Authorization": f"Bearer {server.token}"}
    try:
        for path in ("WhoAmI", "leads?$select=subject", "nothing_here"):
            connection.request("HEAD", SERVICE + path, headers=auth)
            head = connection.getresponse()
            assert head.read() == b""
            connection.request("GET", SERVICE + path, headers=auth)
            get = connection.getresponse()
            body = get.read()
            assert head.status == get.status
            assert int(head.headers["Content-Length"]) == len(body)
            assert isinstance(json.loads(body), dict)
    finally:
        connection.close()


def _raw_exchange(port: int, request: bytes, timeout: float = 5) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


@pytest.mark.parametrize("request_bytes", [
    b"GET /api/data/v9.2/WhoAmI HTTP/1.1\nHost: 127.0.0.1\n\n",
    b"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nHost: 127.0.0.1\n\n",
    b"GET /api/data/v9.2/WhoAmI HTTP/1.1\nHost: 127.0.0.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                     # a TLS ClientHello on plain HTTP
    b"GET /api/data/v9.2/WhoAmI HTTP/1.1\r\nHost: 127.0.0.1\r\nX: \x01",  # a control character, unfinished
])
def test_headers_that_can_never_complete_are_answered_400_at_once(server: RunningServer, request_bytes: bytes) -> None:
    answer, elapsed = _raw_exchange(_port(server), request_bytes)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:200]
    assert elapsed < 4


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil:{port}", ""])
def test_foreign_host_headers_are_refused_and_never_reflected(server: RunningServer, host: str) -> None:
    port = _port(server)
    header = host.format(port=port)
    answer = requests.get(server.base_url + SERVICE + "leads",
                          headers={"Authorization": f"Bearer {server.token}", "Host": header}, timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] and "Host header" in error["message"]
    assert "evil" not in answer.text and "WWW-Authenticate" not in answer.headers


def test_loopback_names_with_the_bound_port_are_accepted(server: RunningServer) -> None:
    port = _port(server)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        answer = requests.get(server.base_url + SERVICE + "WhoAmI",
                              headers={"Authorization": f"Bearer {server.token}", "Host": host}, timeout=10)
        assert answer.status_code == 200, (host, answer.text)


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = app_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    running = start_background(":memory:")
    try:
        url = running.base_url + SERVICE + "WhoAmI"
        assert requests.get(url, headers={"Authorization": "Bearer guess"}, timeout=10).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer caf\u00e9".encode()}, timeout=10).status_code == 401
        assert requests.get(url, headers={"Authorization": f"Bearer {running.token}"}, timeout=10).status_code == 200
    finally:
        running.stop()
    assert (b"guess", running.token.encode()) in compared and len(compared) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    command = [sys.executable, "-c", "from d365lab.cli import main; main()",
               "mock", "serve", "--port", str(port), "--db", ":memory:", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}{SERVICE}"
    for _ in range(150):
        try:
            requests.get(url, timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("mock serve did not start: " + (process.communicate()[0] or ""))


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


def test_serve_takes_the_token_from_the_environment_and_throttles_on_request() -> None:
    process, url = _serve(["--throttle-requests", "40", "--throttle-window", "600"],
                          {"D365LAB_MOCK_TOKEN": "env-secret"})
    try:
        assert requests.get(url + "WhoAmI", headers={"Authorization": "Bearer other"}, timeout=10).status_code == 401
        auth = {"Authorization": "Bearer env-secret"}

        def call(_: int) -> int:
            return requests.get(url + "WhoAmI", headers=auth, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(call, range(48)))
    finally:
        output = _stop(process)
    assert statuses.count(200) >= 1 and statuses.count(429) >= 8, statuses
    assert set(statuses) <= {200, 429}
    assert "env-secret" not in output
    assert "service protection: 40 requests" in output
    assert "Task queue depth" not in output


def test_serve_injects_faults_on_request() -> None:
    process, url = _serve(["--token", "t", "--fault-error-rate", "1", "--fault-seed", "3"], {})
    try:
        answer = requests.get(url + "WhoAmI", headers={"Authorization": "Bearer t"}, timeout=10)
    finally:
        output = _stop(process)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "0x80040216"
    assert "fault injection (seed 3): 1 errors (503)" in output


def test_serve_refuses_bad_protection_options() -> None:
    result = CliRunner().invoke(cli_app, ["mock", "serve", "--db", ":memory:", "--fault-error-rate", "2"])
    assert result.exit_code == 2 and "--fault-error-rate" in result.output


def _broken_extension(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import d365lab.mock.handlers as handlers

    (tmp_path / "zz_broken_handler.py").write_text("raise ImportError('a dependency is missing')\n")
    monkeypatch.setattr(handlers, "__path__", [*handlers.__path__, str(tmp_path)])
    monkeypatch.setattr(app_module, "_EXTENSIONS_LOADED", False)


def test_a_handler_module_that_fails_to_import_stops_the_tenant(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    _broken_extension(monkeypatch, tmp_path)
    with pytest.raises(ExtensionError, match="zz_broken_handler failed to import: ImportError: a dependency"):
        create_app(":memory:")
    result = CliRunner().invoke(cli_app, ["mock", "serve", "--db", ":memory:", "--port", str(_free_port())])
    assert result.exit_code == 2
    assert "error: the mock tenant cannot start: module d365lab.mock.handlers.zz_broken_handler" in result.output


def test_a_middleware_module_that_fails_to_import_stops_the_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = app_module.importlib.import_module

    def failing(name: str, package: str | None = None) -> object:
        if name == "d365lab.mock.faults":
            raise SyntaxError("invalid syntax (faults.py, line 1)")
        return real_import(name, package)

    monkeypatch.setattr(app_module.importlib, "import_module", failing)
    with pytest.raises(ExtensionError, match=r"d365lab\.mock\.faults failed to import: SyntaxError"):
        create_app(":memory:")
