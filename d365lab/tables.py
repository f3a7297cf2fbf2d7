"""Table resolution and client-side validation of write payloads.

Known tables (``d365lab.models.schema``) get their entity set, primary key and columns;
any other name is taken as an entity set name so generic operations work on every table.
Validation only covers facts d365lab knows for sure (lengths, option values, state/status
pairs, read-only columns, lookup navigation names); unknown columns are left to the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from d365lab.errors import ClientValidationError
from d365lab.models.schema import LOOKUP_TYPES, ColumnType, Table
from d365lab.models.schema import table as schema_table


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
    from d365lab.odata import guid

    return f"/{resolve(table).entity_set}({guid(record_id)})"


def validate_payload(info: TableInfo, data: Mapping[str, Any], *, creating: bool) -> None:
    """Refuse payloads that the service would reject for a known table, naming table and field."""
    schema = info.schema
    if schema is None:
        return
    navigations = schema.navigation_properties()
    for key, value in data.items():
        if key.startswith("@"):
            continue
        if key.endswith("@odata.bind"):
            nav = key[: -len("@odata.bind")]
            column = schema.columns.get(nav)
            if nav not in navigations and column is not None and column.type in LOOKUP_TYPES:
                options = ", ".join(f"{n}@odata.bind" for n in column.navigation.values())
                raise ClientValidationError(f"bind through the navigation property: {options}",
                                            table=schema.logical_name, field=key)
            continue
        column = schema.columns.get(key)
        if column is None:
            continue
        if column.read_only:
            raise ClientValidationError("is read-only", table=schema.logical_name, field=key)
        if column.type in LOOKUP_TYPES and value is not None:
            targets = ", ".join(f"{n}@odata.bind" for n in column.navigation.values())
            raise ClientValidationError(f"set a lookup with {targets}", table=schema.logical_name, field=key)
        if value is None:
            continue
        _check_value(schema, key, column.type, column.max_length, column.options, value)
    _check_state(schema, data, creating=creating)


def _check_value(schema: Table, key: str, kind: ColumnType, max_length: int | None, options: Any,
                 value: Any) -> None:
    if kind in (ColumnType.STRING, ColumnType.MEMO):
        if not isinstance(value, str):
            raise ClientValidationError(f"expected text, got {type(value).__name__}", table=schema.logical_name,
                                        field=key)
        if max_length is not None and len(value) > max_length:
            raise ClientValidationError(f"is {len(value)} characters long; the maximum is {max_length}",
                                        table=schema.logical_name, field=key)
    elif kind is ColumnType.PICKLIST and options is not None:
        valid = {int(m) for m in options}
        if isinstance(value, bool) or not isinstance(value, int) or int(value) not in valid:
            raise ClientValidationError(f"{value!r} is not one of {sorted(valid)} ({options.__name__})",
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
