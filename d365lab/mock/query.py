"""Collection queries: ``$select``, ``$filter``, ``$orderby``, ``$top``, ``$count``, ``$expand``, paging.

Paging is keyset-based: the ``$skiptoken`` carries the last row's sort values and
primary key, so page *n* costs the same as page 1 (no OFFSET scan). Text columns sort by
their folded form (case- and accent-insensitive, :mod:`d365lab.mock.collation`), and the
token carries that form.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import encode_row, selected_columns
from d365lab.mock.collation import comparison_sql, comparison_value, presence_sql
from d365lab.mock.collection_annotations import collection_annotations
from d365lab.mock.intersect import link_condition
from d365lab.mock.limits import MAX_SKIPTOKEN_LENGTH, finite_float, has_surrogate, in_int64
from d365lab.mock.query_filter import FilterCompiler
from d365lab.mock.query_lexer import SYNTAX_ERROR
from d365lab.mock.query_options import Expansion, QueryOptions, parse_options
from d365lab.mock.relationships import OneToMany, one_to_many, parse_intersect_link
from d365lab.mock.store import quote, target_column
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Ref, Row
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response
from d365lab.models.schema import TABLES, Column, ColumnType, Table

COUNT_CAP = 5000
_URL_SAFE = "$,()='"


# ------------------------------------------------------------------- SQL building

def _sort_columns(table: Table, options: QueryOptions) -> list[tuple[Column, bool]]:
    keys: list[tuple[Column, bool]] = []
    for name, desc in options.orderby:
        bare = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
        column = table.columns.get(bare)
        if column is None:
            raise errors.unknown_property(name, table.logical_name)
        keys.append((column, desc))
    if not any(c.name == table.primary_id for c, _ in keys):
        # Ties follow the first key's direction: time-ordered keys (audit ids) keep "newest first".
        keys.append((table.columns[table.primary_id], keys[0][1] if keys else False))
    return keys


def _order_sql(keys: list[tuple[Column, bool]]) -> str:
    return ", ".join(f"{comparison_sql(c)}{' DESC' if desc else ''}" for c, desc in keys)


def _keyset_condition(keys: list[tuple[Column, bool]], last: list[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``last`` in the sort order (SQLite sorts NULL first ascending)."""
    clauses: list[str] = []
    params: list[Any] = []
    equal_prefix: list[str] = []
    equal_params: list[Any] = []
    for (column, desc), value in zip(keys, last, strict=True):
        name = comparison_sql(column)
        if value is None:
            present = presence_sql(column)
            after = "0" if desc else f"{present} IS NOT NULL"
            after_params: list[Any] = []
            equal, eq_params = f"{present} IS NULL", []
        else:
            after = f"({name} < ? OR {name} IS NULL)" if desc else f"{name} > ?"
            after_params = [value]
            equal, eq_params = f"{name} = ?", [value]
        clauses.append("(" + " AND ".join([*equal_prefix, after]) + ")")
        params.extend([*equal_params, *after_params])
        equal_prefix.append(equal)
        equal_params.extend(eq_params)
    return "(" + " OR ".join(clauses) + ")", params


