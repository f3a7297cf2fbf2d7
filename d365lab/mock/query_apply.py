"""``GET <set>?$apply=…``: the subset of OData data aggregation Dataverse answers.

Transformations, separated by ``/``: any number of ``filter(<$filter expression>)``, then
at most one of ``groupby((p1,p2,…))``, ``groupby((p1,…),aggregate(…))`` or
``aggregate(…)``. An aggregate item is ``<column> with sum|average|min|max|countdistinct
as <alias>`` or ``$count as <alias>``. A group property is a column (a lookup as
``_x_value``) or ``<single-valued navigation>/<column>``, answered as
``<target table>_<column>`` (``primarycontactid/fullname`` -> ``contact_fullname``).

As documented: grouping by a date and time column is refused, ``$orderby`` on an
aggregate alias is refused with ``The query node SingleValueOpenPropertyAccess is not
supported``, and more than 50,000 evaluated rows is the AggregateQueryRecordLimit error.
``$filter`` next to ``$apply`` narrows the rows before they are grouped; ``$top`` caps
the groups; ``$select``/``$expand`` are refused.
"""

from __future__ import annotations

import re
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.query_aggregate import (
    AggregatePlan,
    GroupKey,
    Measure,
    Source,
    check_measure,
    encode_groups,
    run_aggregate,
)
from d365lab.mock.query_filter import FilterCompiler
from d365lab.mock.query_lexer import SYNTAX_ERROR
from d365lab.mock.query_options import parse_options
from d365lab.mock.service_errors import MockError
from d365lab.mock.store import quote, target_column
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response, split_top_level
from d365lab.models.schema import TABLES, ColumnType, Table

#: Most group properties or aggregate items one ``$apply`` may name (the mock's own bound).
MAX_APPLY_TERMS = 64
_CALL = re.compile(r"\s*([A-Za-z]+)\s*\((.*)\)\s*", re.DOTALL)
_ITEM = re.compile(r"\s*(\$count|[A-Za-z_][\w]*)\s+(?:with\s+([A-Za-z]+)\s+)?as\s+([A-Za-z_]\w*)\s*", re.DOTALL)
_FUNCTIONS = {"sum": "sum", "average": "avg", "min": "min", "max": "max", "countdistinct": "countcolumn"}
ORDER_BY_AGGREGATE = "The query node SingleValueOpenPropertyAccess is not supported."


def apply_error(message: str) -> MockError:
    """400 for an ``$apply`` the service (or the mock) does not take."""
    return errors.bad_request(f"Invalid $apply: {message}", code=SYNTAX_ERROR)


