"""WSGI plumbing shared by the mock's middlewares and its in-process router.

The throttling and fault middlewares and the ``responses`` router all run the tenant app
to the end to look at its answer, and the two middlewares answer some requests with an
error envelope of their own; this module does both once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from d365lab.mock.wire import JSON_CONTENT_TYPE

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class WsgiAnswer:
    """What a WSGI app answered: status line (``"200 OK"``), headers and the whole body."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_code(self) -> int:
        """The numeric HTTP status."""
        return int(self.status.split(" ", 1)[0])


def run_wsgi(app: WsgiApp, environ: dict[str, Any]) -> WsgiAnswer:
    """Run ``app`` on ``environ`` to the end (its body read and closed, as a server would)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _chunk: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return WsgiAnswer(captured["status"], list(captured["headers"]), body)


def send_error(start_response: StartResponse, status: str, code: str, message: str,
               headers: Sequence[tuple[str, str]] = ()) -> Iterable[bytes]:
    """Answer with the Dataverse error envelope ``{"error": {"code", "message"}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start_response(status, [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("OData-Version", "4.0"),
        *headers,
        ("Content-Length", str(len(body))),
    ])
    return [body]