def _encode_token(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_token(token: str, expected: int) -> list[Any]:
    """The sort values a ``$skiptoken`` carries: a flat list of ``expected`` scalars SQLite can bind."""
    invalid = errors.bad_request("The $skiptoken is not valid for this query.", code=SYNTAX_ERROR)
    if len(token) > MAX_SKIPTOKEN_LENGTH:
        raise invalid
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)),
                            parse_float=finite_float)
    except (ValueError, RecursionError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != expected or not all(_bindable(v) for v in values):
        raise invalid
    return values


def _bindable(value: Any) -> bool:
    """A sort value a token may carry: null, a 64-bit integer, a finite float or Unicode text."""
    if value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return in_int64(value)
    return isinstance(value, str) and not has_surrogate(value)


def where_clause(tenant: SqliteTenant, table: Table, options: QueryOptions,
                 parent: tuple[str, Ref] | None = None) -> tuple[str, list[Any]]:
    """The WHERE condition (filter and parent link) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if parent is not None:
        column, ref = parent
        if parse_intersect_link(column) is not None:  # an N:N navigation: through its intersect table
            clauses.append(link_condition(tenant.store, column, table.primary_id))
            params.append(ref.id)
        else:
            clauses.append(f"{quote(column)} = ? AND {quote(target_column(column))} = ?")
            params += [ref.id, ref.table]
    if options.filter:
        sql, filter_params = FilterCompiler(table, options.filter, options.aliases,
                                            tenant.caller.user_id).compile()
        clauses.append(sql)
        params += filter_params
    return " AND ".join(clauses), params


def count_rows(tenant: SqliteTenant, table: Table, where: str, params: list[Any]) -> int:
    """Matching rows, capped at 5000 as the service caps ``$count``."""
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(table.logical_name)}"
    sql += f" WHERE {where}" if where else ""
    sql += f" LIMIT {COUNT_CAP})"
    return int(tenant.store.scalar(sql, params) or 0)


# ------------------------------------------------------------------- responses

def page_size(request: MockRequest, tenant: SqliteTenant) -> int | None:
    """The ``odata.maxpagesize`` preference (None when absent), capped by the settings."""
    raw = request.prefer().get("odata.maxpagesize")
    if not raw:
        return None
    try:
        size = int(raw)
    except ValueError:
        raise errors.bad_request(f"Invalid odata.maxpagesize '{raw}'.", code=SYNTAX_ERROR) from None
    return max(1, min(size, tenant.settings.max_page_size))


def applied(request: MockRequest, page: int | None = None) -> dict[str, str]:
    """The ``Preference-Applied`` header for honoured preferences."""
    prefer = request.prefer()
    items: list[str] = []
    if prefer.get("return") == "representation" and request.method in ("POST", "PATCH"):
        items.append("return=representation")
    if prefer.get("odata.include-annotations"):
        items.append(f'odata.include-annotations="{prefer["odata.include-annotations"]}"')
    if page is not None:
        items.append(f"odata.maxpagesize={page}")
    return {"Preference-Applied": ",".join(items)} if items else {}


def context_fragment(table: Table, options: QueryOptions) -> str:
    """``leads(fullname,parentaccountid(name))`` for ``@odata.context`` (nested expands included)."""
    parts = _context_parts(options)
    return f"{table.entity_set}({','.join(parts)})" if parts else table.entity_set


def _context_parts(options: QueryOptions) -> list[str]:
    parts = list(options.select or [])
    for item in options.expand:
        parts.append(f"{item.name}({','.join(_context_parts(parse_options(item.options)))})")
    return parts


def collection_response(tenant: SqliteTenant, request: MockRequest, table: Table,
                        parent: tuple[str, Ref] | None = None) -> MockResponse:
    """GET on a collection (or a collection-valued navigation of one record)."""
    if "fetchXml" in request.query and parent is None:
        from d365lab.mock.query_fetch import fetch_response

        return fetch_response(tenant, request, table)
    if "$apply" in request.query and parent is None:
        from d365lab.mock.query_apply import apply_response

        return apply_response(tenant, request, table)
    if "sql" in request.query and parent is None:
        from d365lab.mock.query_sql import translate
        from d365lab.mock.query_sql_fetch import fetch_for_sql

        fetch_xml = fetch_for_sql(table, request.query["sql"])
        if fetch_xml is not None:
            from d365lab.mock.query_fetch import fetch_response

            return fetch_response(tenant, replace(request, query={"fetchXml": fetch_xml}), table)

        request = replace(request, query=translate(table, request.query["sql"]))
    options = parse_options(request.query)
    check_expand(table, options.expand)
    patterns = annotation_patterns(request.prefer())
    columns = selected_columns(table, options.select)
    keys = _sort_columns(table, options)
    where, params = where_clause(tenant, table, options, parent)
    requested_page = page_size(request, tenant)
    limit = tenant.settings.max_page_size if requested_page is None else requested_page
    paging = True
    if options.top is not None and requested_page is None:
        # With Prefer: odata.maxpagesize the service ignores $top and pages through every row.
        limit, paging = min(options.top, tenant.settings.max_page_size), False
    conditions, all_params = ([where] if where else []), list(params)
    if options.skiptoken:
        last = _decode_token(options.skiptoken, len(keys))
        keyset, keyset_params = _keyset_condition(keys, last)
        conditions.append(keyset)
        all_params += keyset_params
    rows = tenant.store.select(table, " AND ".join(conditions), all_params, _order_sql(keys), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{context_fragment(table, options)}"}
    if options.count:
        body["@odata.count"] = count_rows(tenant, table, where, params)
    body.update(collection_annotations(patterns, body.get("@odata.count")))
    context = ExpandContext(request.base_url, requested_page, uses_nested_expand(options.expand), links=True)
    body["value"] = [render(tenant, table, row, columns, options, patterns, context) for row in rows]
    if more and paging and rows:
        last_row = rows[-1]
        token = _encode_token([_sort_value(last_row, c) for c, _ in keys])
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = token
        encoded = urlencode(query, quote_via=url_quote, safe=_URL_SAFE)
        body["@odata.nextLink"] = f"{request.url}?{encoded}"
    return json_response(200, body, applied(request, requested_page))


def _sort_value(row: Row, column: Column) -> Any:
    """The value ``ORDER BY`` sorted ``row`` by (the folded form of text)."""
    value = row.get(column.name)
    if isinstance(value, Ref):
        return value.id
    if isinstance(value, bool):
        return int(value)
    return comparison_value(column, value)


def count_response(tenant: SqliteTenant, request: MockRequest, table: Table) -> MockResponse:
    """GET ``<set>/$count``: the number of matching rows as ``text/plain`` (capped at 5000)."""
    options = parse_options(request.query)
    where, params = where_clause(tenant, table, options)
    text = str(count_rows(tenant, table, where, params))
    out = MockResponse(200, body=text.encode())
    out.headers["Content-Type"] = "text/plain"
    return out


def entity_body(tenant: SqliteTenant, request: MockRequest, table: Table, row: Row) -> dict[str, Any]:
    """One record as returned by GET or ``return=representation`` (with ``@odata.context``)."""
    options = parse_options({k: v for k, v in request.query.items() if k in ("$select", "$expand")})
    check_expand(table, options.expand)
    columns = selected_columns(table, options.select)
    patterns = annotation_patterns(request.prefer())
    body: dict[str, Any] = {
        "@odata.context": f"{request.base_url}/$metadata#{context_fragment(table, options)}/$entity"}
    requested_page = page_size(request, tenant) if request.method == "GET" else None
    context = ExpandContext(request.base_url, requested_page, uses_nested_expand(options.expand))
    body.update(render(tenant, table, row, columns, options, patterns, context))
    return body


@dataclass(frozen=True)
class ExpandContext:
    """What expanding collection-valued navigations needs to know about the request.

    Dataverse answers a single-level ``$expand`` of a collection-valued navigation on an
    entity-set query with every related row (no paging), the referencing lookup in each row
    and a ``<nav>@odata.nextLink`` naming the filtered collection with the expand's options
    (``links``). When the query holds a nested ``$expand`` anywhere (``nested``), the
    ``odata.maxpagesize`` preference pages each expanded collection and that link carries
    the ``$skiptoken`` of the next page.
    """

    base_url: str
    page_size: int | None = None
    nested: bool = False
    links: bool = False


_EXPAND_LIMITS = ("Only $select and $filter clause can be provided while doing $expand on many-to-one "
                  "relationship or nested one-to-many relationship.")


def uses_nested_expand(expansions: list[Expansion]) -> bool:
    """True when any ``$expand`` item holds an ``$expand`` of its own."""
    return any(item.options.get("$expand") for item in expansions)


def check_expand(table: Table, expansions: list[Expansion], depth: int = 0) -> None:
    """Refuse what the service refuses before any row is read (also when no row matches).

    Unknown navigations and nested properties are 400; ``$top``/``$orderby`` are refused on
    single-valued navigations and on collection-valued ones that nest or are nested;
    ``<collection>/$ref`` is refused (the mock has no ``$ref`` expansion at all).
    """
    relations = one_to_many(table)
    for item in expansions:
        if item.name.endswith("/$ref") and item.name[:-5] in relations:
            raise errors.bad_request("Expand with $ref is only supported on lookup type navigation property.",
                                     code=SYNTAX_ERROR)
        nested = parse_options(item.options)
        limited = "$top" in item.options or "$orderby" in item.options
        relation = relations.get(item.name)
        if relation is not None:
            if limited and (depth > 0 or nested.expand):
                raise errors.bad_request(_EXPAND_LIMITS, code=SYNTAX_ERROR)
            target = TABLES[relation.target]
        else:
            navigation = table.navigation_properties().get(item.name)
            if navigation is None:
                raise errors.unknown_property(item.name, table.logical_name)
            if limited:
                raise errors.bad_request(_EXPAND_LIMITS, code=SYNTAX_ERROR)
            if navigation[1] not in TABLES:
                continue
            target = TABLES[navigation[1]]
        selected_columns(target, nested.select)
        _sort_columns(target, nested)
        check_expand(target, nested.expand, depth + 1)


def render(tenant: SqliteTenant, table: Table, row: Row, columns: list[Column], options: QueryOptions,
           patterns: list[str] | None, context: ExpandContext | None = None) -> dict[str, Any]:
    """Encode a row and its ``$expand`` items (``context`` None: no links, no paging)."""
    out = encode_row(tenant, table, row, columns=columns, annotations=patterns)
    relations = one_to_many(table) if options.expand else {}
    for item in options.expand:
        relation = relations.get(item.name)
        if relation is None:
            out[item.name] = _expand_single(tenant, table, row, item, patterns, context)
            continue
        rows, link = _expand_collection(tenant, table, row, relation, item, patterns, context)
        out[item.name] = rows
        if link is not None:
            out[f"{item.name}@odata.nextLink"] = link
    return out


def _expand_collection(tenant: SqliteTenant, table: Table, row: Row, relation: OneToMany, item: Expansion,
                       patterns: list[str] | None,
                       context: ExpandContext | None) -> tuple[list[dict[str, Any]], str | None]:
    """The related rows of one collection-valued navigation and, when due, its ``@odata.nextLink``."""
    nested = parse_options(item.options)
    target = TABLES[relation.target]
    parent_id = row[table.primary_id]
    where, params = where_clause(tenant, target, nested,
                                 parent=(relation.column, Ref(table.logical_name, parent_id)))
    keys = _sort_columns(target, nested)
    paged = context is not None and context.nested and context.page_size is not None
    limit = nested.top if nested.top is not None else tenant.settings.max_page_size
    if paged and context is not None and context.page_size is not None:
        limit = min(limit, context.page_size)
    children = tenant.store.select(target, where, params, _order_sql(keys), limit + 1 if paged else limit)
    more = len(children) > limit
    children = children[:limit]
    columns = selected_columns(target, nested.select)
    links = context is not None and (context.links or context.nested)
    if links and context is not None and not context.nested and nested.select:
        referencing = target.columns.get(relation.column)
        if referencing is not None and referencing not in columns:
            columns = [*columns, referencing]
    rendered = [render(tenant, target, child, columns, nested, patterns, context) for child in children]
    if not links or context is None:
        return rendered, None
    query = {key: value for key, value in item.options.items() if value}
    if more and children:
        query["$skiptoken"] = _encode_token([_sort_value(children[-1], c) for c, _ in keys])
    link = f"{context.base_url}/{table.entity_set}({parent_id})/{item.name}"
    if query:
        link += "?" + urlencode(query, quote_via=url_quote, safe=_URL_SAFE)
    return rendered, link


def _expand_single(tenant: SqliteTenant, table: Table, row: Row, item: Expansion, patterns: list[str] | None,
                   context: ExpandContext | None) -> Any:
    """The related record of a single-valued navigation (None when the lookup is empty)."""
    nested = parse_options(item.options)
    navigation = table.navigation_properties().get(item.name)
    if navigation is None:
        raise errors.unknown_property(item.name, table.logical_name)
    column, target_name = navigation
    ref = row.get(column.name)
    if not isinstance(ref, Ref) or ref.table != target_name or target_name not in TABLES:
        return None
    target_row = tenant.get(target_name, ref.id)
    if target_row is None:
        return None
    target = TABLES[target_name]
    return render(tenant, target, target_row, selected_columns(target, nested.select), nested, patterns, context)


def encode_single_value(column: Column, value: Any) -> Any:
    """A property value as ``GET <record>/<property>`` returns it."""
    if column.type is ColumnType.MONEY and value is not None:
        return round(float(value), 4)
    return value

