"""``GET <set>?fetchXml=<fetch …>``: a FetchXML subset translated to parameterised SQL.

Supported: one ``<entity>`` with ``<attribute>``/``<all-attributes>``, nested ``<filter
type="and|or">`` with ``<condition>`` operators ``eq ne gt ge lt le like not-like
begins-with not-begin-with ends-with not-end-with null not-null in not-in eq-userid
ne-userid``, ``<order attribute descending>``, and ``top``/``count``/``page`` on ``<fetch>``
(with ``@Microsoft.Dynamics.CRM.morerecords``). ``<link-entity>`` and aggregates are 400.
Text conditions and orders are case- and accent-insensitive, like ``$filter``
(:mod:`d365lab.mock.collation`).
"""

from __future__ import annotations

import math
from typing import Any
from xml.etree import ElementTree

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import encode_row, selected_columns
from d365lab.mock.collation import comparison_sql, comparison_value, like_escape, presence_sql
from d365lab.mock.limits import INT32_RANGE, MAX_FETCH_CONDITIONS, MAX_FETCH_DEPTH, MAX_QUERY_VALUES, limit_exceeded
from d365lab.mock.query_values import number_for
from d365lab.mock.service_errors import MockError
from d365lab.mock.store import quote
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.validation import normalize_datetime, normalize_guid
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, Column, ColumnType, Table

_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_LIKE = {"like": ("", ""), "begins-with": ("", "%"), "ends-with": ("%", ""),
         "not-like": ("", ""), "not-begin-with": ("", "%"), "not-end-with": ("%", "")}


def fetch_error(message: str) -> MockError:
    """400 for FetchXML the mock cannot run."""
    return errors.bad_request(f"FetchXML: {message}", code="0x80041103")


class FetchCompiler:
    """Compile one ``<fetch>`` document for the table of the entity set it was sent to."""

    def __init__(self, table: Table, text: str, user_id: str) -> None:
        self.table = table
        self.user_id = user_id
        self.params: list[Any] = []
        try:
            self.root = ElementTree.fromstring(text)
        except ElementTree.ParseError as exc:
            raise fetch_error(f"the document is not well-formed XML ({exc})") from None
        if self.root.tag != "fetch":
            raise fetch_error("the root element must be <fetch>")
        entity = self.root.find("entity")
        if entity is None or entity.get("name") != table.logical_name:
            raise fetch_error(f"<entity name='{table.logical_name}'> is required for this entity set")
        self.entity = entity
        #: Aggregates and joins run in :mod:`d365lab.mock.query_link` (``aggregate="true"``, ``<link-entity>``).
        self.needs_joins = (self.root.get("aggregate", "false").lower() == "true"
                            or entity.find(".//link-entity") is not None
                            or entity.find(".//condition[@entityname]") is not None)

    def column(self, name: str | None) -> Column:
        """A column named by an ``attribute`` attribute (unknown -> 400)."""
        column = self.table.columns.get(name or "")
        if column is None:
            raise fetch_error(f"'{self.table.logical_name}' entity doesn't contain attribute with Name = '{name}'")
        return column

    def select(self) -> list[str] | None:
        """Attribute names (None for ``<all-attributes/>`` or none listed)."""
        if self.entity.find("all-attributes") is not None:
            return None
        names = [self.column(a.get("name")).name for a in self.entity.findall("attribute")]
        return names or None

    def where(self) -> str:
        """The SQL condition of every top-level ``<filter>`` (and-ed)."""
        self._check_size()
        parts = [self._filter(f) for f in self.entity.findall("filter")]
        return " AND ".join(p for p in parts if p)

    def order(self) -> str:
        """``ORDER BY`` terms, then the primary key."""
        terms = []
        for item in self.entity.findall("order"):
            column = self.column(item.get("attribute"))
            descending = item.get("descending", "false").lower() == "true"
            terms.append(f"{comparison_sql(column)}{' DESC' if descending else ''}")
        terms.append(quote(self.table.primary_id))
        return ", ".join(terms)

    def _check_size(self) -> None:
        """Refuse documents past the stated limits before compiling (nesting, conditions, values)."""
        conditions = 0
        values = 0
        owners = [self.entity, *self.entity.iter("link-entity")]  # a link's filters count too
        stack = [(f, 1) for owner in owners for f in owner.findall("filter")]
        while stack:
            element, depth = stack.pop()
            if depth > MAX_FETCH_DEPTH:
                raise limit_exceeded("nesting of <filter> elements in FetchXML", MAX_FETCH_DEPTH)
            for child in element:
                if child.tag == "filter":
                    stack.append((child, depth + 1))
                elif child.tag == "condition":
                    conditions += 1
                    values += 1 + len(child.findall("value"))
        if conditions > MAX_FETCH_CONDITIONS:
            raise limit_exceeded("<condition> elements in FetchXML", MAX_FETCH_CONDITIONS)
        if values > MAX_QUERY_VALUES:
            raise limit_exceeded("values in one FetchXML query", MAX_QUERY_VALUES)

    def _filter(self, element: ElementTree.Element) -> str:
        joiner = " OR " if element.get("type", "and").lower() == "or" else " AND "
        parts: list[str] = []
        for child in element:
            if child.tag == "condition":
                parts.append(self._condition(child))
            elif child.tag == "filter":
                nested = self._filter(child)
                if nested:
                    parts.append(nested)
        return "(" + joiner.join(parts) + ")" if parts else ""

    def _value(self, column: Column, raw: str | None) -> Any:
        if raw is None:
            raise fetch_error(f"the condition on '{column.name}' needs a value")
        text = raw.strip()
        try:
            if column.is_lookup or column.type is ColumnType.GUID:
                ident = normalize_guid(text)
                if ident is None:
                    raise ValueError(text)
                return ident
            if column.type is ColumnType.BOOLEAN:
                return 1 if text.lower() in ("1", "true") else 0
            if column.type in INTEGER_TYPES:
                return number_for(column, int(text))
            if column.type in REAL_TYPES:
                number = float(text)
                if not math.isfinite(number):
                    raise ValueError(text)
                return number
            if column.type is ColumnType.DATETIME:
                normalized = normalize_datetime(text)
                if normalized is None:
                    raise ValueError(text)
                return normalized
        except ValueError:
            raise fetch_error(f"'{raw}' is not a valid value for '{column.name}'") from None
        return comparison_value(column, raw)

    def resolve(self, element: ElementTree.Element) -> tuple[Column, str, str]:
        """The column a ``<condition>`` names, its comparison SQL and its ``IS NULL`` SQL."""
        column = self.column(element.get("attribute"))
        return column, comparison_sql(column), presence_sql(column)

    def _condition(self, element: ElementTree.Element) -> str:
        column, sql, presence = self.resolve(element)
        operator = (element.get("operator") or "").lower()
        if operator in _COMPARE:
            self.params.append(self._value(column, element.get("value")))
            if operator == "ne":
                return f"({sql} <> ? OR {sql} IS NULL)"
            return f"({sql} {_COMPARE[operator]} ?)"
        if operator in _LIKE:
            prefix, suffix = _LIKE[operator]
            value = comparison_value(column, element.get("value") or "")
            if operator not in ("like", "not-like"):
                value = like_escape(value)
            self.params.append(f"{prefix}{value}{suffix}")
            negate = "NOT " if operator.startswith("not-") else ""
            return f"({sql} {negate}LIKE ? ESCAPE '\\')"
        if operator in ("null", "not-null"):
            return f"({presence} IS {'NOT ' if operator == 'not-null' else ''}NULL)"
        if operator in ("in", "not-in"):
            values = [self._value(column, v.text) for v in element.findall("value")]
            if not values:
                raise fetch_error(f"the '{operator}' condition on '{column.name}' needs <value> elements")
            self.params.extend(values)
            marks = ", ".join("?" for _ in values)
            return f"({sql} {'NOT IN' if operator == 'not-in' else 'IN'} ({marks}))"
        if operator in ("eq-userid", "ne-userid"):
            self.params.append(self.user_id)
            return f"({sql} {'=' if operator == 'eq-userid' else '<>'} ?)"
        raise fetch_error(f"the condition operator '{operator}' is not supported by the mock tenant")

    def paging(self, max_page: int) -> tuple[int, int]:
        """``(limit, offset)`` from ``top`` or ``count``/``page``."""
        try:
            top = int(self.root.get("top", "0") or 0)
            count = int(self.root.get("count", "0") or 0)
            page = int(self.root.get("page", "1") or 1)
        except ValueError:
            raise fetch_error("top, count and page must be integers") from None
        if not 0 <= top <= INT32_RANGE[1] or not 0 <= count <= INT32_RANGE[1]:
            raise fetch_error(f"top and count must be whole numbers from 1 to {INT32_RANGE[1]}")
        if not 1 <= page <= INT32_RANGE[1]:
            raise fetch_error(f"page must be a whole number from 1 to {INT32_RANGE[1]}")
        if top:
            return min(top, max_page), 0
        size = min(count or max_page, max_page)
        return size, (page - 1) * size


