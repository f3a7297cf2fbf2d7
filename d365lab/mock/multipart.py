"""The ``multipart/mixed`` wire format of ``$batch``: a lenient parser and a strict writer.

The parser accepts what real clients send (see ``docs/thirdparty-requirements.md`` §4):
quoted or unquoted boundaries, a CRLF preamble, LF or CRLF line endings, inner requests
without a blank line after their headers, absolute, relative or ``$<n>`` URLs, and
trailing blank lines after JSON bodies.

The writer produces the shape both strict parsers (Microsoft's Python SDK and npm
``dynamics-web-api``) accept: the body starts with ``--batchresponse_<guid>``, a change
set is one part whose only header is ``Content-Type: multipart/mixed;
boundary=changesetresponse_<guid>``, every inner response has ``HTTP/1.1 <code> <reason>``
with a reason of letters and spaces, CRLF line endings throughout.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from d365lab.mock.limits import has_surrogate

_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))', re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^([A-Za-z]+)\s+(.+?)(?:\s+HTTP/\d(?:\.\d)?)?\s*$")
CRLF = "\r\n"


class MultipartError(ValueError):
    """The body is not a well-formed ``multipart/mixed`` batch."""


@dataclass
class BatchRequest:
    """One request inside a batch (``headers`` keys are lowercase)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    content_id: str | None = None


@dataclass
class ChangeSet:
    """An atomic group of write requests."""

    requests: list[BatchRequest] = field(default_factory=list)


BatchItem = BatchRequest | ChangeSet


@dataclass
class BatchResponsePart:
    """One response inside a batch answer."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    content_id: str | None = None


def boundary_of(content_type: str) -> str | None:
    """The boundary parameter of a ``multipart/mixed`` Content-Type, quoted or not."""
    match = _BOUNDARY.search(content_type or "")
    if match is None:
        return None
    return match.group(1) or match.group(2)


def _split_parts(lines: list[str], boundary: str) -> list[list[str]]:
    opening, closing = f"--{boundary}", f"--{boundary}--"
    parts: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if stripped == closing:
            if current is not None:
                parts.append(current)
            return parts
        if stripped == opening:
            if current is not None:
                parts.append(current)
            current = []
        elif current is not None:
            current.append(line)
    raise MultipartError(f"The batch body has no closing delimiter '--{boundary}--'.")


def _headers(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Header lines up to the first blank line (or the end), and the remaining lines."""
    headers: dict[str, str] = {}
    for index, line in enumerate(lines):
        if not line.strip():
            return headers, lines[index + 1:]
        name, sep, value = line.partition(":")
        if not sep:
            raise MultipartError(f"Malformed header line in a batch part: {line!r}.")
        headers[name.strip().lower()] = value.strip()
    return headers, []


def _request(lines: list[str], content_id: str | None) -> BatchRequest:
    while lines and not lines[0].strip():
        lines = lines[1:]
    if not lines:
        raise MultipartError("A batch part of type application/http holds no request line.")
    match = _REQUEST_LINE.match(lines[0].strip())
    if match is None:
        raise MultipartError(f"Malformed request line in a batch part: {lines[0]!r}.")
    headers, rest = _headers(lines[1:])
    body = CRLF.join(rest).strip("\r\n")
    return BatchRequest(method=match.group(1).upper(), url=match.group(2), headers=headers, body=body,
                        content_id=content_id or headers.get("content-id"))


def _parse_lines(lines: list[str], boundary: str, *, nested: bool) -> list[BatchItem]:
    items: list[BatchItem] = []
    for part in _split_parts(lines, boundary):
        mime, content = _headers(part)
        content_type = mime.get("content-type", "application/http")
        if content_type.lower().startswith("multipart/mixed"):
            if nested:
                raise MultipartError("Change sets cannot be nested.")
            inner = boundary_of(content_type)
            if inner is None:
                raise MultipartError("A change set part has no boundary in its Content-Type.")
            requests = _parse_lines(content, inner, nested=True)
            items.append(ChangeSet([r for r in requests if isinstance(r, BatchRequest)]))
        else:
            items.append(_request(content, mime.get("content-id")))
    return items


def parse_batch(body: bytes | str, content_type: str) -> list[BatchItem]:
    """Parse a ``$batch`` request body into requests and change sets, in order."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise MultipartError("The $batch request needs Content-Type: multipart/mixed; boundary=<boundary>.")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise MultipartError(f"The $batch body is not valid UTF-8 text: {exc}") from None
    if has_surrogate(text):
        raise MultipartError("The $batch body holds a lone UTF-16 surrogate, which is not valid Unicode text.")
    return _parse_lines(re.split(r"\r?\n", text), boundary, nested=False)


def reason_phrase(status: int) -> str:
    """The reason phrase of a status, letters and spaces only ("Multi-Status" -> "Multi Status")."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return re.sub(r"[^A-Za-z ]", " ", phrase)


def _write_part(part: BatchResponsePart) -> str:
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if part.content_id is not None:
        mime.append(f"Content-ID: {part.content_id}")
    inner = [f"HTTP/1.1 {part.status} {reason_phrase(part.status)}",
             *(f"{name}: {value}" for name, value in part.headers)]
    return CRLF.join(mime) + CRLF + CRLF + CRLF.join(inner) + CRLF + CRLF + part.body + CRLF


def write_batch(items: list[BatchResponsePart | list[BatchResponsePart]]) -> tuple[str, bytes]:
    """The ``Content-Type`` and body of a batch answer (a list item is a change set)."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    for item in items:
        chunks.append(f"--{boundary}{CRLF}")
        if isinstance(item, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            chunks.append(f"Content-Type: multipart/mixed; boundary={inner}{CRLF}{CRLF}")
            for part in item:
                chunks.append(f"--{inner}{CRLF}{_write_part(part)}")
            chunks.append(f"--{inner}--{CRLF}")
        else:
            chunks.append(_write_part(item))
    chunks.append(f"--{boundary}--{CRLF}")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode("utf-8")
