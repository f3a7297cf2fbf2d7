"""FetchXML ``<link-entity>``: joins, their filters and attributes, for plain and aggregate queries.

A ``<link-entity name from to link-type alias>`` joins ``name`` (matching its ``from``
column to the parent's ``to`` column) as ``inner`` (default) or ``outer``; ``exists``,
``in`` and ``any`` keep the rows that have a match and ``not any`` those that have none,
without adding rows. A link's ``<filter>`` narrows the joined rows (for ``outer``, in the
join condition), a root ``<condition entityname="alias">`` tests a linked column (``null``
on an outer link: rows without a match). Linked ``<attribute>``s come back as
``<alias>.<column>`` (or under the attribute's own ``alias``), the link alias defaulting
to ``<table><n>`` (``contact1``); a null linked value is left out. Links nest; a query
holds at most 15 (the service's limit). Every column is qualified by its table's SQL alias (``t0`` is the root).

Plain linked queries page with ``count``/``page`` (no paging cookie: Dataverse does not
promise one for joined queries); ``aggregate="true"`` runs in
:mod:`d365lab.mock.query_fetch_aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from d365lab.mock.codec import (
    FORMATTED,
    LOOKUP_LOGICAL_NAME,
    annotation_wanted,
    encode_row,
    format_value,
    selected_columns,
)
from d365lab.mock.query import COUNT_CAP
from d365lab.mock.query_aggregate import Source
from d365lab.mock.query_fetch import FetchCompiler, fetch_error
from d365lab.mock.store import quote, target_column
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response
from d365lab.models.schema import TABLES, Column, ColumnType, Table

#: Most ``<link-entity>`` elements in one query (Dataverse's limit).
MAX_LINKS = 15
_JOINS = {"inner": "INNER JOIN", "outer": "LEFT OUTER JOIN"}
_SEMI_JOINS = {"exists": "EXISTS", "in": "EXISTS", "any": "EXISTS", "not any": "NOT EXISTS"}
ATTRIBUTE_NAME = "OData.Community.Display.V1.AttributeName"


@dataclass
class Link:
    """One ``<link-entity>``: its source, FetchXML alias, element and SQL."""

    source: Source
    alias: str
    element: ElementTree.Element
    link_type: str
    join_sql: str = ""
    params: list[Any] = field(default_factory=list)


class LinkedFetchCompiler(FetchCompiler):
    """A :class:`FetchCompiler` that qualifies columns and compiles ``<link-entity>`` joins."""

    def __init__(self, table: Table, text: str, user_id: str) -> None:
        super().__init__(table, text, user_id)
        self.root_source = Source("t0", table)
        self.current = self.root_source
        self.links: list[Link] = []
        self.by_alias: dict[str, Link] = {}
        self.semi_joins: list[tuple[str, list[Any]]] = []
        self.aggregate = self.root.get("aggregate", "false").lower() == "true"
        self._compile_links()

    # ------------------------------------------------------------- scopes

    def column(self, name: str | None) -> Column:
        """A column of the table in scope (the root, or the link whose filter is compiled)."""
        table = self.current.table
        column = table.columns.get(name or "")
        if column is None:
            raise fetch_error(f"'{table.logical_name}' entity doesn't contain attribute with Name = '{name}'")
        return column

    def resolve(self, element: ElementTree.Element) -> tuple[Column, str, str]:
        """A condition's column, qualified by its table (``entityname`` names a link alias)."""
        source = self.current
        linked = element.get("entityname")
        if linked:
            link = self.by_alias.get(linked)
            if link is None or not link.join_sql or self.current is not self.root_source:
                raise fetch_error(f"No inner or outer link-entity with the alias '{linked}' is in scope")
            source = link.source
        saved, self.current = self.current, source
        try:
            column = self.column(element.get("attribute"))
        finally:
            self.current = saved
        return column, source.compare_sql(column), source.presence_sql(column)

    def _scoped_filter(self, source: Source, element: ElementTree.Element) -> tuple[str, list[Any]]:
        """One ``<filter>`` compiled for ``source``, with its own parameters."""
        saved_scope, saved_params = self.current, self.params
        self.current, self.params = source, []
        try:
            sql = self._filter(element)
            return sql, self.params
        finally:
            self.current, self.params = saved_scope, saved_params

    # ------------------------------------------------------------- links

    def _compile_links(self) -> None:
        parents = {child: parent for parent in self.entity.iter() for child in parent}
        sources: dict[ElementTree.Element, Source] = {self.entity: self.root_source}
        elements = list(self.entity.iter("link-entity"))
        if len(elements) > MAX_LINKS:
            raise fetch_error("Number of link entities in query exceeded maximum limit.")
        for index, element in enumerate(elements, start=1):
            parent_element = parents[element]
            parent = sources.get(parent_element)
            if parent is None:
                raise fetch_error("a <link-entity> must be inside <entity> or another <link-entity>")
            name = element.get("name") or ""
            table = TABLES.get(name)
            if table is None:
                raise fetch_error(f"The entity with a name = '{name}' was not found in the MetadataCache.")
            source = Source(f"t{index}", table)
            link_type = (element.get("link-type") or "inner").lower()
            if link_type not in _JOINS and link_type not in _SEMI_JOINS:
                raise fetch_error(f"the link-type '{link_type}' is not supported by the mock tenant")
            alias = element.get("alias") or f"{name}{index}"
            if alias in self.by_alias:
                raise fetch_error(f"The alias '{alias}' is used by two link-entity elements")
            link = Link(source, alias, element, link_type)
            on = self._join_condition(link, parent)
            conditions, params = [on], []
            for item in element.findall("filter"):
                sql, filter_params = self._scoped_filter(source, item)
                if sql:
                    conditions.append(sql)
                    params += filter_params
            if link_type in _SEMI_JOINS:
                if element.find("link-entity") is not None or element.find("attribute") is not None:
                    raise fetch_error(f"a '{link_type}' link-entity takes no attributes and no nested links")
                sub = (f"{_SEMI_JOINS[link_type]} (SELECT 1 FROM {quote(name)} AS {source.sql_alias} "
                       f"WHERE {' AND '.join(conditions)})")
                self.semi_joins.append((sub, params))
            else:
                link.join_sql = (f" {_JOINS[link_type]} {quote(name)} AS {source.sql_alias} "
                                 f"ON {' AND '.join(conditions)}")
                link.params = params
                sources[element] = source
            self.links.append(link)
            self.by_alias[alias] = link

    def _join_condition(self, link: Link, parent: Source) -> str:
        from_name, to_name = link.element.get("from"), link.element.get("to")
        if not from_name or not to_name:
            raise fetch_error(f"the link-entity '{link.source.table.logical_name}' needs 'from' and 'to'")
        saved = self.current
        try:
            self.current = link.source
            far = self.column(from_name)
            self.current = parent
            near = self.column(to_name)
        finally:
            self.current = saved
        return f"{link.source.value_sql(far)} = {parent.value_sql(near)}"

    # ------------------------------------------------------------- SQL

    def from_sql(self) -> tuple[str, list[Any]]:
        """``FROM <root> AS t0 <joins>`` and the joins' parameters."""
        params: list[Any] = []
        joins = ""
        for link in self.links:
            if link.join_sql:
                joins += link.join_sql
                params += link.params
        return f"FROM {quote(self.table.logical_name)} AS t0{joins}", params

    def full_where(self) -> tuple[str, list[Any]]:
        """The root filters and the semi-joins, and their parameters (after the joins')."""
        self.current, self.params = self.root_source, []
        parts = [self.where()]
        params = list(self.params)
        for sql, sub_params in self.semi_joins:
            parts.append(sql)
            params += sub_params
        return " AND ".join(p for p in parts if p), params

    def joined_links(self) -> list[Link]:
        """Links that add rows (inner and outer)."""
        return [link for link in self.links if link.join_sql]

    def order_terms(self) -> str:
        """Root and linked ``<order attribute>`` terms, then every joined table's key."""
        terms: list[str] = []
        for source, element in [(self.root_source, self.entity), *((k.source, k.element) for k in self.joined_links())]:
            for item in element.findall("order"):
                self.current = source
                column = self.column(item.get("attribute"))
                descending = item.get("descending", "false").lower() == "true"
                terms.append(f"{source.compare_sql(column)}{' DESC' if descending else ''}")
        self.current = self.root_source
        for source in [self.root_source, *(k.source for k in self.joined_links())]:
            terms.append(source.value_sql(source.table.columns[source.table.primary_id]))
        return ", ".join(terms)

    def linked_attributes(self, link: Link) -> list[tuple[Column, str]]:
        """The columns a plain query returns for one link and their keys (``<alias>.<column>``, or
        the attribute's own ``alias``); ``<all-attributes/>``: every column."""
        if link.element.find("all-attributes") is not None:
            return [(c, f"{link.alias}.{c.name}") for c in link.source.table.columns.values()]
        self.current = link.source
        columns = [(self.column(a.get("name")), a.get("alias") or f"{link.alias}.{a.get('name')}")
                   for a in link.element.findall("attribute")]
        self.current = self.root_source
        return columns


