"""CreateMultiple, UpdateMultiple and UpsertMultiple (bound to an entity collection), and BulkDelete.

``POST /leads/Microsoft.Dynamics.CRM.CreateMultiple`` with ``{"Targets": [...]}``; every
target carries ``@odata.type`` naming the bound table. Standard tables run the whole
request in one transaction: any failing target rolls every target back.
"""

from __future__ import annotations

import uuid
from typing import Any

from d365lab.mock.handlers.registry import OperationCall, OperationResult, bound_action, unbound_action
from d365lab.mock.handlers.sales_params import parse_bind, type_name
from d365lab.mock.rules.process_flow import instances_created_together
from d365lab.mock.service_errors import MockError, bad_request
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.schema import TYPE_NAMESPACE, Column, Table

#: The error code of DeleteMultiple on a standard table (UNVERIFIED: the service's "not implemented").
DELETE_MULTIPLE_CODE = "0x80040216"


def _decode(tenant: Tenant, table: str, body: dict[str, Any], *, for_create: bool) -> Row:
    # Imported here: the codec belongs to the app layer, which imports the handlers.
    from d365lab.mock.codec import decode_body

    return decode_body(tenant, table, body, for_create=for_create)


def _targets(tenant: Tenant, call: OperationCall) -> tuple[Table, list[dict[str, Any]]]:
    """The bound table and the targets with their ``@odata.type`` checked and removed."""
    if call.bound_table is None or call.bound_id is not None:
        raise bad_request(
            f"{call.name} must be bound to an entity collection, e.g. POST /leads/{TYPE_NAMESPACE}.{call.name}.")
    table = tenant.table(call.bound_table)
    if not table.supports_bulk:
        raise bad_request(f"The {call.name} message is not supported on the {table.logical_name} table.")
    targets = call.parameters.get("Targets")
    if not isinstance(targets, list) or not targets:
        raise bad_request(f"{call.name} needs a non-empty 'Targets' array of {table.logical_name} records.")
    cleaned: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise bad_request(f"Targets[{index}] must be a JSON object.")
        declared = target.get("@odata.type")
        if declared is None:
            raise bad_request(
                f"Targets[{index}] has no @odata.type; every target of {call.name} must declare "
                f"\"@odata.type\": \"{TYPE_NAMESPACE}.{table.logical_name}\".")
        if type_name(declared) != table.logical_name:
            raise bad_request(
                f"Targets[{index}] is of type {declared!r} but {call.name} is bound to {table.entity_set}; "
                f"every target must be {TYPE_NAMESPACE}.{table.logical_name}.")
        cleaned.append({k: v for k, v in target.items() if k != "@odata.type"})
    return table, cleaned


def _alternate_key(tenant: Tenant, table: Table, odata_id: Any, index: int) -> tuple[str | None, Row]:
    """``accounts(accountnumber='ACC-001')``: the id of the row that key names (None when there is
    none yet) and the key's column values, which a created row receives."""
    from d365lab.mock.codec import key_literal, parse_key_values, resolve_key

    text = str(odata_id).strip().rsplit("/", 1)[-1]
    prefix = f"{table.entity_set}("
    if not (text.startswith(prefix) and text.endswith(")")):
        raise bad_request(f"Targets[{index}] has an @odata.id that is not {table.entity_set}(<key>): {odata_id!r}.")
    key = text[len(prefix):-1]
    parsed = parse_key_values(key)
    if isinstance(parsed, str):
        raise bad_request(f"Targets[{index}] has an @odata.id that is not {table.entity_set}(<key>): {odata_id!r}.")
    values: Row = {}
    for name, raw in parsed.items():
        column = table.columns.get(name)
        if column is None or column.is_lookup:
            raise bad_request(f"Targets[{index}]: '{name}' is not a key column of {table.logical_name}.")
        values[name] = key_literal(column, raw)
    try:
        return resolve_key(tenant, table, key), values
    except MockError as exc:
        if exc.status != 404:
            raise
        return None, values


