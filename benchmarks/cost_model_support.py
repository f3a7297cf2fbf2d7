"""Shared by the cost-model benchmarks: a mock tenant with the server cost model in a child process.

The child is ``d365lab mock serve --cost-model NAME --cost-scale F --db :memory:`` without a
token (any bearer token is accepted), so each benchmark user (one token each) has a
service-protection budget of its own, as application users do on a real tenant. A response
hook sums what each client measured.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from backlog_import import ProcessServer  # noqa: E402


class CostServer(ProcessServer):
    """``d365lab mock serve`` with a cost model, in a child process."""

    def __init__(self, model: str = "realistic", scale: float = 0.1) -> None:
        super().__init__("--cost-model", model, "--cost-scale", str(scale), token=None, start_timeout=60)

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
