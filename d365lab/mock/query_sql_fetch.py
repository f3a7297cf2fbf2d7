"""``?sql=`` statements with JOIN, GROUP BY, DISTINCT or aggregates, run as FetchXML.

``SELECT [DISTINCT] [TOP n] <items> FROM <table> [<alias>] [[INNER|LEFT [OUTER]] JOIN <table>
[<alias>] ON <a.col> = <b.col> …] [WHERE …] [GROUP BY <cols>] [ORDER BY <col|alias> [ASC|DESC], …]``
where an item is ``[alias.]column [AS name]``, ``COUNT(*)``, ``COUNT([DISTINCT] col)``,
``SUM|AVG|MIN|MAX(col)`` (each ``[AS name]``; unnamed aggregates are answered as
``count``, ``sum_<col>``, … — UNVERIFIED, Dataverse's own naming is not documented). The
statement becomes a FetchXML document (joins as ``<link-entity>``, aggregates as
``aggregate="true"``, ``DISTINCT`` as a group on every column), so the same validation,
the same aggregate limit and the same answers apply. A joined column comes back under its
name (or ``AS`` name). The WHERE clause takes what the simple subset takes plus
``BETWEEN`` and qualified columns; ``NOT`` only in ``NOT LIKE``, ``NOT IN``, ``IS NOT NULL``.
Statements without these features keep the OData translation (:mod:`d365lab.mock.query_sql`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree

from d365lab.mock.limits import MAX_FETCH_CONDITIONS, MAX_FETCH_DEPTH, limit_exceeded
from d365lab.mock.query_sql import SqlTokenCursor, sql_error, sql_tokens
from d365lab.models.schema import TABLES, Table

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|"
                    r"(?P<op><>|!=|>=|<=|=|>|<)|(?P<punct>[(),.*])|(?P<word>[A-Za-z_]\w*))")
_FEATURES = re.compile(r"\b(JOIN|GROUP\s+BY|DISTINCT|COUNT|SUM|AVG|MIN|MAX)\b", re.IGNORECASE)
_OPERATORS = {"=": "eq", "<>": "ne", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le"}
_AGGREGATES = {"COUNT": "count", "SUM": "sum", "AVG": "avg", "MIN": "min", "MAX": "max"}
_KEYWORDS = frozenset({"FROM", "WHERE", "GROUP", "ORDER", "JOIN", "INNER", "LEFT", "OUTER", "ON", "AS", "BY"})


def needs_fetch(sql: str) -> bool:
    """True for statements the OData translation cannot express (joins, groups, aggregates)."""
    return _FEATURES.search(sql) is not None


@dataclass
class _Scope:
    """A table of the statement: its FetchXML element and, for joins, its link alias."""

    table: Table
    element: ElementTree.Element
    link_alias: str | None = None


@dataclass
class _Item:
    column: str
    scope: _Scope
    name: str
    function: str | None = None
    distinct: bool = False


@dataclass
class _Statement:
    scopes: dict[str, _Scope] = field(default_factory=dict)
    items: list[_Item] = field(default_factory=list)


class SqlToFetch(SqlTokenCursor):
    """Translate one statement on ``table`` into FetchXML text."""

    def __init__(self, table: Table, sql: str) -> None:
        super().__init__(sql_tokens(sql.strip().rstrip(";"), _TOKEN))
        self.table = table
        self.sql = sql
        self.conditions = 0

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise sql_error(f"the statement ends too early{f' (expected {expected})' if expected else ''}")
        if expected is not None and token[1].upper() != expected:
            raise sql_error(f"expected {expected}, found {token[1]!r}")
        self.pos += 1
        return token

    def _accept(self, word: str) -> bool:
        if self._word() == word:
            self.pos += 1
            return True
        return False

    # ------------------------------------------------------------- statement

    def translate(self) -> str:
        """The FetchXML document."""
        self._take("SELECT")
        fetch = ElementTree.Element("fetch")
        distinct = self._accept("DISTINCT")
        if self._accept("TOP"):
            kind, count = self._take()
            if kind != "number" or not count.isdigit() or not 0 < int(count) <= 5000:
                raise sql_error("TOP takes a whole number from 1 to 5000")
            fetch.set("top", count)
        raw_items = self._select_list()
        self._take("FROM")
        statement = _Statement()
        name = self._table_name()
        if name != self.table.logical_name:
            raise sql_error(f"FROM {name} does not match the entity set {self.table.entity_set}")
        root = ElementTree.SubElement(fetch, "entity", name=name)
        root_scope = _Scope(self.table, root)
        self._register(statement, root_scope, self._alias())
        while self._word() in ("JOIN", "INNER", "LEFT"):
            self._join(statement)
        where = None
        if self._accept("WHERE"):
            where = self._or(statement, 0)
        groups: list[tuple[str | None, str]] = []
        if self._accept("GROUP"):
            self._take("BY")
            groups = self._column_list()
        orders: list[tuple[str | None, str, bool]] = []
        if self._accept("ORDER"):
            self._take("BY")
            self._column_list(directions=orders)
        if self._peek() is not None:
            raise sql_error(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        for qualifier, name, alias, function, distinct_count in raw_items:
            scope = self._scope(statement, qualifier)
            statement.items.append(_Item(name, scope, alias or (name if function is None else _default_name(
                function, name)), function, distinct_count))
        aggregate = distinct or bool(groups) or any(item.function for item in statement.items)
        if aggregate:
            self._aggregate_items(statement, groups, distinct)
            fetch.set("aggregate", "true")
        else:
            self._plain_items(statement)
        if where is not None:
            root.append(where)
        for qualifier, name, descending in orders:
            self._order(statement, root, qualifier, name, descending, aggregate)
        return ElementTree.tostring(fetch, encoding="unicode")

    def _table_name(self) -> str:
        kind, name = self._take()
        if kind != "word" or name.lower() not in TABLES:
            raise sql_error(f"unknown table {name!r}")
        return name.lower()

    def _alias(self) -> str | None:
        token = self._peek()
        if token is not None and token[0] == "word" and token[1].upper() not in _KEYWORDS | {"WHERE"}:
            self.pos += 1
            return token[1].lower()
        return None

    def _register(self, statement: _Statement, scope: _Scope, alias: str | None) -> None:
        for name in (scope.table.logical_name, alias):
            if name is not None:
                statement.scopes[name] = scope

    def _scope(self, statement: _Statement, qualifier: str | None) -> _Scope:
        if qualifier is None:
            return statement.scopes[self.table.logical_name]
        scope = statement.scopes.get(qualifier.lower())
        if scope is None:
            raise sql_error(f"unknown table or alias {qualifier!r}")
        return scope

    def _select_list(self) -> list[tuple[str | None, str, str | None, str | None, bool]]:
        items: list[tuple[str | None, str, str | None, str | None, bool]] = []
        while True:
            function = _AGGREGATES.get(self._word()) if self._peek(1) == ("punct", "(") else None
            distinct = False
            if function is not None:
                self.pos += 1
                self._take("(")
                distinct = self._accept("DISTINCT")
                if self._peek() == ("punct", "*"):
                    self.pos += 1
                    if function != "count":
                        raise sql_error("only COUNT takes *")
                    qualifier, name = None, "*"
                else:
                    qualifier, name = self._column()
                    function = "countcolumn" if function == "count" else function
                self._take(")")
            elif self._peek() == ("punct", "*"):
                self.pos += 1
                qualifier, name = None, "*"
            else:
                qualifier, name = self._column()
            alias = None
            if self._accept("AS"):
                kind, alias = self._take()
                if kind != "word":
                    raise sql_error("AS takes a name")
            items.append((qualifier, name, alias, function, distinct))
            if self._peek() != ("punct", ","):
                return items
            self.pos += 1

    def _column(self) -> tuple[str | None, str]:
        kind, first = self._take()
        if kind != "word":
            raise sql_error(f"expected a column, found {first!r}")
        if self._peek() == ("punct", "."):
            self.pos += 1
            kind, second = self._take()
            if kind != "word":
                raise sql_error(f"expected a column after {first}.")
            return first, second.lower()
        return None, first.lower()

    def _column_list(self, directions: list[tuple[str | None, str, bool]] | None = None,
                     ) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        while True:
            qualifier, name = self._column()
            out.append((qualifier, name))
            if directions is not None:
                descending = self._word() == "DESC"
                if self._word() in ("ASC", "DESC"):
                    self.pos += 1
                directions.append((qualifier, name, descending))
            if self._peek() != ("punct", ","):
                return out
            self.pos += 1

    def _join(self, statement: _Statement) -> None:
        link_type = "outer" if self._word() == "LEFT" else "inner"
        if self._accept("LEFT"):
            self._accept("OUTER")
        else:
            self._accept("INNER")
        self._take("JOIN")
        name = self._table_name()
        alias = self._alias() or name
        self._take("ON")
        left = self._column()
        kind, op = self._take()
        if op != "=":
            raise sql_error("JOIN … ON takes one equality between two columns")
        right = self._column()
        if (left[0] or "").lower() == alias:
            left, right = right, left
        if (right[0] or "").lower() != alias:
            raise sql_error(f"the ON condition of JOIN {name} must name a column of {alias}")
        parent = self._scope(statement, left[0])
        element = ElementTree.SubElement(parent.element, "link-entity", name=name, alias=alias,
                                         attrib={"from": right[1], "to": left[1], "link-type": link_type})
        scope = _Scope(TABLES[name], element, alias)
        statement.scopes[alias] = scope
        if name != alias and name not in statement.scopes:
            statement.scopes[name] = scope

    # ------------------------------------------------------------- items

    def _plain_items(self, statement: _Statement) -> None:
        for item in statement.items:
            if item.column == "*":
                if item.scope.link_alias is not None:
                    raise sql_error("* selects the columns of the FROM table only")
                ElementTree.SubElement(item.scope.element, "all-attributes")
                continue
            attributes = {"name": item.column}
            if item.scope.link_alias is not None:
                attributes["alias"] = item.name
            ElementTree.SubElement(item.scope.element, "attribute", attributes)

    def _aggregate_items(self, statement: _Statement, groups: list[tuple[str | None, str]], distinct: bool) -> None:
        grouped = {(id(self._scope(statement, q)), name) for q, name in groups}
        for item in statement.items:
            if item.column == "*" and item.function is None:
                raise sql_error("SELECT * cannot be grouped")
            attributes = {"name": item.column, "alias": item.name}
            if item.function is None:
                if not distinct and (id(item.scope), item.column) not in grouped:
                    raise sql_error(f"{item.column} must be in GROUP BY or inside an aggregate")
                attributes["groupby"] = "true"
            else:
                if item.column == "*":
                    attributes["name"] = item.scope.table.primary_id
                attributes["aggregate"] = item.function
                if item.distinct:
                    attributes["distinct"] = "true"
            ElementTree.SubElement(item.scope.element, "attribute", attributes)

    def _order(self, statement: _Statement, root: ElementTree.Element, qualifier: str | None, name: str,
               descending: bool, aggregate: bool) -> None:
        flag = {"descending": "true"} if descending else {}
        if aggregate:
            scope = self._scope(statement, qualifier) if qualifier is not None else None
            matches = [item.name for item in statement.items
                       if (qualifier is None and item.name.lower() == name)
                       or (item.function is None and item.column == name and scope in (None, item.scope))]
            if not matches:
                raise sql_error(f"ORDER BY {name}: name a column or alias of the SELECT list")
            ElementTree.SubElement(root, "order", alias=matches[0], attrib=flag)
            return
        scope = self._scope(statement, qualifier)
        ElementTree.SubElement(scope.element, "order", attribute=name, attrib=flag)

    # ------------------------------------------------------------- WHERE

    def _or(self, statement: _Statement, depth: int) -> ElementTree.Element:
        return self._junction(statement, depth, "OR")

    def _junction(self, statement: _Statement, depth: int, word: str) -> ElementTree.Element:
        if depth > MAX_FETCH_DEPTH:
            raise limit_exceeded("nesting of parentheses in a ?sql= WHERE clause", MAX_FETCH_DEPTH)
        element = ElementTree.Element("filter", type=word.lower())
        while True:
            if word == "OR":
                element.append(self._junction(statement, depth + 1, "AND"))
            else:
                element.append(self._predicate(statement, depth))
            if not self._accept(word):
                return element

    def _predicate(self, statement: _Statement, depth: int) -> ElementTree.Element:
        if self._peek() == ("punct", "("):
            self.pos += 1
            inner = self._or(statement, depth + 1)
            self._take(")")
            return inner
        self.conditions += 1
        if self.conditions > MAX_FETCH_CONDITIONS:
            raise limit_exceeded("conditions in a ?sql= WHERE clause", MAX_FETCH_CONDITIONS)
        qualifier, name = self._column()
        scope = self._scope(statement, qualifier)
        condition = ElementTree.Element("condition", attribute=name)
        if scope.link_alias is not None:
            condition.set("entityname", scope.link_alias)
        negate = self._accept("NOT")
        keyword = self._word()
        if keyword == "IS":
            self.pos += 1
            condition.set("operator", "not-null" if self._accept("NOT") else "null")
            self._take("NULL")
        elif keyword == "LIKE":
            self.pos += 1
            condition.set("operator", "not-like" if negate else "like")
            condition.set("value", self._literal())
        elif keyword == "IN":
            self.pos += 1
            condition.set("operator", "not-in" if negate else "in")
            self._take("(")
            while True:
                ElementTree.SubElement(condition, "value").text = self._literal()
                if not self._peek() == ("punct", ","):
                    break
                self.pos += 1
            self._take(")")
        elif keyword == "BETWEEN" and not negate:
            self.pos += 1
            low = self._literal()
            self._take("AND")
            both = ElementTree.Element("filter", type="and")
            both.append(ElementTree.Element("condition", dict(condition.attrib, operator="ge", value=low)))
            both.append(ElementTree.Element("condition", dict(condition.attrib, operator="le",
                                                             value=self._literal())))
            return both
        else:
            if negate:
                raise sql_error("NOT must precede LIKE or IN here")
            kind, op = self._take()
            if kind != "op":
                raise sql_error(f"expected a comparison after {name}, found {op!r}")
            condition.set("operator", _OPERATORS[op])
            condition.set("value", self._literal())
        return condition

    def _literal(self) -> str:
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return text
        if kind == "word" and text.upper() in ("TRUE", "FALSE"):
            return "1" if text.upper() == "TRUE" else "0"
        raise sql_error(f"expected a value, found {text!r}")


def _default_name(function: str, column: str) -> str:
    """The name of an aggregate without ``AS`` (UNVERIFIED)."""
    if column == "*":
        return "count"
    return f"{'count' if function == 'countcolumn' else function}_{column}"


def fetch_for_sql(table: Table, sql: str) -> str | None:
    """FetchXML for a statement with joins, groups or aggregates; None for the simple subset."""
    if not needs_fetch(sql):
        return None
    return SqlToFetch(table, sql).translate()
