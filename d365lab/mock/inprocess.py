"""Route ``requests`` calls into a mock tenant's WSGI app, in-process (no sockets).

>>> from d365lab.mock.app import create_app                       # doctest: +SKIP
>>> with route_requests(create_app(), "https://mock.d365lab.test"):  # doctest: +SKIP
...     requests.get("https://mock.d365lab.test/api/data/v9.2/WhoAmI",
...                  headers={"Authorization": "Bearer x"}).json()

Each request becomes a real WSGI environ, so the app sees exactly what a server would
hand it. A response carrying ``X-D365Lab-Mock-Drop`` (the fault middleware's signal for a
dropped connection) raises :class:`requests.ConnectionError` instead.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import responses

from d365lab.mock.faults import DROP_HEADER
from d365lab.mock.wire import SERVICE_PATH
from d365lab.mock.wsgi import WsgiApp, run_wsgi

_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS")


def build_environ(request: requests.PreparedRequest) -> dict[str, Any]:
    """A WSGI environ for a prepared request."""
    parts = urlsplit(request.url or "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = b"".join(body)  # generator bodies
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": (request.method or "GET").upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO is the decoded path as latin-1 characters of the UTF-8 bytes.
        "PATH_INFO": unquote(parts.path).encode("utf-8").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = value
    environ.setdefault("HTTP_HOST", parts.netloc)
    return environ


def call_wsgi(app: WsgiApp, request: requests.PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through a WSGI app; return status, headers and body."""
    answer = run_wsgi(app, build_environ(request))
    return answer.status_code, answer.headers, answer.body


@contextmanager
def route_requests(app: WsgiApp, base_url: str) -> Iterator[responses.RequestsMock]:
    """While active, every ``requests`` call under ``base_url`` is answered by ``app``.

    Yields the :class:`responses.RequestsMock` (tests may add other routes to it).
    """
    root = base_url.rstrip("/")
    pattern = re.compile(re.escape(root) + r"(/.*)?$")

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes | Exception]:
        status, headers, body = call_wsgi(app, request)
        names = {name.lower() for name, _ in headers}
        if DROP_HEADER.lower() in names:
            return status, {}, requests.ConnectionError(
                f"Connection aborted: the mock tenant dropped {request.method} {request.url}")
        merged: dict[str, str] = {}
        for name, value in headers:
            if name.lower() == "content-length":
                continue
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return status, merged, body

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in _METHODS:
            mock.add_callback(method, pattern, callback=callback, content_type=None)
        yield mock


class ServiceRootSession(requests.Session):
    """A ``requests.Session`` whose relative URLs are resolved against a service root.

    ``session.post("leads", json=...)`` goes to ``<base_url>/api/data/v9.2/leads``; a
    bearer token is sent with every request.
    """

    def __init__(self, base_url: str, token: str = "mock-token") -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.service_root = self.base_url + SERVICE_PATH + "/"
        self.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        })

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request; a URL without a scheme is relative to the service root."""
        text = url.decode() if isinstance(url, bytes) else url
        if not re.match(r"^[a-z]+://", text):
            text = self.service_root + text.lstrip("/")
        return super().request(method, text, *args, **kwargs)