def _target_id(table: Table, target: dict[str, Any], index: int, *, required: bool,
               tenant: Tenant | None = None) -> str | None:
    """The primary key of a target, from the key column or ``@odata.id`` (an alternate key
    such as ``accounts(accountnumber='ACC-001')`` too; a missing row's key values are put
    into ``target`` so a create receives them)."""
    odata_id = target.pop("@odata.id", None)
    record_id = target.get(table.primary_id)
    if record_id is None and odata_id is not None:
        record_id = parse_bind(odata_id, table.entity_set)
        if record_id is None and tenant is not None:
            record_id, key_values = _alternate_key(tenant, table, odata_id, index)
            if record_id is None:
                target.update({name: value for name, value in key_values.items() if name not in target})
                if required:
                    raise bad_request(f"Targets[{index}]: no {table.logical_name} matches {odata_id!r}.")
                return None
        elif record_id is None:
            raise bad_request(f"Targets[{index}] has an @odata.id that is not {table.entity_set}(<id>): {odata_id!r}.")
    if record_id is None:
        if required:
            raise bad_request(f"Targets[{index}] has no '{table.primary_id}'; it is needed to update the record.")
        return None
    if not isinstance(record_id, str):
        raise bad_request(f"Targets[{index}].{table.primary_id} must be a GUID string.")
    return record_id.lower()


def _update_target(tenant: Tenant, table: Table, record_id: str, target: dict[str, Any]) -> None:
    """Update the existing row a target names (the key is the row's, not a value to write)."""
    target.pop(table.primary_id, None)
    tenant.update(table.logical_name, record_id, _decode(tenant, table.logical_name, target, for_create=False))