def _linked_value_sql(link: Link, column: Column) -> list[str]:
    value = link.source.value_sql(column)
    if column.is_lookup:
        return [value, f"{link.source.sql_alias}.{quote(target_column(column.name))}"]
    return [value]


def _encode_linked(columns: list[tuple[Column, str]], values: list[Any], patterns: list[str] | None,
                   out: dict[str, Any]) -> None:
    """Add the linked values (null ones left out) to one answered row."""
    want_formatted = annotation_wanted(patterns, FORMATTED)
    want_name = annotation_wanted(patterns, ATTRIBUTE_NAME)
    want_logical = annotation_wanted(patterns, LOOKUP_LOGICAL_NAME)
    items = iter(values)
    for column, key in columns:
        value = next(items)
        target = next(items) if column.is_lookup else None
        if value is None:
            continue
        if column.type is ColumnType.BOOLEAN:
            value = bool(value)
        elif column.type is ColumnType.MONEY:
            value = round(float(value), 4)
        if want_name:
            out[f"{key}@{ATTRIBUTE_NAME}"] = column.name
        if column.is_lookup and want_logical and target:
            out[f"{key}@{LOOKUP_LOGICAL_NAME}"] = target
        if want_formatted and not column.is_lookup:
            formatted = format_value(column, value)
            if formatted is not None:
                out[f"{key}@{FORMATTED}"] = formatted
        out[key] = value


