"""FetchXML ``aggregate="true"``: ``groupby`` and ``count|countcolumn|sum|avg|min|max`` attributes.

Every ``<attribute>`` of the entity and of its inner/outer links needs an ``alias`` and
either ``groupby="true"`` (optionally with ``dategrouping="day|week|month|quarter|year"``,
in UTC) or ``aggregate=…`` (``distinct="true"`` on ``countcolumn`` counts distinct values).
``<order alias="…" descending="…">`` sorts the groups. The rows evaluated (joined rows
included) may not exceed the aggregate record limit (50,000, or a lower ``aggregatelimit``
on ``<fetch>``): beyond it the answer is the documented AggregateQueryRecordLimit error.
``top`` or ``count`` caps the groups returned.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from d365lab.mock.query_aggregate import (
    AggregatePlan,
    GroupKey,
    Measure,
    Source,
    check_measure,
    encode_groups,
    run_aggregate,
)
from d365lab.mock.query_fetch import fetch_error
from d365lab.mock.query_link import LinkedFetchCompiler
from d365lab.mock.store import quote
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response
from d365lab.models.schema import Table

_FUNCTIONS = frozenset({"count", "countcolumn", "sum", "avg", "min", "max"})
_DATE_GROUPINGS = frozenset({"day", "week", "month", "quarter", "year"})


def _attributes(compiler: LinkedFetchCompiler) -> list[tuple[Source, ElementTree.Element]]:
    pairs = [(compiler.root_source, a) for a in compiler.entity.findall("attribute")]
    for link in compiler.joined_links():
        pairs += [(link.source, a) for a in link.element.findall("attribute")]
    if compiler.entity.find("all-attributes") is not None:
        raise fetch_error("<all-attributes> cannot be used in an aggregate query")
    return pairs


def aggregate_plan(tenant: SqliteTenant, compiler: LinkedFetchCompiler) -> AggregatePlan:
    """The grouped query a FetchXML aggregate describes (every error is a 400 before rows are read)."""
    from_sql, params = compiler.from_sql()
    where, where_params = compiler.full_where()
    limit = tenant.settings.aggregate_record_limit
    raw_limit = compiler.root.get("aggregatelimit")
    if raw_limit is not None:
        if not raw_limit.strip().isdigit() or len(raw_limit.strip()) > 9:
            raise fetch_error("aggregatelimit must be a positive integer")
        limit = min(limit, int(raw_limit))
    plan = AggregatePlan(from_sql, where, params + where_params, record_limit=limit)
    if (all(link.link_type == "outer" for link in compiler.joined_links())
            and compiler.entity.find(".//condition[@entityname]") is None):
        plan.root_only_sql = f"FROM {quote(compiler.table.logical_name)} AS t0" + (f" WHERE {where}" if where else "")
        plan.root_only_params = list(where_params)
    aliases: set[str] = set()
    for source, element in _attributes(compiler):
        compiler.current = source
        column = compiler.column(element.get("name"))
        alias = element.get("alias")
        if not alias:
            raise fetch_error(f"the attribute '{column.name}' of an aggregate query needs an alias")
        if alias in aliases:
            raise fetch_error(f"the alias '{alias}' is used twice")
        aliases.add(alias)
        function = (element.get("aggregate") or "").lower()
        if element.get("groupby", "false").lower() == "true":
            grouping = element.get("dategrouping")
            if grouping is not None and grouping not in _DATE_GROUPINGS:
                raise fetch_error(f"the dategrouping '{grouping}' is not supported by the mock tenant")
            plan.groups.append(GroupKey(alias, source, column, grouping))
        elif function in _FUNCTIONS:
            distinct = element.get("distinct", "false").lower() == "true"
            check_measure(function, column, alias)
            plan.measures.append(Measure(alias, function, source, column, distinct=distinct))
        else:
            raise fetch_error(f"the attribute '{column.name}' of an aggregate query needs groupby='true' or "
                              f"an aggregate ({', '.join(sorted(_FUNCTIONS))})")
    compiler.current = compiler.root_source
    if not plan.groups and not plan.measures:
        raise fetch_error("an aggregate query needs at least one aggregate or groupby attribute")
    for item in compiler.entity.findall("order"):
        alias = item.get("alias")
        if alias is None or alias not in aliases:
            raise fetch_error("an order of an aggregate query names the alias of one of its attributes")
        plan.order.append((alias, item.get("descending", "false").lower() == "true"))
    return plan


def aggregate_fetch_response(tenant: SqliteTenant, request: MockRequest, table: Table,
                             compiler: LinkedFetchCompiler) -> MockResponse:
    """Run a FetchXML aggregate and answer its groups."""
    plan = aggregate_plan(tenant, compiler)
    size, offset = compiler.paging(tenant.settings.max_page_size)
    rows = run_aggregate(tenant, plan)[offset:]
    patterns = annotation_patterns(request.prefer())
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{table.entity_set}"}
    if len(rows) > size:
        body["@Microsoft.Dynamics.CRM.morerecords"] = True
    body["value"] = encode_groups(tenant, plan, rows[:size], patterns)
    return json_response(200, body)
