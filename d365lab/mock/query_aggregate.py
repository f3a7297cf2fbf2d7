"""Grouped and aggregated reads, shared by ``$apply`` and FetchXML ``aggregate="true"``.

A parsed query becomes an :class:`AggregatePlan`: the ``FROM`` clause (the root table and
its joins, every column qualified by its table's SQL alias), the ``WHERE`` condition, the
group keys and the measures. :func:`run_aggregate` runs it as one ``GROUP BY`` query and
refuses it, as Dataverse does, when the rows it evaluates exceed the aggregate record
limit (50,000; FetchXML's ``aggregatelimit`` may lower it). :func:`encode_groups` turns
the result into the JSON rows the service answers: each group key and measure under its
alias, a key whose value is null left out, FormattedValue annotations when asked.

Text keys group case- and accent-insensitively (Dataverse's collation): the group is
the folded value and the row shows one of the original spellings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import FORMATTED, LOOKUP_LOGICAL_NAME, annotation_wanted, format_value
from d365lab.mock.collation import FOLD_FUNCTION, has_shadow, is_text, shadow_name
from d365lab.mock.service_errors import MockError
from d365lab.mock.store import quote, target_column
from d365lab.mock.tenant import SqliteTenant
from d365lab.models import schema
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, Column, ColumnType, Table

#: Dataverse's aggregate record limit (documented: queries returning aggregates evaluate at most 50,000 rows).
AGGREGATE_RECORD_LIMIT = 50_000
AGGREGATE_LIMIT_CODE = "0x8004e023"
AGGREGATE_LIMIT_MESSAGE = "AggregateQueryRecordLimit exceeded. Cannot perform this operation."
_DATE_TYPES = frozenset({ColumnType.DATETIME, ColumnType.DATEONLY})
_NUMERIC = INTEGER_TYPES | REAL_TYPES


def aggregate_limit_error() -> MockError:
    """The documented error of an aggregate over more rows than the limit."""
    return MockError(400, AGGREGATE_LIMIT_CODE, AGGREGATE_LIMIT_MESSAGE)


# ----------------------------------------------------------------- qualified columns

@dataclass(frozen=True)
class Source:
    """A table in a query's ``FROM`` clause under an SQL alias (``t0`` is the root)."""

    sql_alias: str
    table: Table

    def value_sql(self, column: Column) -> str:
        """The stored value of ``column`` (a lookup: the target id)."""
        return f"{self.sql_alias}.{quote(column.name)}"

    def compare_sql(self, column: Column) -> str:
        """The expression comparisons, sorting and grouping use (folded for text)."""
        if has_shadow(column):
            return f"{self.sql_alias}.{quote(shadow_name(column.name))}"
        if is_text(column):
            return f"{FOLD_FUNCTION}({self.value_sql(column)})"
        return self.value_sql(column)

    def presence_sql(self, column: Column) -> str:
        """The expression ``IS [NOT] NULL`` tests."""
        if has_shadow(column):
            return f"{self.sql_alias}.{quote(shadow_name(column.name))}"
        return self.value_sql(column)

    def column(self, name: str, error: MockError | None = None) -> Column:
        """A column of this source by logical name (``_x_value`` accepted); unknown -> 400."""
        bare = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
        found = self.table.columns.get(bare)
        if found is None:
            raise error or errors.unknown_property(name, self.table.logical_name)
        return found


# ----------------------------------------------------------------- the plan

#: Date parts of FetchXML ``dategrouping`` (UTC; SQL Server's week: week 1 holds 1 January, weeks start on Sunday).
_DATE_PARTS = {
    "year": "CAST(strftime('%Y', {x}) AS INTEGER)",
    "quarter": "((CAST(strftime('%m', {x}) AS INTEGER) + 2) / 3)",
    "month": "CAST(strftime('%m', {x}) AS INTEGER)",
    "week": ("(CAST(strftime('%U', {x}) AS INTEGER)"
             " + (strftime('%w', strftime('%Y-01-01', {x})) <> '0'))"),
    "day": "CAST(strftime('%d', {x}) AS INTEGER)",
}