def linked_fetch_response(tenant: SqliteTenant, request: MockRequest, table: Table) -> MockResponse:
    """Run a FetchXML query with ``<link-entity>`` elements or ``aggregate="true"``."""
    compiler = LinkedFetchCompiler(table, request.query["fetchXml"], tenant.caller.user_id)
    if compiler.aggregate:
        from d365lab.mock.query_fetch_aggregate import aggregate_fetch_response

        return aggregate_fetch_response(tenant, request, table, compiler)
    from_sql, params = compiler.from_sql()
    where, where_params = compiler.full_where()
    params += where_params
    select = compiler.select()
    columns = selected_columns(table, select)
    st = tenant.store.tables[table.logical_name]
    items = [f"t0.{quote(name)}" for name in st.sql_columns]
    linked = [(link, compiler.linked_attributes(link)) for link in compiler.joined_links()]
    for link, link_columns in linked:
        for column, _ in link_columns:
            items += _linked_value_sql(link, column)
    limit, offset = compiler.paging(tenant.settings.max_page_size)
    sql = f"SELECT {', '.join(items)} {from_sql}" + (f" WHERE {where}" if where else "")
    found = tenant.store.rows(f"{sql} ORDER BY {compiler.order_terms()} LIMIT {limit + 1} OFFSET {offset}", params)
    more = len(found) > limit
    patterns = annotation_patterns(request.prefer())
    width = len(st.sql_columns)
    rows: list[dict[str, Any]] = []
    for values in found[:limit]:
        out = encode_row(tenant, table, tenant.store.row_from_sql(table, values[:width]), columns=columns,
                         annotations=patterns)
        position = width
        for _, link_columns in linked:
            size = sum(2 if c.is_lookup else 1 for c, _ in link_columns)
            _encode_linked(link_columns, list(values[position:position + size]), patterns, out)
            position += size
        rows.append(out)
    fragment = f"{table.entity_set}({','.join(select)})" if select else table.entity_set
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{fragment}"}
    if request.query.get("$count", "").lower() == "true":
        count_sql = f"SELECT COUNT(*) FROM (SELECT 1 {from_sql}" + (f" WHERE {where}" if where else "")
        body["@odata.count"] = int(tenant.store.rows(f"{count_sql} LIMIT {COUNT_CAP})", params)[0][0])
    if more:
        body["@Microsoft.Dynamics.CRM.morerecords"] = True
    body["value"] = rows
    return json_response(200, body)
