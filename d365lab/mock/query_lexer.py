"""Tokens of OData ``$filter`` expressions (strings, GUIDs, dates, numbers, names, punctuation)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from d365lab.mock.service_errors import MockError

SYNTAX_ERROR = "0x80060888"
_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<jstring>"(?:[^"\\]|\\.)*")
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?(?![\w:]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w]))
  | (?P<punct>[(),\[\]=:])
  | (?P<name>[@$A-Za-z_][\w.@$/]*)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    """One lexical token and its position in the filter text."""

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """The tokens of a filter; an unexpected character is a 400 naming its position."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN_RE.match(text, pos)
        if found is None:
            raise syntax_error(text, pos, f"unexpected character {text[pos]!r}")
        kind = found.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, found.group(), pos))
        pos = found.end()
    return tokens


def syntax_error(text: str, pos: int, detail: str) -> MockError:
    """400 for a malformed filter."""
    return MockError(400, SYNTAX_ERROR, f"Syntax error at position {pos} in '{text}': {detail}.")
