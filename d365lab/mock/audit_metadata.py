"""Auditing in the metadata: ``IsAuditEnabled`` of tables and columns, and switching them.

``GET EntityDefinitions(LogicalName='lead')?$select=IsAuditEnabled`` answers
``{"IsAuditEnabled": {"Value": true, "CanBeChanged": true, "ManagedPropertyLogicalName":
"canmodifyauditsettings"}}``; ``PUT EntityDefinitions(LogicalName='lead')`` with a body whose
``IsAuditEnabled`` is ``{"Value": false}`` (the rest of the EntityMetadata is accepted and
ignored) switches the table. Columns report ``IsAuditEnabled`` too, and ``PUT
EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='statecode')`` with the column's
definition switches one (every column but the key and the tenant's stamps can change); the
change takes effect once published (:mod:`d365lab.mock.audit_columns`, ``PublishXml``).
Changing audit settings needs System Administrator or System Customizer
(``MockSettings.audit.caller_can_customize``).
"""

from __future__ import annotations

from typing import Any

from d365lab.mock import audit, audit_columns
from d365lab.mock import service_errors as errors
from d365lab.mock.tenant_api import Tenant
from d365lab.mock.wire import MockRequest, MockResponse, empty_response
from d365lab.models.schema import Column, Table

_MANAGED = "canmodifyauditsettings"


def _flag(value: bool, can_change: bool) -> dict[str, Any]:
    return {"Value": value, "CanBeChanged": can_change, "ManagedPropertyLogicalName": _MANAGED}


def entity_audit(tenant: Tenant, table: Table) -> dict[str, Any]:
    """The table's ``IsAuditEnabled`` managed property."""
    store = audit.store_of(tenant)
    enabled = store is not None and audit.table_enabled(store, tenant.settings, table.logical_name)
    return {"IsAuditEnabled": _flag(enabled, audit.is_auditable(table))}


def attribute_audit(table: Table, column: Column, tenant: Tenant | None = None) -> dict[str, Any]:
    """The column's ``IsAuditEnabled`` managed property (its published value)."""
    switchable = audit.is_auditable(table) and column.name in audit.audited_columns(table)
    audited = switchable
    if switchable and tenant is not None:
        store = audit.store_of(tenant)
        audited = (audit_columns.column_enabled(store, tenant.settings, table.logical_name, column.name)
                   if store is not None else
                   column.name not in tenant.settings.audit.unaudited_columns.get(table.logical_name, ()))
    return {"IsAuditEnabled": _flag(audited, switchable)}


def require_customizer(tenant: Tenant, privilege: str, entity: str) -> None:
    """403 unless the caller may change audit settings (``MockSettings.audit.caller_can_customize``)."""
    if tenant.settings.audit.caller_can_customize:
        return
    raise errors.MockError(403, "0x80040220", (
        f"Principal user (Id={tenant.caller.user_id}, type=8, roleCount=1, privilegeCount=0, accessMode=0), "
        f"is missing {privilege} privilege on entity '{entity}'. Changing audit settings needs the System "
        "Administrator or System Customizer role."))


def _audit_value(body: Any, what: str) -> bool | None:
    """``IsAuditEnabled.Value`` of a metadata PUT body (None: not given)."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"The request body must be an {what} JSON object.")
    raw = body.get("IsAuditEnabled")
    value = raw.get("Value") if isinstance(raw, dict) else raw
    if value is not None and not isinstance(value, bool):
        raise errors.bad_request(f"IsAuditEnabled.Value must be true or false, not {value!r}.")
    return value


def update_attribute_definition(tenant: Tenant, request: MockRequest, table: Table, column: Column,
                                metadata_class: str) -> MockResponse:
    """``PUT EntityDefinitions(…)/Attributes(…)``: the column's whole definition; applies ``IsAuditEnabled``."""
    body = request.json()
    value = _audit_value(body, "AttributeMetadata")
    kind = str(body.get("@odata.type") or "").lstrip("#").removeprefix("Microsoft.Dynamics.CRM.")
    if kind and kind != metadata_class:
        raise errors.bad_request(f"The attribute '{column.name}' is a {metadata_class}, not a {kind}.")
    name = body.get("LogicalName")
    if name is not None and str(name).lower() != column.name:
        raise errors.bad_request(f"The LogicalName '{name}' does not match the attribute '{column.name}'.")
    require_customizer(tenant, "prvWriteAttribute", table.logical_name)
    if value is None:
        return empty_response(204)
    current = attribute_audit(table, column, tenant)["IsAuditEnabled"]
    if not current["CanBeChanged"]:
        raise errors.bad_request(f"The audit settings of '{table.logical_name}.{column.name}' cannot be changed.",
                                 code="0x80040203")
    store = audit.store_of(tenant)
    if store is not None:
        audit_columns.set_column_enabled(store, tenant.settings, table.logical_name, column.name, value)
    return empty_response(204)


def update_entity_definition(tenant: Tenant, request: MockRequest, table: Table) -> MockResponse:
    """``PUT EntityDefinitions(…)``: apply ``IsAuditEnabled``; 204."""
    value = _audit_value(request.json(), "EntityMetadata")
    require_customizer(tenant, "prvWriteEntity", table.logical_name)
    if value is None:
        return empty_response(204)
    if not audit.is_auditable(table):
        raise errors.bad_request(f"The audit settings of '{table.logical_name}' cannot be changed.",
                                 code="0x80040203")
    store = audit.store_of(tenant)
    if store is not None:
        audit.set_table_enabled(store, table.logical_name, value)
    return empty_response(204)
