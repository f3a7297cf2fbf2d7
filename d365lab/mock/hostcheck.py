"""The ``Host`` header must name the address the mock tenant listens on (DNS-rebinding guard).

The tenant reflects the ``Host`` header into ``@odata.context``, ``@odata.nextLink``,
``OData-EntityId`` and ``WWW-Authenticate``. A web page whose host name an attacker
re-points at 127.0.0.1 could otherwise drive a loopback tenant from the user's browser
(``mock serve`` accepts any token by default). On loopback, :class:`HostCheck` accepts only
``localhost``, ``127.0.0.1``, ``[::1]`` and the bound host, with the bound port; anything
else is 400 in the Dataverse envelope before the app sees the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from d365lab.mock.wsgi import StartResponse, WsgiApp, send_error

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
BAD_HOST = "0x80040203"


def split_host(header: str) -> tuple[str, int | None]:
    """``"127.0.0.1:8765"`` -> ``("127.0.0.1", 8765)``; ``"[::1]:80"`` -> ``("[::1]", 80)``; no port -> None.

    >>> split_host("localhost")
    ('localhost', None)
    """
    text = header.strip().lower()
    name, sep, port = text.rpartition(":")
    if not sep or "]" in port or not name:
        return text, None
    return (name, int(port)) if port.isdigit() and len(port) <= 5 else (text, -1)


class HostCheck:
    """WSGI middleware: refuse a request whose ``Host`` is not this server's address.

    ``bound_host`` is the host the server listens on; ``port`` returns the bound port (known
    only once the socket is bound, e.g. for port 0).
    """

    def __init__(self, app: WsgiApp, bound_host: str, port: Callable[[], int]) -> None:
        self.app = app
        self.names = _LOOPBACK_NAMES | {bound_host.lower(), f"[{bound_host.lower()}]"}
        self.port = port

    def allowed(self, header: str) -> bool:
        """True when ``header`` names this server (a name above, and the bound port or none for 80)."""
        name, port = split_host(header)
        bound = self.port()
        return name in self.names and (port == bound or (port is None and bound == 80))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Pass the request on, or answer 400 without echoing the header anywhere."""
        header = str(environ.get("HTTP_HOST", ""))
        if self.allowed(header):
            return self.app(environ, start_response)
        return send_error(start_response, "400 Bad Request", BAD_HOST,
                          "The Host header does not name this mock tenant's address (requests must be sent "
                          f"to 127.0.0.1 or localhost on port {self.port()}).")
