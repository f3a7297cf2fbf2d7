"""Platform tables the Sales tables rely on: ``audit``, ``usersettings``, ``timezonedefinition``.

Kept apart from :mod:`d365lab.models.schema` (the Sales tables) and registered into its
``TABLES``/``BY_ENTITY_SET`` by :func:`add_platform_tables`, which also gives the
``organization`` table its auditing columns. Property names and types follow the
Dataverse table reference (see ``shared/reference/audit-timezones-grading.md`` §1-2).
"""

from __future__ import annotations

from dataclasses import replace
from enum import IntEnum

from d365lab.models.schema import Column, ColumnType, Table


class AuditOperation(IntEnum):
    """``audit.operation``: only these four exist."""

    CREATE = 1
    UPDATE = 2
    DELETE = 3
    ACCESS = 4


class AuditAction(IntEnum):
    """``audit.action``: the event that caused an audit row (the options the mock writes or grades on).

    The full option set has 74 values; the ones below are those a Sales record's audit
    history shows (create/update/delete, state changes, Sales messages, assignment).
    """

    UNKNOWN = 0
    CREATE = 1
    UPDATE = 2
    DELETE = 3
    ACTIVATE = 4
    DEACTIVATE = 5
    CASCADE = 11
    MERGE = 12
    ASSIGN = 13
    SHARE = 14
    RETRIEVE = 15
    CLOSE = 16
    CANCEL = 17
    COMPLETE = 18
    RESOLVE = 20
    REOPEN = 21
    QUALIFY = 24
    DISQUALIFY = 25
    SET_STATE = 41
    WIN = 44
    LOSE = 45


#: Columns every platform table has (the tenant stamps them on writes; the ETag reads versionnumber).
def _stamps(pk: str) -> list[Column]:
    return [
        Column(pk, ColumnType.GUID, indexed=True),
        Column("createdon", ColumnType.DATETIME, read_only=True),
        Column("modifiedon", ColumnType.DATETIME, read_only=True),
        Column("versionnumber", ColumnType.BIGINT, read_only=True),
        Column("createdby", ColumnType.LOOKUP, navigation={"systemuser": "createdby"}, read_only=True),
        Column("modifiedby", ColumnType.LOOKUP, navigation={"systemuser": "modifiedby"}, read_only=True),
    ]


def _int(name: str, read_only: bool = False, indexed: bool = False) -> Column:
    return Column(name, ColumnType.INTEGER, read_only=read_only, indexed=indexed)


def _text(name: str, length: int, read_only: bool = False) -> Column:
    return Column(name, ColumnType.STRING, max_length=length, read_only=read_only)


def audit_table(audited: dict[str, Table]) -> Table:
    """The ``audit`` table; ``objectid`` may point to any of ``audited`` (by logical name)."""
    columns = [
        Column("auditid", ColumnType.GUID, indexed=True),
        Column("createdon", ColumnType.DATETIME, read_only=True),
        Column("versionnumber", ColumnType.BIGINT, read_only=True),
        Column("action", ColumnType.PICKLIST, options=AuditAction, read_only=True, indexed=True),
        Column("operation", ColumnType.PICKLIST, options=AuditOperation, read_only=True, indexed=True),
        Column("objectid", ColumnType.LOOKUP, read_only=True, indexed=True,
               navigation={name: f"objectid_{name}" for name in audited}),
        Column("objecttypecode", ColumnType.ENTITYNAME, read_only=True, indexed=True),
        Column("attributemask", ColumnType.MEMO, max_length=1073741823, read_only=True),
        Column("changedata", ColumnType.MEMO, max_length=1073741823, read_only=True),
        Column("userid", ColumnType.LOOKUP, read_only=True, indexed=True, navigation={"systemuser": "userid"}),
        Column("callinguserid", ColumnType.LOOKUP, read_only=True,
               navigation={"systemuser": "callinguserid"}),
        Column("transactionid", ColumnType.GUID, read_only=True),
    ]
    return Table("audit", "audits", "auditid", "auditid", {c.name: c for c in columns}, None, 4567,
                 supports_bulk=False)


USERSETTINGS = Table("usersettings", "usersettingscollection", "systemuserid", "systemuserid", {c.name: c for c in [
    *_stamps("systemuserid"),
    _int("timezonecode"), _int("localeid"), _int("uilanguageid"), _int("helplanguageid"),
    _text("dateformatstring", 255), _text("timeformatstring", 255),
    _text("dateseparator", 5), _text("timeseparator", 5),
    # Derived from timezonecode by the tenant (minutes, Windows sign: UTC = local + bias).
    _int("timezonebias", read_only=True), _int("timezonestandardbias", read_only=True),
    _int("timezonedaylightbias", read_only=True),
]}, None, 150, supports_bulk=False)

TIMEZONEDEFINITION = Table(
    "timezonedefinition", "timezonedefinitions", "timezonedefinitionid", "userinterfacename",
    {c.name: c for c in [
        *_stamps("timezonedefinitionid"),
        _int("timezonecode", indexed=True), _text("standardname", 100), _text("daylightname", 100),
        _text("userinterfacename", 200), _int("bias"), _int("retiredorder"),
    ]}, None, 4810, supports_bulk=False)

#: Auditing switches of the organization row (``PATCH /organizations(<id>)``).
ORGANIZATION_AUDIT_COLUMNS = (
    Column("isauditenabled", ColumnType.BOOLEAN),
    Column("isuseraccessauditenabled", ColumnType.BOOLEAN),
    Column("useraccessauditinginterval", ColumnType.INTEGER, min_value=1),
    Column("auditretentionperiodv2", ColumnType.INTEGER, min_value=-1, max_value=365000),
    Column("auditsettings", ColumnType.MEMO, max_length=1073741823),
)


def add_platform_tables(tables: dict[str, Table], by_entity_set: dict[str, Table]) -> None:
    """Register the platform tables and the organization's audit columns (in place)."""
    organization = tables.get("organization")
    if organization is not None:
        extra = {c.name: c for c in ORGANIZATION_AUDIT_COLUMNS if c.name not in organization.columns}
        tables["organization"] = replace(organization, columns={**organization.columns, **extra})
    audit = audit_table(dict(tables))
    for table in (audit, USERSETTINGS, TIMEZONEDEFINITION):
        tables[table.logical_name] = table
    by_entity_set.clear()
    by_entity_set.update({t.entity_set: t for t in tables.values()})
