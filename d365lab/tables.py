"""Table resolution and client-side validation of write payloads.

Known tables (``d365lab.models.schema``) get their entity set, primary key and columns;
any other name is taken as an entity set name so generic operations work on every table.
Validation only covers facts d365lab knows for sure (lengths, option values, state/status
pairs, read-only columns, lookup navigation names); unknown columns are left to the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any

from d365lab.errors import ClientValidationError
from d365lab.models.schema import LOOKUP_TYPES, ColumnType, Table
from d365lab.models.schema import table as schema_table
from d365lab.odata import guid


@dataclass(frozen=True)
class TableInfo:
    """How to address a table: its entity set, primary key (if known) and schema (if known)."""

    name: str
    entity_set: str
    primary_id: str | None
    schema: Table | None


def resolve(table: str) -> TableInfo:
    """Resolve a logical name (``lead``) or entity set (``leads``) into a :class:`TableInfo`."""
    try:
        known = schema_table(table)
    except KeyError:
        if not table or not table.replace("_", "").isalnum():
            raise ClientValidationError(f"{table!r} is not a table name") from None
        return TableInfo(table, table, None, None)
    return TableInfo(known.logical_name, known.entity_set, known.primary_id, known)


def bind_path(table: str, record_id: str) -> str:
    """``/accounts(<id>)``: the value of a ``<navigation>@odata.bind`` property."""
    return f"/{resolve(table).entity_set}({guid(record_id)})"


@dataclass(frozen=True)
class _ColumnRule:
    """What validate_payload checks for one column, worked out once per table."""

    read_only: bool
    lookup_hint: str | None          # "set a lookup with ..." for lookup columns
    kind: ColumnType
    max_length: int | None
    options: type[IntEnum] | None
    allowed: frozenset[int]


@dataclass(frozen=True)
class _TableRules:
    schema: Table
    columns: dict[str, _ColumnRule]
    #: lookup column name -> message, for binds through the column name instead of the navigation property
    wrong_binds: dict[str, str]


_RULES: dict[str, _TableRules] = {}


def _rules_for(schema: Table) -> _TableRules:
    """The per-column checks of a table, built on first use (validation runs once per written row)."""
    cached = _RULES.get(schema.logical_name)
    if cached is not None and cached.schema is schema:
        return cached
    navigations = schema.navigation_properties()
    columns: dict[str, _ColumnRule] = {}
    wrong_binds: dict[str, str] = {}
    for name, column in schema.columns.items():
        targets = ", ".join(f"{n}@odata.bind" for n in column.navigation.values())
        lookup = column.type in LOOKUP_TYPES
        if lookup and name not in navigations:
            wrong_binds[name] = f"bind through the navigation property: {targets}"
        options = column.options if column.type is ColumnType.PICKLIST else None
        columns[name] = _ColumnRule(
            read_only=column.read_only, lookup_hint=f"set a lookup with {targets}" if lookup else None,
            kind=column.type, max_length=column.max_length, options=options,
            allowed=frozenset(int(m) for m in options) if options is not None else frozenset())
    rules = _TableRules(schema, columns, wrong_binds)
    _RULES[schema.logical_name] = rules
    return rules


def validate_payload(info: TableInfo, data: Mapping[str, Any], *, creating: bool) -> None:
    """Refuse payloads that the service would reject for a known table, naming table and field."""
    schema = info.schema
    if schema is None:
        return
    rules = _rules_for(schema)
    for key, value in data.items():
        if not _finite(value):  # any column, known or not: orjson would write a NaN or infinity as null
            raise ClientValidationError(f"{value!r} is not a number the service accepts", table=schema.logical_name,
                                        field=key)
        rule = rules.columns.get(key)
        if rule is None:
            if key.endswith("@odata.bind") and not key.startswith("@"):
                wrong = rules.wrong_binds.get(key[: -len("@odata.bind")])
                if wrong is not None:
                    raise ClientValidationError(wrong, table=schema.logical_name, field=key)
            continue
        if rule.read_only:
            raise ClientValidationError("is read-only", table=schema.logical_name, field=key)
        if rule.lookup_hint is not None and value is not None:
            raise ClientValidationError(rule.lookup_hint, table=schema.logical_name, field=key)
        if value is None:
            continue
        _check_value(schema, key, rule, value)
    _check_state(schema, data, creating=creating)


def _finite(value: Any) -> bool:
    """False for a NaN or infinite float or Decimal; True for anything else."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value.is_finite() if isinstance(value, Decimal) else True


def _check_value(schema: Table, key: str, rule: _ColumnRule, value: Any) -> None:
    if rule.kind is ColumnType.STRING or rule.kind is ColumnType.MEMO:
        if not isinstance(value, str):
            raise ClientValidationError(f"expected text, got {type(value).__name__}", table=schema.logical_name,
                                        field=key)
        if rule.max_length is not None and len(value) > rule.max_length:
            raise ClientValidationError(f"is {len(value)} characters long; the maximum is {rule.max_length}",
                                        table=schema.logical_name, field=key)
    elif rule.options is not None:
        if isinstance(value, bool) or not isinstance(value, int) or int(value) not in rule.allowed:
            raise ClientValidationError(
                f"{value!r} is not one of {sorted(rule.allowed)} ({rule.options.__name__})",
                table=schema.logical_name, field=key)


def _check_state(schema: Table, data: Mapping[str, Any], *, creating: bool) -> None:
    states = schema.states
    if states is None:
        return
    state, status = data.get("statecode"), data.get("statuscode")
    if state is not None and int(state) not in {int(s) for s in states.state_enum}:
        raise ClientValidationError(f"{state!r} is not a state of {schema.logical_name}",
                                    table=schema.logical_name, field="statecode")
    if status is not None and states.state_of(int(status)) is None:
        raise ClientValidationError(f"{status!r} is not a status of {schema.logical_name}",
                                    table=schema.logical_name, field="statuscode")
    if state is not None and status is not None and not states.is_valid(int(state), int(status)):
        allowed = ", ".join(f"{s} {states.status_label(s)}" for s in states.statuses_of(int(state)))
        raise ClientValidationError(
            f"status {status} does not belong to state {state} {states.state_label(int(state))} (use {allowed})",
            table=schema.logical_name, field="statuscode")
    if creating and state is not None and not schema.state_valid_for_create:
        raise ClientValidationError("statecode cannot be set on create; create the record, then update it",
                                    table=schema.logical_name, field="statecode")
