"""The mock tenant's WSGI app served over https with a throw-away self-signed certificate.

Microsoft's Python SDK refuses ``http://`` base URLs; serving the unmodified mock app over
TLS lets it run without touching any SDK internals. The certificate is generated per use
(EC P-256, ``127.0.0.1``/``localhost``, valid one day) and trusted through
``REQUESTS_CA_BUNDLE`` (Python) or ``NODE_EXTRA_CA_CERTS`` (Node.js).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from thirdparty_mock import MockEndpoint


@dataclass(frozen=True)
class HttpsMock:
    """A running https mock: where it is, its token, and the PEM file that makes it trusted."""

    endpoint: MockEndpoint
    ca_file: Path


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` for 127.0.0.1/localhost into ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d365lab mock tenant (test)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    return cert_file, key_file


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's parameter name
        """Keep request lines out of the test output."""


@contextmanager
def serve_mock_over_https(directory: Path) -> Iterator[HttpsMock]:
    """Serve a fresh in-memory mock tenant on ``https://127.0.0.1:<free port>``."""
    from d365lab.mock.app import create_app
    from d365lab.mock.settings import MockSettings

    token = secrets.token_urlsafe(18)
    app = create_app(":memory:", MockSettings.model_validate({"token": token}))

    def as_https(environ: dict[str, Any], start_response: Any) -> Any:
        # wsgiref reports "http"; the mock builds OData-EntityId and nextLink from the scheme.
        environ["wsgi.url_scheme"] = "https"
        return app(environ, start_response)

    cert_file, key_file = write_self_signed_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = make_server("127.0.0.1", 0, as_https, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="https-mock", daemon=True)
    thread.start()
    try:
        endpoint = MockEndpoint(base_url=f"https://127.0.0.1:{server.server_port}", token=token)
        yield HttpsMock(endpoint=endpoint, ca_file=cert_file)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.close()