@bound_action("*", "CreateMultiple")
def create_multiple(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Create every target; 200 with their ids in order."""
    table, targets = _targets(tenant, call)
    rows = [_decode(tenant, table.logical_name, target, for_create=True) for target in targets]
    with tenant.transaction(), instances_created_together(tenant):
        created = tenant.create_many(table.logical_name, rows)
    return OperationResult(status=200, body={
        "@odata.context": call.response_context("CreateMultiple"),
        "Ids": [row[table.primary_id] for row in created],
    })


@bound_action("*", "UpdateMultiple")
def update_multiple(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Update every target (each must exist); 204."""
    table, targets = _targets(tenant, call)
    with tenant.transaction():
        for index, target in enumerate(targets):
            record_id = _target_id(table, target, index, required=True, tenant=tenant)
            assert record_id is not None  # required=True raised otherwise
            _update_target(tenant, table, record_id, target)
    return OperationResult(status=204)


@bound_action("*", "UpsertMultiple")
def upsert_multiple(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Update the targets that exist and create the others; 204."""
    table, targets = _targets(tenant, call)
    with tenant.transaction():
        for index, target in enumerate(targets):
            record_id = _target_id(table, target, index, required=False, tenant=tenant)
            if record_id is not None and tenant.get(table.logical_name, record_id) is not None:
                _update_target(tenant, table, record_id, target)
            else:
                if record_id is not None:
                    target[table.primary_id] = record_id
                tenant.create(table.logical_name, _decode(tenant, table.logical_name, target, for_create=True))
    return OperationResult(status=204)


@bound_action("*", "DeleteMultiple")
def delete_multiple(tenant: Tenant, call: OperationCall) -> OperationResult:
    """DeleteMultiple exists for elastic tables only; on the mock's standard tables it fails as the service does.

    The message is Microsoft's ("DeleteMultiple has not yet been implemented."); the status
    (400) and code are UNVERIFIED. Use BulkDelete (or one DELETE per row) instead.
    """
    del tenant, call
    raise MockError(400, DELETE_MULTIPLE_CODE, "DeleteMultiple has not yet been implemented.")


# --------------------------------------------------------------------------- BulkDelete

_SUPPORTED_OPERATORS = ("Equal", "In")
_TYPED_INTEGERS = ("System.Int32", "System.Int64")


def _typed(column: Column, value: Any) -> Any:
    """A condition value as the column's storage form: ``{"Value": "3", "Type": "System.Int32"}`` -> ``3``.

    A value that is not of the column's type (``"abc"`` as an Int32, a number past the type's
    range) is the OData conversion error (400).
    """
    from d365lab.mock.validation import coerce, conversion_error  # the app layer, as _decode

    if isinstance(value, dict):
        raw, kind = value.get("Value"), str(value.get("Type", ""))
        if kind in _TYPED_INTEGERS and isinstance(raw, str):
            text = raw.strip()
            if not text.lstrip("-").isdigit() or len(text) > 20:
                raise conversion_error(raw, column)
            raw = int(text)
        elif kind == "System.Boolean" and isinstance(raw, str):
            raw = raw.lower() == "true"
        value = raw
    if isinstance(value, dict | list):
        raise conversion_error(value, column)
    return coerce(column, value)


def _condition_ids(tenant: Tenant, table: Table, condition: Any) -> set[str]:
    """Ids of the rows one ConditionExpression (Equal / In) selects."""
    if not isinstance(condition, dict):
        raise bad_request("BulkDelete: every condition must be a ConditionExpression object.")
    attribute, operator = condition.get("AttributeName"), condition.get("Operator")
    if operator not in _SUPPORTED_OPERATORS:
        raise bad_request(f"BulkDelete: the mock supports the condition operators {', '.join(_SUPPORTED_OPERATORS)}, "
                          f"not {operator!r}.")
    column = table.columns.get(str(attribute))
    if column is None or column.is_lookup:
        raise bad_request(f"BulkDelete: '{attribute}' is not a column the mock can filter {table.logical_name} on.")
    raw_values = condition.get("Values") or []
    if not isinstance(raw_values, list):
        raise bad_request("BulkDelete: a condition's 'Values' must be an array.")
    values = [_typed(column, v) for v in raw_values]
    found: set[str] = set()
    for value in values:
        if attribute == table.primary_id:
            row = tenant.get(table.logical_name, str(value).lower())
            found.update([row[table.primary_id]] if row is not None else [])
        else:
            found.update(r[table.primary_id] for r in tenant.find(table.logical_name, **{column.name: value}))
    return found


def _query_ids(tenant: Tenant, query: dict[str, Any]) -> tuple[Table, set[str]]:
    name = query.get("EntityName")
    if not isinstance(name, str):
        raise bad_request("BulkDelete: every QueryExpression needs an 'EntityName' string.")
    table = tenant.table(name)
    criteria = query.get("Criteria") or {}
    if not isinstance(criteria, dict):
        raise bad_request("BulkDelete: 'Criteria' must be a FilterExpression object.")
    conditions = criteria.get("Conditions") or []
    if not isinstance(conditions, list) or not conditions or criteria.get("Filters"):
        raise bad_request("BulkDelete: the mock needs a flat Criteria with at least one condition.")
    selected = [_condition_ids(tenant, table, c) for c in conditions]
    if criteria.get("FilterOperator", "And") == "Or":
        return table, set().union(*selected)
    return table, set.intersection(*selected)


@unbound_action("BulkDelete")
def bulk_delete(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Delete the rows every QueryExpression of ``QuerySet`` selects; 200 with a ``JobId``.

    The service runs BulkDelete as an asynchronous job; the mock deletes at once (so the
    job has finished when the answer arrives) and answers a fresh job id.
    """
    queries = call.parameters.get("QuerySet")
    if not isinstance(queries, list) or not queries or not all(isinstance(q, dict) for q in queries):
        raise bad_request("BulkDelete needs 'QuerySet': a non-empty array of QueryExpression objects.")
    with tenant.transaction():
        for query in queries:
            table, ids = _query_ids(tenant, query)
            for record_id in sorted(ids):
                if tenant.get(table.logical_name, record_id) is not None:  # a cascade may have removed it
                    tenant.delete(table.logical_name, record_id)
    return OperationResult(status=200, body={
        "@odata.context": call.response_context("BulkDelete"),
        "JobId": str(uuid.uuid4()),
    })
