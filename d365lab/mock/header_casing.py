"""Response header names sent exactly as the app spells them.

waitress normalises every response header name to ``Word-Word`` capitalisation
(``OData-EntityId`` goes out as ``Odata-Entityid``, ``REQ_ID`` and
``x-ms-service-request-id`` are re-cased too). HTTP header names are case-insensitive,
but clients that read headers from a plain dict (the Python SDK's async client, scripts
doing ``headers["OData-EntityId"]`` on a ``dict(response.headers)``) fail on the
re-cased names. Dataverse sends them as documented, so the mock does too:
:class:`CasePreservingChannel` runs each request in a task whose header block keeps the
names the WSGI app passed to ``start_response``.

>>> server = create_server(app, ...)                 # doctest: +SKIP
>>> server.channel_class = CasePreservingChannel     # doctest: +SKIP
"""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import WSGITask


def restore_names(header_block: bytes, spelled: dict[str, str]) -> bytes:
    """Rewrite the names of a serialised header block to the spellings in ``spelled`` (by lower-case name).

    >>> block = b"HTTP/1.1 204 No Content\\r\\nOdata-Entityid: x\\r\\n\\r\\n"
    >>> restore_names(block, {"odata-entityid": "OData-EntityId"})
    b'HTTP/1.1 204 No Content\\r\\nOData-EntityId: x\\r\\n\\r\\n'
    """
    text = header_block.decode("latin-1")
    head, sep, tail = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    for index, line in enumerate(lines[1:], start=1):
        name, colon, value = line.partition(":")
        original = spelled.get(name.lower())
        if colon and original is not None:
            lines[index] = f"{original}:{value}"
    return ("\r\n".join(lines) + sep + tail).encode("latin-1")


class CasePreservingTask(WSGITask):  # type: ignore[misc]  # waitress ships no type hints
    """A waitress WSGI task that sends header names as the application spelled them."""

    def build_response_header(self) -> bytes:
        """waitress's header block, with the app's own header-name spellings put back."""
        spelled = {str(name).lower(): str(name) for name, _ in self.response_headers}
        block: bytes = super().build_response_header()
        return restore_names(block, spelled)


class CasePreservingChannel(HTTPChannel):  # type: ignore[misc]  # waitress ships no type hints
    """A waitress channel whose requests run as :class:`CasePreservingTask`."""

    task_class = CasePreservingTask