def fetch_response(tenant: SqliteTenant, request: MockRequest, table: Table) -> MockResponse:
    """Run the ``fetchXml`` query option of a collection GET."""
    compiler = FetchCompiler(table, request.query["fetchXml"], tenant.caller.user_id)
    if compiler.needs_joins:
        from d365lab.mock.query_link import linked_fetch_response

        return linked_fetch_response(tenant, request, table)
    from d365lab.mock import query_fetch_paging as paging

    select = compiler.select()
    columns = selected_columns(table, select)
    where = compiler.where()
    params = list(compiler.params)
    limit, offset = compiler.paging(tenant.settings.max_page_size)
    keyset = paging.cookie_keyset(compiler)
    conditions = [where] if where else []
    if keyset is not None:
        conditions.append(keyset[0])
        offset = 0
    rows = tenant.store.select(table, " AND ".join(conditions), params + (keyset[1] if keyset else []),
                               compiler.order(), limit + 1 + offset)[offset:]
    more = len(rows) > limit
    rows = rows[:limit]
    patterns = annotation_patterns(request.prefer())
    fragment = f"{table.entity_set}({','.join(select)})" if select else table.entity_set
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{fragment}"}
    if request.query.get("$count", "").lower() == "true":
        from d365lab.mock.query import count_rows

        body["@odata.count"] = count_rows(tenant, table, where, params)
    if more and rows and (tenant.settings.fetch_paging_cookie == "always" or paging.cookie_wanted(patterns)):
        cookie = paging.paging_cookie(compiler, paging.page_number(compiler), rows[0], rows[-1])
        if cookie is not None:
            body[f"@{paging.PAGING_COOKIE}"] = cookie
    if more:
        body["@Microsoft.Dynamics.CRM.morerecords"] = True
    body["value"] = [encode_row(tenant, table, row, columns=columns, annotations=patterns) for row in rows]
    from d365lab.mock.query import applied

    return json_response(200, body, applied(request))
