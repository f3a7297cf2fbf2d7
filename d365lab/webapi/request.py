"""A Web API request as a value, the answer it gets, and the sender protocol verbs depend on.

Every client operation is a small function that returns a :class:`Request`: method, path
(relative to the service root), query, JSON body, headers, whether a retry is safe, and how
to decode the answer. Only two places send one: :meth:`d365lab.transport.Transport.send`
(one HTTP call) and :meth:`d365lab.batch.Batch.add` (a part of a ``$batch``).

>>> request = create_row("lead", {"subject": "Coffee", "lastname": "Doe"})   # doctest: +SKIP
>>> request.method, request.path                                             # doctest: +SKIP
('POST', 'leads')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from requests.structures import CaseInsensitiveDict

from d365lab.errors import DataverseError, TransportError
from d365lab.odata import dumps

T = TypeVar("T")
_UNREAD = object()


class Answer:
    """What a request got back: status, headers (case-insensitive) and the JSON body.

    Built from an HTTP response by the transport, or from one part of a ``$batch`` response.
    """

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes = b"", *,
                 body: Any = _UNREAD) -> None:
        self.status = status
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(headers)
        self.content = content
        self._body = body

    def json(self) -> Any:
        """The JSON body, or None for an empty body; :class:`TransportError` when it is not JSON."""
        if self._body is _UNREAD:
            try:
                self._body = json.loads(self.content) if self.content else None
            except ValueError as exc:
                raise TransportError(f"expected JSON, got {self.headers.get('Content-Type')!r}",
                                     status=self.status) from exc
        return self._body


def ignore_answer(answer: Answer) -> None:
    """The decoder of requests whose answer carries nothing (204 No Content)."""
    return None


def json_answer(answer: Answer) -> Any:
    """The decoder that returns the JSON body as it is (None when empty)."""
    return answer.json()


@dataclass(frozen=True)
class Request(Generic[T]):
    """One Web API request, not yet sent.

    ``body`` is a JSON value (encoded at sending time with ``encoder``); ``decode`` turns the
    answer into the operation's result; ``recover``, when set, turns an error into a result
    (or raises it again), e.g. a duplicate-key answer to a retried create whose first attempt
    had landed. ``accept`` lets the request take an error status itself (``$batch`` answers
    4xx with a multipart body describing the failed part). ``key`` is the primary key of the
    row a create will make, known before sending.
    """

    method: str
    path: str
    decode: Callable[[Answer], T]
    query: str | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True
    recover: Callable[[DataverseError], T] | None = None
    accept: Callable[[Answer], bool] | None = None
    key: str | None = None
    encoder: Callable[[Any], bytes] = dumps

    def encoded_body(self) -> bytes | None:
        """The body as bytes for the wire, or None without a body."""
        return None if self.body is None else self.encoder(self.body)

    def target(self) -> str:
        """``path?query``: the request target relative to the service root."""
        return f"{self.path}?{self.query}" if self.query else self.path


class Sender(Protocol):
    """Anything that sends a request now and returns its decoded result (a :class:`Transport`)."""

    def send(self, request: Request[T]) -> T:
        """Send ``request`` and return ``request.decode`` of its answer."""
        ...
