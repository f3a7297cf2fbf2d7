"""A running mock tenant as third-party clients see it, a plain-HTTP reader that checks
outcomes independently of the client under test, and ``d365lab mock serve`` run as a
separate process."""

from __future__ import annotations

import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import requests

SERVICE_PATH = "/api/data/v9.2"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long `d365lab mock serve` may take to print its banner before we give up.
SERVE_STARTUP_LIMIT_S = 60.0


@dataclass(frozen=True)
class MockEndpoint:
    """A running mock tenant as a third-party client sees it: a URL and a bearer token."""

    base_url: str
    token: str

    @property
    def service_root(self) -> str:
        """``http://127.0.0.1:<port>/api/data/v9.2``."""
        return self.base_url.rstrip("/") + SERVICE_PATH

    def get(self, path: str, params: dict[str, str] | None = None) -> requests.Response:
        """GET a service-relative path (``leads(<id>)``) with the standard OData headers."""
        return requests.get(
            f"{self.service_root}/{path.lstrip('/')}",
            params=params,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "OData-MaxVersion": "4.0",
                "OData-Version": "4.0",
            },
            timeout=30,
        )

    def read(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET and return the JSON body; fails the test unless the answer is 200."""
        response = self.get(path, params)
        assert response.status_code == 200, f"GET {path} -> {response.status_code}: {response.text[:300]}"
        body = response.json()
        assert isinstance(body, dict)
        return body

    def rows(self, entity_set: str, filter_: str, select: str) -> list[dict[str, Any]]:
        """The rows of ``entity_set`` matching an OData filter."""
        value = self.read(entity_set, {"$filter": filter_, "$select": select})["value"]
        assert isinstance(value, list)
        return value


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_by_cli(db: str, *options: str) -> Iterator[MockEndpoint]:
    """``d365lab mock serve --db DB [OPTIONS]`` run as a user runs it (a separate process, stopped on exit)."""
    port = _free_loopback_port()
    token = secrets.token_urlsafe(18)
    command = [sys.executable, "-c", "from d365lab.cli import main; main()",
               "mock", "serve", "--port", str(port), "--db", db, "--token", token, *options]
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
