"""Shared by the cost-model benchmarks: a mock tenant with the server cost model in a child process.

The child is ``d365lab mock serve --cost-model NAME --cost-scale F --db :memory:`` without a
token (any bearer token is accepted), so each benchmark user (one token each) has a
service-protection budget of its own, as application users do on a real tenant. A response
hook sums what each client measured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]


class CostServer:
    """``d365lab mock serve`` with a cost model, in a child process."""

    def __init__(self, model: str = "realistic", scale: float = 0.1) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        code = "import sys; from d365lab.cli import main; sys.argv[0] = 'd365lab'; main()"
        self.proc = subprocess.Popen([sys.executable, "-c", code, "mock", "serve", "--port", str(port),
                                      "--db", ":memory:", "--cost-model", model, "--cost-scale", str(scale)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("mock server process did not start")

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (Linux ``/proc``; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Terminate the child process."""
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> CostServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Measured:
    """Sums, over every response a session receives: count, statuses, measured milliseconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses = 0
        self.throttled = 0
        self.elapsed_ms = 0.0

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A requests response hook."""
        with self.lock:
            self.responses += 1
            self.throttled += response.status_code == 429
            self.elapsed_ms += response.elapsed.total_seconds() * 1000.0

    def attach(self, session: requests.Session) -> None:
        """Observe ``session``."""
        session.hooks["response"].append(self.hook)
