"""Auditing in the metadata: ``IsAuditEnabled`` of tables and columns, and switching a table's.

``GET EntityDefinitions(LogicalName='lead')?$select=IsAuditEnabled`` answers
``{"IsAuditEnabled": {"Value": true, "CanBeChanged": true, "ManagedPropertyLogicalName":
"canmodifyauditsettings"}}``; ``PUT EntityDefinitions(LogicalName='lead')`` with a body whose
``IsAuditEnabled`` is ``{"Value": false}`` (the rest of the EntityMetadata is accepted and
ignored) switches the table. Columns report ``IsAuditEnabled`` too (not switchable: every
column but the key and the tenant's stamps is audited).
"""

from __future__ import annotations

from typing import Any

from d365lab.mock import audit
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
    """The column's ``IsAuditEnabled`` managed property (``MockSettings.audit.unaudited_columns`` off)."""
    audited = audit.is_auditable(table) and column.name in audit.audited_columns(table)
    if audited and tenant is not None:
        audited = column.name not in tenant.settings.audit.unaudited_columns.get(table.logical_name, ())
    return {"IsAuditEnabled": _flag(audited, False)}


def update_entity_definition(tenant: Tenant, request: MockRequest, table: Table) -> MockResponse:
    """``PUT EntityDefinitions(…)``: apply ``IsAuditEnabled``; 204."""
    body = request.json()
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be an EntityMetadata JSON object.")
    raw = body.get("IsAuditEnabled")
    value = raw.get("Value") if isinstance(raw, dict) else raw
    if value is None:
        return empty_response(204)
    if not isinstance(value, bool):
        raise errors.bad_request(f"IsAuditEnabled.Value must be true or false, not {value!r}.")
    if not audit.is_auditable(table):
        raise errors.bad_request(f"The audit settings of '{table.logical_name}' cannot be changed.",
                                 code="0x80040203")
    store = audit.store_of(tenant)
    if store is not None:
        audit.set_table_enabled(store, table.logical_name, value)
    return empty_response(204)