class ApplyCompiler:
    """Turn one ``$apply`` text (and the request's other options) into an :class:`AggregatePlan`."""

    def __init__(self, tenant: SqliteTenant, table: Table, query: dict[str, str]) -> None:
        self.tenant = tenant
        self.table = table
        self.root = Source("t0", table)
        self.joins: dict[str, tuple[Source, str]] = {}
        self.filters: list[str] = []
        self.params: list[Any] = []
        self.groups: list[GroupKey] = []
        self.measures: list[Measure] = []
        #: Group properties as written (and as answered) -> their output alias, for ``$orderby``.
        self.group_names: dict[str, str] = {}
        self.query = query

    def compile(self) -> AggregatePlan:
        """The plan; every error is a 400 before any row is read."""
        rest = {k: v for k, v in self.query.items() if k != "$apply"}
        for name in ("$select", "$expand"):
            if rest.get(name):
                raise apply_error(f"{name} cannot be combined with $apply.")
        options = parse_options(rest)
        aliases = options.aliases
        steps = [part for part in split_top_level(self.query["$apply"], "/")]
        terminal_seen = False
        for step in steps:
            found = _CALL.fullmatch(step)
            if found is None:
                raise apply_error(f"'{step.strip()}' is not a transformation.")
            name, inner = found.group(1), found.group(2)
            if terminal_seen:
                raise apply_error(f"'{name}' after groupby/aggregate is not supported.")
            if name == "filter":
                self._filter(inner, aliases)
            elif name == "groupby":
                self._groupby(inner)
                terminal_seen = True
            elif name == "aggregate":
                self._aggregate(inner)
                terminal_seen = True
            else:
                raise apply_error(f"the transformation '{name}' is not supported.")
        if options.filter:
            self._filter(options.filter, aliases)
        if not self.groups and not self.measures:
            raise apply_error("groupby or aggregate is required.")
        plan = AggregatePlan(self._from_sql(), params=self.params, groups=self.groups, measures=self.measures,
                             record_limit=self.tenant.settings.aggregate_record_limit, max_rows=options.top)
        root = quote(self.table.logical_name)
        plan.root_only_sql = f"FROM {root}" + (f" WHERE {' AND '.join(self.filters)}" if self.filters else "")
        plan.root_only_params = list(self.params)
        measure_names = {measure.alias for measure in self.measures}
        for name, desc in options.orderby:
            if name in measure_names:
                raise errors.bad_request(ORDER_BY_AGGREGATE, code="0x80060888")
            if name not in self.group_names:
                raise errors.unknown_property(name, self.table.logical_name)
            plan.order.append((self.group_names[name], desc))
        return plan

    # ------------------------------------------------------------- transformations

    def _filter(self, text: str, aliases: dict[str, str]) -> None:
        sql, params = FilterCompiler(self.table, text, aliases, self.tenant.caller.user_id).compile()
        self.filters.append(sql)
        self.params.extend(params)

    def _groupby(self, inner: str) -> None:
        parts = [p.strip() for p in split_top_level(inner, ",")]
        if not parts or not parts[0].startswith("(") or not parts[0].endswith(")") or len(parts) > 2:
            raise apply_error("groupby takes ((properties)) and an optional aggregate(...).")
        names = [p.strip() for p in parts[0][1:-1].split(",") if p.strip()]
        if not names or len(names) > MAX_APPLY_TERMS:
            raise apply_error(f"groupby takes 1 to {MAX_APPLY_TERMS} properties.")
        for name in names:
            key = self._group_key(name)
            self.groups.append(key)
            self.group_names[name] = self.group_names[key.alias] = key.alias
        if len(parts) == 2:
            found = _CALL.fullmatch(parts[1])
            if found is None or found.group(1) != "aggregate":
                raise apply_error(f"'{parts[1]}' is not an aggregate(...) inside groupby.")
            self._aggregate(found.group(2))

    def _group_key(self, name: str) -> GroupKey:
        if "/" in name:
            nav, _, attr = name.partition("/")
            source = self._join(nav)
            column = source.column(attr)
            alias = f"{source.table.logical_name}_{column.name}"
        else:
            column = self.root.column(name)
            if column.is_lookup and not name.startswith("_"):
                raise errors.unknown_property(name, self.table.logical_name)
            source, alias = self.root, column.value_property
        if column.type is ColumnType.DATETIME:
            raise apply_error(f"groupby with the date and time column '{column.name}' is not supported.")
        return GroupKey(alias, source, column)

    def _join(self, nav: str) -> Source:
        found = self.table.navigation_properties().get(nav)
        if found is None or found[1] not in TABLES:
            raise errors.unknown_property(nav, self.table.logical_name)
        if nav not in self.joins:
            column, target = found
            source = Source(f"t{len(self.joins) + 1}", TABLES[target])
            condition = (f"{source.sql_alias}.{quote(source.table.primary_id)} = "
                         f"{self.root.value_sql(column)} AND "
                         f"{self.root.sql_alias}.{quote(target_column(column.name))} = '{target}'")
            self.joins[nav] = (source, condition)
        return self.joins[nav][0]

    def _aggregate(self, inner: str) -> None:
        items = [p for p in split_top_level(inner, ",") if p.strip()]
        if not items or len(items) > MAX_APPLY_TERMS:
            raise apply_error(f"aggregate takes 1 to {MAX_APPLY_TERMS} items.")
        for item in items:
            found = _ITEM.fullmatch(item)
            if found is None:
                raise apply_error(f"'{item.strip()}' is not '<property> with <method> as <alias>'.")
            prop, method, alias = found.group(1), found.group(2), found.group(3)
            if prop == "$count":
                if method is not None:
                    raise apply_error("$count takes no 'with'.")
                self.measures.append(Measure(alias, "count"))
                continue
            function = _FUNCTIONS.get((method or "").lower())
            if function is None:
                raise apply_error(f"the aggregation method '{method}' is not supported.")
            column = self.root.column(prop)
            check_measure(function, column, alias)
            self.measures.append(Measure(alias, function, self.root, column, distinct=method == "countdistinct"))

    def _from_sql(self) -> str:
        root = quote(self.table.logical_name)
        if self.filters:
            base = f"(SELECT * FROM {root} WHERE {' AND '.join(self.filters)}) AS t0"
        else:
            base = f"{root} AS t0"
        joins = "".join(f" LEFT OUTER JOIN {quote(source.table.logical_name)} AS {source.sql_alias} ON {condition}"
                        for source, condition in self.joins.values())
        return f"FROM {base}{joins}"


def apply_response(tenant: SqliteTenant, request: MockRequest, table: Table) -> MockResponse:
    """Run the ``$apply`` query option of a collection GET."""
    plan = ApplyCompiler(tenant, table, request.query).compile()
    rows = run_aggregate(tenant, plan)
    if plan.max_rows is not None:
        rows = rows[:plan.max_rows]
    patterns = annotation_patterns(request.prefer())
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{table.entity_set}",
                            "value": encode_groups(tenant, plan, rows, patterns)}
    from d365lab.mock.query import applied

    return json_response(200, body, applied(request))
