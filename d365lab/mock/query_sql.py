"""``GET <set>?sql=SELECT …``: a small SQL subset translated into OData query options.

``SELECT [TOP n] * | col, … FROM <table> [WHERE …] [ORDER BY col [ASC|DESC], …]`` where
the condition uses ``= <> != > >= < <=``, ``AND OR NOT``, parentheses, ``IS [NOT] NULL``,
``[NOT] LIKE 'x%'`` (prefix, suffix or contains patterns), ``[NOT] IN (…)`` and
``'strings'``/numbers/``true``/``false``. The translation produces ``$select``/``$filter``/
``$orderby``/``$top`` text that the OData engine compiles, so the same validation and the
same bound parameters apply. Joins, aggregates and functions are 400.
"""

from __future__ import annotations

import re

from d365lab.mock import service_errors as errors
from d365lab.mock.limits import MAX_FILTER_DEPTH, MAX_FILTER_TERMS, limit_exceeded
from d365lab.mock.service_errors import MockError
from d365lab.models.schema import Table

_STATEMENT = re.compile(
    r"^\s*SELECT\s+(?:TOP\s+(?P<top>\d+)\s+)?(?P<columns>.+?)\s+FROM\s+(?P<table>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|"
                    r"(?P<op><>|!=|>=|<=|=|>|<)|(?P<punct>[(),])|(?P<word>[A-Za-z_]\w*))")
_OPERATORS = {"=": "eq", "<>": "ne", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le"}
_UNSUPPORTED = frozenset({"JOIN", "GROUP", "HAVING", "UNION", "COUNT", "SUM", "AVG", "MIN", "MAX", "DISTINCT"})


def sql_error(message: str) -> MockError:
    """400 for SQL the mock cannot run."""
    return errors.bad_request(f"SQL query: {message}", code="0x80040203")


def sql_tokens(text: str, pattern: re.Pattern[str] | None = None) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of a statement (``pattern``: another token grammar; unexpected text is a 400)."""
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    grammar = pattern or _TOKEN
    while pos < len(text):
        found = grammar.match(text, pos)
        if found is None or found.end() == pos:
            raise sql_error(f"unexpected text at position {pos}: {text[pos:pos + 20]!r}")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


class SqlTokenCursor:
    """A position in a list of ``(kind, text)`` SQL tokens, shared by the ``?sql=`` parsers."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _word(self, offset: int = 0) -> str:
        token = self._peek(offset)
        return token[1].upper() if token is not None and token[0] == "word" else ""


class _WhereTranslator(SqlTokenCursor):
    """Rewrite a SQL condition as an OData ``$filter`` expression."""

    def __init__(self, table: Table, text: str) -> None:
        super().__init__(sql_tokens(text))
        self.table = table

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise sql_error("the WHERE clause ends too early")
        self.pos += 1
        return token

    def property_name(self, name: str) -> str:
        column = self.table.columns.get(name.lower())
        if column is None:
            raise errors.unknown_property(name, self.table.logical_name)
        return column.value_property

    def _literal(self) -> str:
        kind, text = self._take()
        if kind in ("string", "number"):
            return text
        if kind == "word" and text.upper() in ("TRUE", "FALSE", "NULL"):
            return text.lower()
        raise sql_error(f"expected a value, found {text!r}")

    def translate(self) -> str:
        parts: list[str] = []
        depth = terms = 0
        while self._peek() is not None:
            kind, text = self._peek()  # type: ignore[misc]
            word = text.upper() if kind == "word" else ""
            if word in _UNSUPPORTED:
                raise sql_error(f"{word} is not supported by the mock tenant")
            if word in ("AND", "OR", "NOT"):
                parts.append(word.lower())
                self.pos += 1
            elif kind == "punct" and text in "()":
                parts.append(text)
                self.pos += 1
                depth += 1 if text == "(" else -1
            elif kind == "word":
                parts.append(self._predicate())
                terms += 1
            else:
                raise sql_error(f"unexpected {text!r} in the WHERE clause")
            if depth > MAX_FILTER_DEPTH:
                raise limit_exceeded("nesting of parentheses in the WHERE clause of ?sql=", MAX_FILTER_DEPTH)
            if terms > MAX_FILTER_TERMS:
                raise limit_exceeded("conditions in the WHERE clause of ?sql=", MAX_FILTER_TERMS)
        return " ".join(parts).replace("( ", "(").replace(" )", ")")

    def _predicate(self) -> str:
        name = self.property_name(self._take()[1])
        negate = self._word() == "NOT"
        if negate:
            self.pos += 1
        keyword = self._word()
        if keyword == "IS":
            self.pos += 1
            is_not = self._word() == "NOT"
            self.pos += 1 if is_not else 0
            if self._word() != "NULL":
                raise sql_error("IS must be followed by [NOT] NULL")
            self.pos += 1
            return f"{name} {'ne' if is_not else 'eq'} null"
        if keyword == "LIKE":
            self.pos += 1
            return ("not " if negate else "") + self._like(name)
        if keyword == "IN":
            self.pos += 1
            return ("not " if negate else "") + self._in(name)
        if negate:
            raise sql_error("NOT must precede LIKE or IN here")
        kind, op = self._take()
        if kind != "op":
            raise sql_error(f"expected a comparison after {name}, found {op!r}")
        return f"{name} {_OPERATORS[op]} {self._literal()}"

    def _like(self, name: str) -> str:
        kind, pattern = self._take()
        if kind != "string":
            raise sql_error("LIKE needs a quoted pattern")
        body = pattern[1:-1]
        core = body.strip("%")
        if "%" in core or "_" in core:
            raise sql_error("LIKE patterns may only use % at the start and/or the end")
        quoted = f"'{core}'"
        if body.startswith("%") and body.endswith("%") and len(body) > 1:
            return f"contains({name},{quoted})"
        if body.endswith("%"):
            return f"startswith({name},{quoted})"
        if body.startswith("%"):
            return f"endswith({name},{quoted})"
        return f"{name} eq {quoted}"

    def _in(self, name: str) -> str:
        if self._take() != ("punct", "("):
            raise sql_error("IN needs a parenthesised list")
        values: list[str] = []
        while True:
            values.append(self._literal())
            kind, text = self._take()
            if text == ")":
                break
            if text != ",":
                raise sql_error("IN values are separated by commas")
        column = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
        return f"Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=[{','.join(values)}])"


def translate(table: Table, sql: str) -> dict[str, str]:
    """The OData query options equivalent to a SQL statement on ``table``."""
    found = _STATEMENT.match(sql)
    if found is None:
        raise sql_error("expected SELECT … FROM <table> [WHERE …] [ORDER BY …]")
    if found.group("table").lower() != table.logical_name:
        raise sql_error(f"FROM {found.group('table')} does not match the entity set {table.entity_set}")
    translator = _WhereTranslator(table, "")
    options: dict[str, str] = {}
    columns = found.group("columns").strip()
    if columns != "*":
        options["$select"] = ",".join(translator.property_name(c.strip()) for c in columns.split(","))
    if found.group("where"):
        options["$filter"] = _WhereTranslator(table, found.group("where")).translate()
    if found.group("order"):
        terms = []
        for item in found.group("order").split(","):
            name, _, direction = item.strip().partition(" ")
            direction = direction.strip().lower()
            if direction not in ("", "asc", "desc"):
                raise sql_error(f"unknown ORDER BY direction {direction!r}")
            terms.append(f"{translator.property_name(name)} {direction or 'asc'}")
        options["$orderby"] = ",".join(terms)
    if found.group("top"):
        options["$top"] = found.group("top")
    return options
