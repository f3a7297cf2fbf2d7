"""``$filter`` on metadata collections (``EntityDefinitions``, ``Attributes``, ``RelationshipDefinitions``).

The metadata API filters in memory on the definition's properties. The subset clients send:

- comparisons ``eq``/``ne`` of a property path (``IsAuditEnabled/Value``) with a literal:
  ``'text'`` (case-insensitive, as the service compares metadata names), a number,
  ``true``/``false``, ``null`` or an enum member ``Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'``
  (compared with the member name the definition holds);
- ``and``, ``or``, ``not`` and parentheses, with the usual precedence
  (``IsPrivate eq false and (OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned')``).

Anything else is a 400 naming the filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from d365lab.mock import service_errors as errors

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<enum>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<punct>[()])
    | (?P<word>[A-Za-z_][\w/]*)
    )""", re.VERBOSE)
Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class _Token:
    kind: str
    text: str


def compile_filter(text: str | None) -> Predicate:
    """A predicate over a definition (a dict) for a ``$filter`` text; None or "" matches everything."""
    if not text or not text.strip():
        return lambda item: True
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            found = _TOKEN.match(text, pos)
            if found is None or found.end() == pos:
                raise self._error(f"unexpected character at position {pos}")
            kind = found.lastgroup or ""
            tokens.append(_Token(kind, found.group(kind)))
            pos = found.end()
        return tokens

    def _error(self, detail: str) -> errors.MockError:
        return errors.bad_request(f"The metadata filter '{self.text}' cannot be evaluated: {detail}.")

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise self._error("it ends too early")
        self.pos += 1
        return token

    def _word(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "word" and token.text == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise self._error(f"unexpected '{self._take().text}'")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._word("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._not()]
        while self._word("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def _not(self) -> Predicate:
        if self._word("not"):
            inner = self._not()
            return lambda item: not inner(item)
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._take()
        if token.kind == "punct" and token.text == "(":
            inner = self._or()
            closing = self._take()
            if closing.text != ")":
                raise self._error(f"')' expected, found '{closing.text}'")
            return inner
        if token.kind != "word":
            raise self._error(f"a property expected, found '{token.text}'")
        path = token.text
        operator = self._take().text
        if operator not in ("eq", "ne"):
            raise self._error(f"the operator '{operator}' is not supported (eq, ne)")
        literal = _literal(self._take(), self._error)
        if operator == "eq":
            return lambda item: _equals(_path(item, path), literal)
        return lambda item: not _equals(_path(item, path), literal)


def _literal(token: _Token, error: Callable[[str], errors.MockError]) -> Any:
    if token.kind == "string":
        return token.text[1:-1].replace("''", "'")
    if token.kind == "enum":
        return token.text[token.text.index("'") + 1:-1].replace("''", "'")
    if token.kind == "number":
        return float(token.text) if "." in token.text else int(token.text)
    if token.kind == "word" and token.text in ("true", "false"):
        return token.text == "true"
    if token.kind == "word" and token.text == "null":
        return None
    raise error(f"'{token.text}' is not a value")


def _path(item: dict[str, Any], path: str) -> Any:
    """``IsAuditEnabled/Value`` -> ``item["IsAuditEnabled"]["Value"]`` (None when absent)."""
    value: Any = item
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _equals(actual: Any, literal: Any) -> bool:
    if literal is None:
        return actual is None
    if isinstance(literal, bool):
        return actual is literal
    if isinstance(literal, str):
        return actual is not None and str(actual).lower() == literal.lower()
    return isinstance(actual, int | float) and not isinstance(actual, bool) and actual == literal


def select_properties(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    """A definition cut to a ``$select`` list (annotations and ``MetadataId`` always kept)."""
    if not select:
        return item
    wanted = {s.strip() for s in select.split(",") if s.strip()}
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@") or k == "MetadataId"}
