"""Fixtures shared by the third-party client tests: a fresh loopback mock tenant per test."""

from __future__ import annotations

import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from thirdparty_mock import MockEndpoint

if TYPE_CHECKING:
    from tls_mock import HttpsMock

REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long `d365lab mock serve` may take to print its banner before the fixture gives up.
SERVE_STARTUP_LIMIT_S = 60.0


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep loopback traffic off any HTTP proxy configured in the environment (requests honours no_proxy)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def mock_endpoint() -> Iterator[MockEndpoint]:
    """A fresh in-memory mock tenant served over loopback HTTP for one test."""
    from d365lab.mock.server import start_background

    running = start_background(":memory:")
    try:
        yield MockEndpoint(base_url=running.base_url, token=running.token)
    finally:
        running.stop()


@pytest.fixture
def https_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsMock]:
    """A fresh mock tenant over https with a self-signed certificate that requests trusts."""
    from tls_mock import serve_mock_over_https

    with serve_mock_over_https(tmp_path) as served:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(served.ca_file))
        yield served


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def cli_served_endpoint() -> Iterator[MockEndpoint]:
    """``d365lab mock serve`` run as a user runs it (a separate process), with an in-memory tenant."""
    port = _free_loopback_port()
    token = secrets.token_urlsafe(18)
    command = [sys.executable, "-c", "from d365lab.cli import main; main()",
               "mock", "serve", "--port", str(port), "--db", ":memory:", "--token", token]
    with tempfile.TemporaryFile(mode="w+") as stderr_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr_file, text=True)
        yield from _serving(process, port, token, stderr_file)


def _serving(
    process: subprocess.Popen[str], port: int, token: str, stderr_file: IO[str],
) -> Iterator[MockEndpoint]:
    try:
        banner = _wait_for_banner(process, stderr_file)
        assert f"http://127.0.0.1:{port}/api/data/v9.2/" in banner, banner
        yield MockEndpoint(base_url=f"http://127.0.0.1:{port}", token=token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_banner(process: subprocess.Popen[str], stderr_file: IO[str]) -> str:
    """The first stdout line of the server (its URL banner); fails the test if it never comes."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + SERVE_STARTUP_LIMIT_S
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line:
                    return line
            if process.poll() is not None:
                stderr_file.seek(0)
                stderr = stderr_file.read()
                pytest.fail(f"d365lab mock serve exited with {process.returncode}: {stderr[-2000:]}")
    pytest.fail(f"d365lab mock serve printed nothing within {SERVE_STARTUP_LIMIT_S:.0f} s")