@dataclass(frozen=True)
class GroupKey:
    """One ``groupby`` property: its output name, column and optional date part."""

    alias: str
    source: Source
    column: Column
    date_part: str | None = None

    def group_sql(self) -> str:
        """What rows are grouped by."""
        if self.date_part is not None:
            return _DATE_PARTS[self.date_part].format(x=self.source.value_sql(self.column))
        return self.source.compare_sql(self.column)


@dataclass(frozen=True)
class Measure:
    """One aggregated value: ``count`` (rows), ``countcolumn``, ``sum``, ``avg``, ``min``, ``max``.

    ``distinct`` counts distinct values (FetchXML ``distinct='true'``, ``$apply`` countdistinct).
    """

    alias: str
    function: str
    source: Source | None = None
    column: Column | None = None
    distinct: bool = False

    def input_sql(self) -> str | None:
        """The per-row value this measure reads (None for a row count)."""
        if self.column is None or (self.function == "count" and not self.distinct):
            return None
        assert self.source is not None
        return self.source.compare_sql(self.column) if self.distinct else self.source.value_sql(self.column)

    def sql(self, value: str | None) -> str:
        """The SQL aggregate over ``value`` (the inner query's column holding :meth:`input_sql`)."""
        if value is None:
            return "COUNT(*)"
        if self.function in ("count", "countcolumn"):
            return f"COUNT({'DISTINCT ' if self.distinct else ''}{value})"
        return f"{self.function.upper()}({value})"


def check_measure(function: str, column: Column, alias: str) -> None:
    """Refuse an aggregate the column's type cannot take (sum/avg of text, ...)."""
    if function in ("sum", "avg") and column.type not in _NUMERIC:
        raise errors.bad_request(
            f"The aggregate '{function}' ({alias}) is not valid on the {column.type.value} column "
            f"'{column.name}'.", code="0x80041103")
    if function in ("min", "max") and column.type not in _NUMERIC | _DATE_TYPES:
        raise errors.bad_request(
            f"The aggregate '{function}' ({alias}) is not valid on the {column.type.value} column "
            f"'{column.name}'.", code="0x80041103")


@dataclass
class AggregatePlan:
    """A grouped query ready to run (``from_sql`` starts with ``FROM``)."""

    from_sql: str
    where: str = ""
    params: list[Any] = field(default_factory=list)
    groups: list[GroupKey] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    #: (output alias, descending) in order of precedence; group keys in order when empty.
    order: list[tuple[str, bool]] = field(default_factory=list)
    record_limit: int = AGGREGATE_RECORD_LIMIT
    max_rows: int | None = None
    #: ``FROM … WHERE …`` over the root rows alone, when they are never more than the rows the
    #: query evaluates (no inner join): counting them first refuses an over-limit query cheaply.
    root_only_sql: str = ""
    root_only_params: list[Any] = field(default_factory=list)


def _grouped_sql(plan: AggregatePlan) -> str:
    """One pass over at most ``record_limit + 1`` rows: an inner query reads the values, the outer groups them.

    The cap is what lets an over-limit query fail after reading no more rows than the limit,
    as the service refuses it without evaluating it all.
    """
    inner: list[str] = []
    outer: list[str] = []
    group_by: list[str] = []
    positions: dict[str, str] = {}
    for index, key in enumerate(plan.groups):
        inner.append(f"{key.group_sql()} AS g{index}")
        group_by.append(f"g{index}")
        positions[key.alias] = f"g{index}"
        if key.date_part is not None:
            outer.append(f"g{index}")
            continue
        inner.append(f"{key.source.value_sql(key.column)} AS v{index}")
        outer.append(f"MIN(v{index})" if is_text(key.column) else f"v{index}")
        if key.column.is_lookup:
            inner.append(f"{key.source.sql_alias}.{quote(target_column(key.column.name))} AS t{index}")
            outer.append(f"MIN(t{index})")
    for index, measure in enumerate(plan.measures):
        value = measure.input_sql()
        if value is not None:
            inner.append(f"{value} AS m{index}")
        outer.append(measure.sql(None if value is None else f"m{index}"))
        positions[measure.alias] = str(len(outer))
    outer.append("COUNT(*)")
    sql = f"SELECT {', '.join(inner) or '1 AS one'} {plan.from_sql}"
    if plan.where:
        sql += f" WHERE {plan.where}"
    sql = f"SELECT {', '.join(outer)} FROM ({sql} LIMIT {plan.record_limit + 1})"
    if group_by:
        sql += " GROUP BY " + ", ".join(group_by)
    terms = [f"{positions[alias]}{' DESC' if desc else ''}" for alias, desc in plan.order if alias in positions]
    if not plan.order:
        terms = group_by
    return sql + (f" ORDER BY {', '.join(terms)}" if terms else "")


