"""Request and response objects of the mock's internal dispatcher, and header helpers.

:class:`MockRequest`/:class:`MockResponse` are what :meth:`d365lab.mock.app.MockApp.handle`
takes and returns, so the ``$batch`` handler can run each part through the same code
as a top-level request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from d365lab.mock import limits
from d365lab.mock.service_errors import MockError

JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal"
SERVICE_PATH = "/api/data/v9.2"


class Headers(MutableMapping[str, str]):
    """Case-insensitive HTTP headers; setting an existing name replaces it.

    >>> h = Headers({"Content-Type": "text/plain"})
    >>> h["content-type"]
    'text/plain'
    """

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        if items is not None:
            pairs = items.items() if isinstance(items, Mapping) else items
            for key, value in pairs:
                self[key] = value

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __setitem__(self, key: str, value: str) -> None:
        self._items[key.lower()] = (key, value)

    def __delitem__(self, key: str) -> None:
        del self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class MockRequest:
    """One request to the service root.

    ``path`` is relative to the service root (``"leads(…)"``, no leading slash needed);
    ``query`` holds decoded query options (``{"$select": "subject"}``); ``headers`` is
    case-insensitive; ``base_url`` is the service root URL ending in ``/api/data/v9.2``
    (used for ``OData-EntityId``, ``@odata.context`` and ``nextLink``).
    """

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    base_url: str = "http://localhost" + SERVICE_PATH

    def json(self) -> Any:
        """The body parsed as JSON (None when empty); malformed JSON is a 400."""
        return parse_json_body(self.body)

    @property
    def url(self) -> str:
        """The absolute request URL (without the query string)."""
        return f"{self.base_url}/{self.path.lstrip('/')}"

    def prefer(self) -> dict[str, str]:
        """The ``Prefer`` preferences (comma-separated and/or repeated headers merged)."""
        return parse_prefer(self.headers.get("Prefer", ""))


@dataclass
class MockResponse:
    """One response: status, headers and body bytes."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def parse_json_body(body: bytes) -> Any:
    """A JSON request body (None when empty), checked against the mock's limits.

    Malformed JSON, text that is not UTF-8 (raw surrogate bytes included), ``NaN``/
    ``Infinity`` literals and numbers out of the float range (``1e400``) are 400; so are
    lone surrogates (``"\\ud800"``) and nesting past :data:`~d365lab.mock.limits.MAX_JSON_DEPTH`.
    """
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MockError(400, "0x0", f"The request body is not valid UTF-8 text: {exc}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=limits.finite_float)
    except RecursionError:
        raise limits.limit_exceeded("JSON nesting depth", limits.MAX_JSON_DEPTH) from None
    except ValueError as exc:
        raise MockError(400, "0x0", f"The request body is not valid JSON: {exc}") from None
    limits.check_json_value(value, body)
    return value


def _refuse_constant(name: str) -> Any:
    """``NaN``/``Infinity`` are not JSON (Python's parser accepts them; the service does not)."""
    raise ValueError(f"{name} is not a JSON value")


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses and single-quoted strings (``''`` escapes).

    Every part is kept as it is, empty ones included.
    """
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def split_outside_quotes(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` except inside double or single quotes."""
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_prefer(header: str) -> dict[str, str]:
    """``Prefer`` header values as ``{name: value}`` (value without quotes, "" when absent).

    Preferences may be separated by commas or, as Microsoft's samples write them, by
    semicolons (``odata.maxpagesize=4; odata.include-annotations="*"``).

    >>> parse_prefer('return=representation, odata.include-annotations="*"')
    {'return': 'representation', 'odata.include-annotations': '*'}
    """
    out: dict[str, str] = {}
    items = [part for item in split_outside_quotes(header) for part in split_outside_quotes(item, ";")]
    for item in items:
        name, _, value = item.partition("=")
        out[name.strip().lower()] = value.strip().strip('"')
    return out


def annotation_patterns(prefer: Mapping[str, str]) -> list[str] | None:
    """The ``odata.include-annotations`` patterns, or None when not asked."""
    raw = prefer.get("odata.include-annotations")
    if not raw:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> MockResponse:
    """A JSON response with the OData content type."""
    out = MockResponse(status, Headers(headers or {}), json.dumps(body, separators=(",", ":")).encode())
    out.headers["Content-Type"] = JSON_CONTENT_TYPE
    return out


def error_response(error: MockError) -> MockResponse:
    """The error envelope of a :class:`MockError`."""
    return json_response(error.status, error.envelope(), error.headers)


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> MockResponse:
    """A response without a body."""
    return MockResponse(status, Headers(headers or {}), b"")


def new_request_id() -> str:
    """A fresh request id (``x-ms-service-request-id`` / ``REQ_ID``)."""
    return str(uuid.uuid4())


def no_resource(request: MockRequest) -> MockError:
    """404 for a verb the resource does not answer."""
    query = "&".join(f"{k}={v}" for k, v in request.query.items())
    url = request.url + (f"?{query}" if query else "")
    return MockError(404, "", f"No HTTP resource was found that matches the request URI '{url}'.")


def not_allowed(method: str) -> MockError:
    """405 for PATCH/DELETE on a collection and similar."""
    return MockError(405, "0x80060888", f"The requested resource does not support http method '{method}'.")
