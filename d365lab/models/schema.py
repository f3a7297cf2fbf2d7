"""Table definitions shared by the client and the mock tenant.

One :class:`Table` per Dataverse table d365lab knows: entity set, primary key and name,
columns (type, max length, option set, lookup targets and their navigation property
names, defaults), state machine, and collection-valued navigation properties. The mock
builds its SQLite tables, validation and ``EntityDefinitions`` metadata from this; the
client uses it for ``@odata.bind`` names and client-side validation.

Column facts are generated from Microsoft's Common Data Model (:mod:`d365lab.models.cdm`,
``scripts/generate_schema.py``); the Sales behaviour is in :mod:`d365lab.models.sales_tables`
and :mod:`d365lab.models.activity_tables`. A module adding tables registers them in
:data:`TABLES` below.
"""

from __future__ import annotations

from d365lab.models.activity_tables import (
    ACTIVITYPARTY,
    ACTIVITYPOINTER,
    APPOINTMENT,
    EMAIL,
    OPPORTUNITYCLOSE,
    PHONECALL,
    TASK,
)
from d365lab.models.columns import (
    INTEGER_TYPES,
    LOOKUP_TYPES,
    REAL_TYPES,
    TYPE_NAMESPACE,
    CollectionNavigation,
    Column,
    ColumnType,
    OptionSet,
    Table,
)
from d365lab.models.sales_tables import (
    ACCOUNT,
    BUSINESSUNIT,
    CAMPAIGN,
    COMPETITOR,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    ORGANIZATION,
    PROCESS_FLOW,
    PROCESSSTAGE,
    SYSTEMUSER,
    TRANSACTIONCURRENCY,
    WORKFLOW,
    _b,
    _dt,
    _lk,
    _memo,
    _pick,
    _s,
    _table,
)

__all__ = [
    "ACCOUNT", "ACTIVITYPARTY", "ACTIVITYPOINTER", "APPOINTMENT", "BUSINESSUNIT", "BY_ENTITY_SET", "CAMPAIGN",
    "COMPETITOR", "CONTACT", "EMAIL", "INTEGER_TYPES", "LEAD", "LEAD_TO_OPPORTUNITY_PROCESS_ID", "LOOKUP_TYPES",
    "OPPORTUNITY", "OPPORTUNITYCLOSE", "ORGANIZATION", "PHONECALL", "PROCESSSTAGE", "PROCESS_FLOW", "REAL_TYPES",
    "STAGE_IDS", "SYSTEMUSER", "TABLES", "TASK", "TRANSACTIONCURRENCY", "TYPE_NAMESPACE", "WORKFLOW",
    "CollectionNavigation", "Column", "ColumnType", "OptionSet", "Table", "table",
    "_b", "_dt", "_lk", "_memo", "_pick", "_s", "_table",
]

#: The out-of-box "Lead to Opportunity Sales Process" business process flow.
LEAD_TO_OPPORTUNITY_PROCESS_ID = "919e14d1-6489-4852-abd0-a63a6ecaac5d"
#: OOB stage ids of that process (resolve by name on a real org; these seed the mock).
STAGE_IDS: dict[str, str] = {
    "Qualify": "f99b4d48-7aad-456e-864a-8e7d543f7495",
    "Develop": "bfc9108c-8389-406b-9166-2c3298a2e41f",
    "Propose": "3a275c22-fc45-4e89-97fc-41e5ec578743",
    "Close": "7f5247fe-cfc3-42bc-aa77-b1d836d9b7c0",
}

#: Every table, by logical name.
TABLES: dict[str, Table] = {t.logical_name: t for t in (
    LEAD, CONTACT, ACCOUNT, OPPORTUNITY, PHONECALL, ACTIVITYPARTY, OPPORTUNITYCLOSE,
    PROCESS_FLOW, PROCESSSTAGE, WORKFLOW, SYSTEMUSER, BUSINESSUNIT, ORGANIZATION,
    TRANSACTIONCURRENCY, CAMPAIGN, COMPETITOR, TASK, EMAIL, APPOINTMENT, ACTIVITYPOINTER,
)}
#: Every table, by entity set name.
BY_ENTITY_SET: dict[str, Table] = {t.entity_set: t for t in TABLES.values()}


def table(name: str) -> Table:
    """Look a table up by logical name or entity set name.

    Raises ``KeyError`` naming the unknown table.
    """
    found = TABLES.get(name) or BY_ENTITY_SET.get(name)
    if found is None:
        raise KeyError(f"unknown table {name!r}")
    return found

# Platform tables (audit, usersettings, timezonedefinition) and the organization's audit columns.
from d365lab.models.schema_platform import add_platform_tables  # noqa: E402 - needs the classes above

add_platform_tables(TABLES, BY_ENTITY_SET)