def run_aggregate(tenant: SqliteTenant, plan: AggregatePlan) -> list[dict[str, Any]]:
    """Run the plan: ``{alias: value}`` per group (lookups as ``(id, table)``), limit enforced."""
    if plan.root_only_sql:
        counted = tenant.store.scalar(f"SELECT COUNT(*) FROM (SELECT 1 {plan.root_only_sql} "
                                      f"LIMIT {plan.record_limit + 1})", plan.root_only_params)
        if int(counted or 0) > plan.record_limit:
            raise aggregate_limit_error()
    sql = _grouped_sql(plan)
    found = tenant.store.rows(sql, plan.params)
    if sum(int(row[-1]) for row in found) > plan.record_limit:
        raise aggregate_limit_error()
    out: list[dict[str, Any]] = []
    for row in found:
        values = iter(row)
        item: dict[str, Any] = {}
        for key in plan.groups:
            value = next(values)
            if key.column.is_lookup and key.date_part is None:
                target = next(values)
                item[key.alias] = None if value is None else (value, target)
            else:
                item[key.alias] = value
        for measure in plan.measures:
            item[measure.alias] = _measure_value(measure, next(values))
        out.append(item)
    return out


def _measure_value(measure: Measure, value: Any) -> Any:
    if value is None:
        return None
    if measure.function in ("count", "countcolumn") or measure.column is None:
        return int(value)
    if measure.column.type in INTEGER_TYPES:
        # SQL Server's AVG of whole numbers is a whole number (truncated), as the documented example shows.
        return int(value)
    if measure.column.type in REAL_TYPES:
        return float(value)
    return value


# ----------------------------------------------------------------- encoding

def encode_groups(tenant: SqliteTenant, plan: AggregatePlan, rows: list[dict[str, Any]],
                  patterns: list[str] | None) -> list[dict[str, Any]]:
    """The JSON rows: group keys and measures under their aliases (null keys left out)."""
    want_formatted = annotation_wanted(patterns, FORMATTED)
    want_logical = annotation_wanted(patterns, LOOKUP_LOGICAL_NAME)
    out: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = {}
        for key in plan.groups:
            value = row[key.alias]
            if value is None:
                continue
            if key.date_part is not None:
                item[key.alias] = value
                continue
            if key.column.is_lookup:
                ident, target = value
                if want_formatted:
                    name = _primary_name(tenant, target, ident)
                    if name is not None:
                        item[f"{key.alias}@{FORMATTED}"] = name
                if want_logical and target:
                    item[f"{key.alias}@{LOOKUP_LOGICAL_NAME}"] = target
                item[key.alias] = ident
                continue
            if key.column.type is ColumnType.BOOLEAN:
                value = bool(value)
            elif key.column.type is ColumnType.MONEY:
                value = round(float(value), 4)
            if want_formatted:
                formatted = format_value(key.column, value)
                if formatted is not None:
                    item[f"{key.alias}@{FORMATTED}"] = formatted
            item[key.alias] = value
        for measure in plan.measures:
            value = row[measure.alias]
            if want_formatted and value is not None:
                formatted = _format_measure(measure, value)
                if formatted is not None:
                    item[f"{measure.alias}@{FORMATTED}"] = formatted
            item[measure.alias] = value
        out.append(item)
    return out


def _format_measure(measure: Measure, value: Any) -> str | None:
    if measure.function in ("count", "countcolumn") or measure.column is None:
        return f"{value:,}"
    return format_value(measure.column, value)


def _primary_name(tenant: SqliteTenant, target: str | None, ident: str) -> str | None:
    table = schema.TABLES.get(target or "")
    if table is None:
        return None
    found = tenant.get(table.logical_name, ident)
    if found is None:
        return None
    name = found.get(table.primary_name)
    return None if name is None or not isinstance(name, str) else name
