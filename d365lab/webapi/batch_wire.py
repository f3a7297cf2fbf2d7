"""The ``multipart/mixed`` wire format of ``$batch``: encoding parts, parsing the response."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from d365lab.errors import DataverseError, TransportError, error_from_response
from d365lab.odata import entity_id_from_url
from d365lab.webapi.request import Answer

CRLF = "\r\n"


@dataclass
class BatchRequest:
    """One request inside a batch, as written on the wire (``body`` already encoded)."""

    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: int | None = None


@dataclass
class BatchResponse:
    """One response of a batch."""

    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        """True for 1xx-3xx."""
        return self.status < 400

    @property
    def entity_id(self) -> str | None:
        """The id in ``OData-EntityId`` (creates), if any."""
        url = self.headers.get("odata-entityid") or self.headers.get("location")
        return entity_id_from_url(url) if url else None

    def error(self) -> DataverseError | None:
        """The typed error of a failed part, or None."""
        if self.ok:
            return None
        raw = json.dumps(self.body) if isinstance(self.body, dict | list) else (self.body or "")
        return error_from_response(self.status, raw, self.headers)

    def answer(self) -> Answer:
        """This part as an :class:`Answer` (what request decoders read)."""
        return Answer(self.status, self.headers, body=self.body)


def encode_part(request: BatchRequest) -> list[str]:
    """The lines of one ``application/http`` part."""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if request.content_id is not None:
        lines.append(f"Content-ID: {request.content_id}")
    lines += ["", f"{request.method} {request.url} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    lines.append("")
    lines.append(request.body.decode("utf-8") if request.body is not None else "")
    return lines


def is_multipart(answer: Answer) -> bool:
    """True when the answer is a multipart body (a ``$batch`` answers 4xx that way too)."""
    return answer.headers.get("Content-Type", "").lower().startswith("multipart/mixed")


def _boundary_of(content_type: str) -> str:
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip().strip('"')
    raise TransportError(f"no boundary in Content-Type {content_type!r}")


def parse_batch_answer(answer: Answer) -> list[BatchResponse]:
    """Parse a ``$batch`` response (nested change-set responses flattened, in order)."""
    content_type = answer.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/mixed"):
        raise TransportError(f"expected a multipart $batch response, got {content_type!r}", status=answer.status)
    return parse_multipart(answer.content.decode("utf-8"), _boundary_of(content_type))


def parse_multipart(text: str, boundary: str) -> list[BatchResponse]:
    """Parse one multipart level; recurse into nested multipart parts."""
    text = text.replace("\r\n", "\n")
    out: list[BatchResponse] = []
    for section in text.split(f"--{boundary}")[1:]:
        if section.startswith("--"):
            break
        head, _, rest = section.lstrip("\n").partition("\n\n")
        headers = _parse_headers(head)
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/mixed"):
            out.extend(parse_multipart(rest, _boundary_of(content_type)))
        else:
            out.append(_parse_http(rest, headers.get("content-id")))
    return out


def _parse_headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return headers


def _parse_http(text: str, content_id: str | None) -> BatchResponse:
    status_line, _, rest = text.partition("\n")
    pieces = status_line.split(" ", 2)
    if len(pieces) < 2 or not pieces[1].isdigit():
        raise TransportError(f"malformed $batch part status line {status_line!r}")
    if rest.startswith("\n"):
        head, body_text = "", rest[1:]
    else:
        head, _, body_text = rest.partition("\n\n")
    headers = _parse_headers(head)
    body_text = body_text.strip()
    body: Any = None
    if body_text:
        try:
            body = json.loads(body_text)
        except ValueError:
            body = body_text
    return BatchResponse(int(pieces[1]), headers, body, headers.get("content-id") or content_id)
