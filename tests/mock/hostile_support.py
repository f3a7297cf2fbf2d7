"""Raw WSGI requests for the hostile-input tests: bytes the ``requests`` library would refuse to send.

``send(app, "GET", "leads", query="$filter=...", body=b"...")`` builds a WSGI environ as
a server would (``PATH_INFO`` as latin-1 characters of the raw bytes, the query string
as sent) and returns a :class:`~d365lab.mock.wsgi.WsgiAnswer`.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any
from urllib.parse import quote

from d365lab.mock.wsgi import WsgiAnswer, WsgiApp, run_wsgi

TOKEN = "test-token"
SERVICE = "/api/data/v9.2/"


def environ_for(method: str, path: str | bytes, *, query: str | bytes = "", body: bytes = b"",
                headers: dict[str, str] | None = None, host: str = "mock.d365lab.test") -> dict[str, Any]:
    """A WSGI environ for ``path`` under the service root (``path`` raw: not percent-decoded again)."""
    raw_path = path if isinstance(path, bytes) else path.encode("utf-8", "surrogatepass")
    raw_query = query if isinstance(query, bytes) else query.encode("utf-8", "surrogatepass")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": (SERVICE.encode() + raw_path).decode("latin-1"),
        "QUERY_STRING": raw_query.decode("latin-1"),
        "SERVER_NAME": host,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": host,
        "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ["CONTENT_TYPE" if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


def send(app: WsgiApp, method: str, path: str | bytes, *, query: str | bytes = "", body: bytes = b"",
         headers: dict[str, str] | None = None) -> WsgiAnswer:
    """Run one raw request through ``app``."""
    return run_wsgi(app, environ_for(method, path, query=query, body=body, headers=headers))


def option(name: str, value: str) -> str:
    """``name=value`` percent-encoded for a query string (surrogates kept as their UTF-8 bytes)."""
    return f"{name}={quote(value.encode('utf-8', 'surrogatepass'), safe='')}"


def envelope(answer: WsgiAnswer) -> dict[str, Any]:
    """The ``error`` object of an answer, asserting it is the Dataverse error envelope."""
    body = json.loads(answer.body)
    assert isinstance(body, dict) and set(body) == {"error"}, answer.body[:300]
    error = body["error"]
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), error
    return dict(error)


def assert_client_error(answer: WsgiAnswer, status: int = 400) -> dict[str, Any]:
    """The answer is ``status`` with the error envelope; return the error object."""
    assert answer.status_code == status, (answer.status, answer.body[:500])
    return envelope(answer)
