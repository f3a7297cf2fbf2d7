"""``$filter`` -> SQL with bound parameters.

A tokenizer and a recursive-descent parser that emit an SQL ``WHERE`` fragment for one
table: comparisons (``eq ne gt ge lt le``), ``and``/``or``/``not`` and parentheses,
``contains``/``startswith``/``endswith`` (LIKE wildcards escaped), ``null``, ``_x_value``
lookups and ``nav/pk`` paths, GUID/number/boolean/date literals, ``@p`` aliases, and the
Dataverse query functions ``In``/``NotIn``/``Between``/``NotBetween``/``Null``/``NotNull``/
``EqualUserId``/``LastXDays``/``LastXHours``/``NextXDays``/``OlderThanXDays``/``Today``/
``Yesterday`` (their SQL: :mod:`d365lab.mock.query_functions`). Values are never spliced into SQL.

Text columns compare case- and accent-insensitively (:mod:`d365lab.mock.collation`): the
column side is its folded form (an indexed shadow column, or ``d365_fold(col)``) and the
literal is folded in Python before it is bound.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.collation import comparison_sql, comparison_value, is_text, like_escape, prefix_range, presence_sql
from d365lab.mock.limits import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_TERMS,
    MAX_QUERY_VALUES,
    has_surrogate,
    limit_exceeded,
    lone_surrogate,
)
from d365lab.mock.query_filter_paths import is_lambda, lambda_condition, related_operand
from d365lab.mock.query_functions import function_sql
from d365lab.mock.query_lexer import SYNTAX_ERROR, Token, syntax_error, tokenize
from d365lab.mock.query_values import number_for
from d365lab.mock.service_errors import MockError
from d365lab.mock.validation import normalize_date, normalize_datetime, normalize_guid
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, Column, ColumnType, Table

_COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FLIPPED = {"=": "=", "<>": "<>", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_NUMERIC = INTEGER_TYPES | REAL_TYPES
_QUERY_FUNCTION_PREFIX = "Microsoft.Dynamics.CRM."


@dataclass(frozen=True)
class Operand:
    """A column or a literal (``value``, ``kind``).

    For a column, ``sql`` is the expression comparisons and LIKE use (folded for text)
    and ``presence`` the one ``IS [NOT] NULL`` tests use.
    """

    column: Column | None = None
    sql: str = ""
    presence: str = ""
    value: Any = None
    kind: str = ""


class FilterCompiler:
    """Compile one ``$filter`` for one table into ``(sql, params)``.

    ``aliases`` are the request's ``@p`` query parameters (raw literal text);
    ``user_id`` answers ``EqualUserId``.
    """

    def __init__(self, table: Table, text: str, aliases: dict[str, str] | None = None,
                 user_id: str = "") -> None:
        self.table = table
        self.text = text
        self.aliases = aliases or {}
        self.user_id = user_id
        #: How the SQL names this table when not by its logical name (a lambda's alias inside any/all).
        self.sql_name = ""
        self.tokens = tokenize(text)
        self.pos = 0
        self.params: list[Any] = []
        self.depth = 0
        self.terms = 0

    # --------------------------------------------------------------- driving

    def compile(self) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters."""
        if not self.tokens:
            raise syntax_error(self.text, 0, "the filter is empty")
        sql = self._or()
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            raise syntax_error(self.text, token.pos, f"unexpected '{token.text}'")
        if len(self.params) > MAX_QUERY_VALUES:
            raise limit_exceeded("values in one $filter", MAX_QUERY_VALUES)
        return sql, self.params

    def _enter(self) -> None:
        """One more level of nesting (parentheses, ``not``, a query function)."""
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise limit_exceeded("nesting of parentheses and 'not' in $filter", MAX_FILTER_DEPTH)

    def _count_term(self) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise limit_exceeded("comparisons and functions in one $filter", MAX_FILTER_TERMS)

    def _peek_at(self, offset: int) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self, expected: str | None = None, what: str = "") -> Token:
        token = self._peek()
        if token is None:
            wanted = what or (f"'{expected}'" if expected else "more")
            raise syntax_error(self.text, len(self.text), f"expected {wanted} at the end")
        if expected is not None and token.text != expected:
            raise syntax_error(self.text, token.pos, f"expected '{expected}' but found '{token.text}'")
        self.pos += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "name" and token.text == word:
            self.pos += 1
            return True
        return False

    # --------------------------------------------------------------- grammar

    def _or(self) -> str:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._not()]
        while self._keyword("and"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self) -> str:
        if self._keyword("not"):
            self._enter()
            inner = self._not()
            self.depth -= 1
            return f"(NOT {inner})"
        return self._primary()

    def _primary(self) -> str:
        token = self._peek()
        if token is None:
            raise syntax_error(self.text, len(self.text), "expected an expression at the end")
        if token.text == "(":
            self._next()
            self._enter()
            inner = self._or()
            self._next(")")
            self.depth -= 1
            return inner
        self._count_term()
        if is_lambda(self, token):
            return lambda_condition(self)
        if token.kind == "name" and token.text in ("contains", "startswith", "endswith"):
            return self._like(self._next().text)
        if token.kind == "name" and token.text.startswith(_QUERY_FUNCTION_PREFIX):
            return self._query_function()
        left = self._operand()
        op_token = self._next(what="a comparison operator")
        op = _COMPARISONS.get(op_token.text)
        if op is None:
            raise syntax_error(self.text, op_token.pos, f"unknown operator '{op_token.text}'")
        right = self._operand()
        return self._comparison(left, op, right, op_token.pos)

    # -------------------------------------------------------------- operands

    def _operand(self) -> Operand:
        token = self._next(what="a property or a value")
        if token.kind == "name" and token.text.startswith("@"):
            if token.text not in self.aliases:
                raise errors.bad_request(f"The parameter alias '{token.text}' has no value in the query string.")
            return self._alias_operand(self.aliases[token.text], token.pos)
        if token.kind == "name" and token.text not in ("true", "false", "null"):
            following = self._peek()
            if following is not None and following.text == "(":
                raise errors.bad_request(f"The function '{token.text}' is not supported by the mock tenant.",
                                         code=SYNTAX_ERROR)
            return self._property(token)
        return self._literal(token)

    def _alias_operand(self, raw: str, pos: int) -> Operand:
        """An alias's value: a literal, or a property name (``@p1=fullname``, as Microsoft's query sample does)."""
        tokens = tokenize(raw.strip())
        if len(tokens) == 1 and tokens[0].kind == "name" and tokens[0].text not in ("true", "false", "null"):
            return self._property(Token("name", tokens[0].text, pos))
        return self._literal_from_text(raw, pos)

    def _literal_from_text(self, raw: str, pos: int) -> Operand:
        tokens = tokenize(raw.strip())
        if len(tokens) != 1:
            raise syntax_error(self.text, pos, f"the alias value '{raw}' is not a single literal")
        return self._literal(tokens[0])

    def _literal(self, token: Token) -> Operand:
        text = token.text
        if token.kind == "string":
            return Operand(value=text[1:-1].replace("''", "'"), kind="string")
        if token.kind == "jstring":  # JSON-style values in PropertyValues=["a","b"]
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                detail = f"the string {text[:40]} has a bad escape ({exc.args[0]})"
                raise syntax_error(self.text, token.pos, detail) from None
            if has_surrogate(decoded):
                raise lone_surrogate()
            return Operand(value=decoded, kind="string")
        if token.kind == "guid":
            return Operand(value=text.lower(), kind="guid")
        if token.kind == "datetime":
            return Operand(value=text, kind="datetime" if "T" in text else "date")
        if token.kind == "number":
            digits = text.rstrip("mMdDfFlL")
            number: float | int = float(digits) if any(c in digits for c in ".eE") else int(digits)
            if isinstance(number, float) and not math.isfinite(number):
                raise syntax_error(self.text, token.pos, f"the number {digits[:40]} is out of range")
            return Operand(value=number, kind="number")
        if token.kind == "name" and text in ("true", "false"):
            return Operand(value=text == "true", kind="bool")
        if token.kind == "name" and text == "null":
            return Operand(value=None, kind="null")
        raise syntax_error(self.text, token.pos, f"'{text}' is not a value")

    def _property(self, token: Token) -> Operand:
        name = token.text
        column: Column | None = None
        if "/" in name:
            nav, _, attr = name.partition("/")
            found = self.table.navigation_properties().get(nav)
            if found is not None:
                from d365lab.models.schema import TABLES

                target = TABLES.get(found[1])
                if target is not None and attr == target.primary_id:
                    column = found[0]
            related = related_operand(self, nav, attr) if column is None else None
            if related is not None:
                return related
        elif name.startswith("_") and name.endswith("_value"):
            candidate = self.table.columns.get(name[1:-6])
            column = candidate if candidate is not None and candidate.is_lookup else None
        else:
            candidate = self.table.columns.get(name)
            column = candidate if candidate is not None and not candidate.is_lookup else None
        if column is None:
            raise errors.unknown_property(name, self.table.logical_name)
        return Operand(column=column, sql=comparison_sql(column), presence=presence_sql(column))

    def _coerce(self, column: Column, literal: Operand) -> Any:
        """A literal as the SQL value of a column (400 when the types cannot meet)."""
        value, kind = literal.value, literal.kind
        if kind == "null":
            return None
        ctype = column.type
        if column.is_lookup or ctype is ColumnType.GUID:
            ident = normalize_guid(value) if isinstance(value, str) else None
            if ident is None:
                raise self._type_error(column, value)
            return ident
        if ctype is ColumnType.BOOLEAN:
            if kind == "bool":
                return 1 if value else 0
            if kind == "number" and value in (0, 1):
                return int(value)
            raise self._type_error(column, value)
        if ctype in _NUMERIC:
            if kind != "number":
                raise self._type_error(column, value)
            return number_for(column, value)
        if ctype is ColumnType.DATETIME:
            normalized = normalize_datetime(str(value)) if kind in ("datetime", "date", "string") else None
            if normalized is None:
                raise self._type_error(column, value)
            return normalized
        if ctype is ColumnType.DATEONLY:
            text = str(value)[:10] if kind in ("datetime", "date", "string") else ""
            if normalize_date(text) is None:
                raise self._type_error(column, value)
            return text
        if kind in ("string", "guid", "datetime", "date", "number"):
            return comparison_value(column, str(value))
        raise self._type_error(column, value)

    def _type_error(self, column: Column, value: Any) -> MockError:
        return errors.bad_request(
            f"The value {value!r} cannot be compared with the {column.type.value} column '{column.name}'.",
            code="0x0")

    # ----------------------------------------------------------- predicates

    def _comparison(self, left: Operand, op: str, right: Operand, pos: int) -> str:
        if left.column is None and right.column is not None:
            left, right, op = right, left, _FLIPPED[op]
        if left.column is None:
            raise syntax_error(self.text, pos, "a comparison needs a property on one side")
        if right.column is not None:
            return f"({left.sql} {op} {right.sql})"
        value = self._coerce(left.column, right)
        if value is None:
            if op == "=":
                return f"({left.presence} IS NULL)"
            if op == "<>":
                return f"({left.presence} IS NOT NULL)"
            return "(0)"
        self.params.append(value)
        if op == "<>":
            # OData: null ne 'x' is true, so rows without a value match too.
            return f"({left.sql} <> ? OR {left.sql} IS NULL)"
        return f"({left.sql} {op} ?)"

    def _like(self, function: str) -> str:
        self._next("(")
        column = self._operand()
        self._next(",")
        literal = self._operand()
        self._next(")")
        if column.column is None or literal.kind != "string":
            raise errors.bad_request(f"{function}() takes a string property and a string value.")
        text = comparison_value(column.column, str(literal.value))
        if function == "startswith" and is_text(column.column):
            # A range on the folded value, which the shadow column's BINARY index serves.
            low, high = prefix_range(text)
            self.params.append(low)
            if high is None:
                return f"({column.sql} >= ?)"
            self.params.append(high)
            return f"({column.sql} >= ? AND {column.sql} < ?)"
        # Escaped after folding: folding turns a fullwidth ％ or ＿ into a wildcard character.
        escaped = like_escape(text)
        pattern = {"contains": f"%{escaped}%", "startswith": f"{escaped}%", "endswith": f"%{escaped}"}[function]
        self.params.append(pattern)
        return f"({column.sql} LIKE ? ESCAPE '\\')"

    def _query_function(self) -> str:
        token = self._next()
        name = token.text[len(_QUERY_FUNCTION_PREFIX):]
        self._enter()
        args = self._named_arguments()
        self.depth -= 1
        prop = args.get("PropertyName")
        if not isinstance(prop, Operand) or prop.kind != "string":
            raise errors.bad_request(f"{name} needs PropertyName='<column>'.")
        column_operand = self._property(Token("name", str(prop.value), token.pos))
        column = column_operand.column
        assert column is not None
        amount = args.get("PropertyValue")
        return function_sql(
            name, column_operand.sql, column_operand.presence,
            values=args.get("PropertyValues"), amount=amount.value if isinstance(amount, Operand) else amount,
            coerce=lambda value: self._coerce(column, value), user_id=self.user_id, params=self.params,
        )

    def _named_arguments(self) -> dict[str, Any]:
        self._next("(")
        args: dict[str, Any] = {}
        while True:
            token = self._peek()
            if token is None or token.text == ")":
                break
            name = self._next().text
            self._next_equals(name)
            args[name] = self._argument_value()
            if self._peek() is not None and self._peek().text == ",":  # type: ignore[union-attr]
                self._next()
        self._next(")")
        return args

    def _next_equals(self, name: str) -> None:
        token = self._next("=")
        if token.text != "=":
            raise syntax_error(self.text, token.pos, f"expected '=' after '{name}'")

    def _argument_value(self) -> Any:
        token = self._peek()
        if token is not None and token.text == "[":
            self._next()
            values: list[Operand] = []
            while self._peek() is not None and self._peek().text != "]":  # type: ignore[union-attr]
                values.append(self._operand_literal())
                if self._peek() is not None and self._peek().text == ",":  # type: ignore[union-attr]
                    self._next()
            self._next("]")
            return values
        return self._operand_literal()

    def _operand_literal(self) -> Operand:
        token = self._next(what="a value")
        if token.kind == "name" and token.text.startswith("@"):
            if token.text not in self.aliases:
                raise errors.bad_request(f"The parameter alias '{token.text}' has no value in the query string.")
            raw = self.aliases[token.text].strip()
            if raw.startswith("["):
                raise errors.bad_request("Array aliases are not supported; write PropertyValues=[...] inline.")
            return self._literal_from_text(raw, token.pos)
        return self._literal(token)
