"""Auditing of the mock tenant: the switches, and one ``audit`` row per audited change.

Three switches, as in Dataverse: the organization's ``isauditenabled`` (a column of the
organization row, ``PATCH /organizations(<id>)``), the table's ``IsAuditEnabled``
(``MockSettings.audit.audited_tables`` until ``PUT EntityDefinitions(…)`` changes it; kept
in the tenant file), and the column level (every column but the stamps the tenant
maintains; :mod:`d365lab.mock.audit_columns`). When the organization and the table audit, every create,
update that changes a value, and delete of a row writes one audit row in the same
transaction (:mod:`d365lab.mock.rules.audit` calls :func:`record` from the tenant's hooks,
so every write path is covered: PATCH, bulk messages, ``$batch``, QualifyLead,
Win/LoseOpportunity).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable

from d365lab.mock import audit_columns
from d365lab.mock.audit_values import Change, changedata_json
from d365lab.mock.rules.common import SYSTEM_COLUMNS, is_performing
from d365lab.mock.rules.lifecycle import CLOSE_OPPORTUNITY, QUALIFY_LEAD
from d365lab.mock.settings import MockSettings
from d365lab.mock.store import Store, TransactionMemos, quote, transaction_memo
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.mock.validation import new_guid, utc_now
from d365lab.models.schema import TABLES, Table
from d365lab.models.schema_platform import AuditAction, AuditOperation

#: Tables never audited (the audit table itself, and read-only platform data).
NOT_AUDITABLE = frozenset({"audit", "timezonedefinition"})
_TABLE_KEY = "audit_table:"
#: Per store: (transaction serial, transaction id) of the last audited transaction.
_TRANSACTIONS: weakref.WeakKeyDictionary[Store, tuple[int, str]] = weakref.WeakKeyDictionary()
_ORGANIZATION = "\x00organization"
#: Per store: (transaction serial, switches read in it).
_SWITCHES: TransactionMemos[str, bool] = weakref.WeakKeyDictionary()
#: Per table: (the table, its audited columns, column positions), computed once.
_AUDITED: dict[str, tuple[Table, tuple[str, ...], dict[str, int]]] = {}


def store_of(tenant: Tenant) -> Store | None:
    """The SQLite store behind a tenant (None for another implementation)."""
    return tenant.store if isinstance(tenant, SqliteTenant) else None


# ---------------------------------------------------------------------- switches

def _remembered(store: Store) -> dict[str, bool] | None:
    """The switches read in the current transaction (None outside one): a bulk write reads them once."""
    return transaction_memo(_SWITCHES, store)


def forget_switches(store: Store) -> None:
    """Drop the remembered switches (the organization row or a table's flag changed)."""
    _SWITCHES.pop(store, None)
    audit_columns.forget(store)


def organization_enabled(store: Store, settings: MockSettings) -> bool:
    """``organization.isauditenabled`` (the new-tenant default while the row holds none)."""
    remembered = _remembered(store)
    if remembered is not None and _ORGANIZATION in remembered:
        return remembered[_ORGANIZATION]
    value = store.scalar(f"SELECT {quote('isauditenabled')} FROM {quote('organization')} LIMIT 1")
    enabled = settings.audit.enabled_on_new_tenant if value is None else bool(value)
    if remembered is not None:
        remembered[_ORGANIZATION] = enabled
    return enabled


def table_enabled(store: Store, settings: MockSettings, logical_name: str) -> bool:
    """The table-level ``IsAuditEnabled``."""
    if logical_name in NOT_AUDITABLE:
        return False
    remembered = _remembered(store)
    if remembered is not None and logical_name in remembered:
        return remembered[logical_name]
    value = store.scalar("SELECT value FROM _meta WHERE key=?", [_TABLE_KEY + logical_name])
    enabled = logical_name in settings.audit.audited_tables if value is None else bool(value)
    if remembered is not None:
        remembered[logical_name] = enabled
    return enabled


def set_table_enabled(store: Store, logical_name: str, enabled: bool) -> None:
    """Switch a table's ``IsAuditEnabled`` (kept in the tenant file)."""
    forget_switches(store)
    store.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)",
                  [_TABLE_KEY + logical_name, 1 if enabled else 0])


def reset_table_flags(store: Store) -> None:
    """Every table (and column) back to ``MockSettings.audit`` (a tenant emptied and seeded again)."""
    forget_switches(store)
    store.execute("DELETE FROM _meta WHERE key LIKE ?", [_TABLE_KEY + "%"])
    audit_columns.reset(store)


def audited_columns(table: Table) -> tuple[str, ...]:
    """Columns whose changes are audited: all but the key and the stamps the tenant maintains."""
    cached = _AUDITED.get(table.logical_name)
    if cached is None or cached[0] is not table:
        names = tuple(name for name in table.columns if name not in SYSTEM_COLUMNS and name != table.primary_id)
        cached = (table, names, {name: i for i, name in enumerate(table.columns, start=1)})
        _AUDITED[table.logical_name] = cached
    return cached[1]


def is_auditable(table: Table) -> bool:
    """True when the table's ``IsAuditEnabled`` may be switched on."""
    return table.logical_name not in NOT_AUDITABLE


# ---------------------------------------------------------------------- recording

def record(tenant: Tenant, table: Table, old: Row | None, new: Row | None) -> None:
    """Write the audit row of one change (create: ``old`` None; delete: ``new`` None), if audited."""
    store = store_of(tenant)
    if store is None or table.logical_name in NOT_AUDITABLE:
        return
    if table.logical_name == "organization":
        forget_switches(store)  # isauditenabled may have changed
    settings = tenant.settings
    if not organization_enabled(store, settings) or not table_enabled(store, settings, table.logical_name):
        return
    changes = _changes(table, old, new, audit_columns.unaudited(store, settings, table.logical_name))
    if old is not None and new is not None and not changes:
        return  # an update that changes no value writes no audit row
    row = old if new is None else new
    assert row is not None
    names = {name for name, _, _ in changes}
    if settings.audit.split_state_and_status and old is not None and new is not None \
            and {"statecode", "statuscode"} <= names:
        status = [c for c in changes if c[0] == "statuscode"]
        _write(tenant, store, table, row, old, new, [c for c in changes if c[0] != "statuscode"])
        _write(tenant, store, table, row, old, new, status, action=AuditAction.UPDATE)
        return
    _write(tenant, store, table, row, old, new, changes)


def _write(tenant: Tenant, store: Store, table: Table, row: Row, old: Row | None, new: Row | None,
           changes: list[Change], action: int | None = None) -> None:
    """Insert one audit row."""
    settings = tenant.settings
    version = store.next_version()
    store.insert(TABLES["audit"], {
        "auditid": _time_ordered_id(version),
        "createdon": utc_now(),
        "versionnumber": version,
        "action": int(action if action is not None else _action(settings, table, old, new, changes)),
        "operation": int(AuditOperation.CREATE if old is None else
                         AuditOperation.DELETE if new is None else AuditOperation.UPDATE),
        "objectid": Ref(table.logical_name, str(row[table.primary_id])),
        "objecttypecode": table.logical_name,
        "attributemask": _attribute_mask(table, changes),
        "changedata": changedata_json(changes),
        "userid": Ref("systemuser", tenant.caller.user_id),
        "callinguserid": None,
        "transactionid": _transaction_id(store),
    })


def _same(a: object, b: object) -> bool:
    if isinstance(a, Ref) and isinstance(b, Ref):
        return a.id == b.id and (not a.table or not b.table or a.table == b.table)
    return a == b


def _changes(table: Table, old: Row | None, new: Row | None, unaudited: Iterable[str] = ()) -> list[Change]:
    out: list[Change] = []
    skipped = frozenset(unaudited)
    for name in audited_columns(table):
        if name in skipped:
            continue
        before = None if old is None else old.get(name)
        after = None if new is None else new.get(name)
        if not _same(before, after):
            out.append((name, before, after))
    return out


def _action(settings: MockSettings, table: Table, old: Row | None, new: Row | None,
            changes: list[Change]) -> int:
    if old is None:
        return AuditAction.CREATE
    if new is None:
        return AuditAction.DELETE
    changed = {name for name, _, _ in changes}
    if "statecode" in changed:
        return _state_action(settings, table, int(new.get("statecode") or 0))
    if "ownerid" in changed:
        return AuditAction.ASSIGN
    return AuditAction.UPDATE


def _state_action(settings: MockSettings, table: Table, state: int) -> int:
    """The ``action`` of a state change (see :class:`~d365lab.mock.platform_settings.AuditSettings`)."""
    audit = settings.audit
    name = table.logical_name
    if name == "lead" and is_performing(QUALIFY_LEAD) and state == 1:
        return audit.qualify_lead_action
    if name == "opportunity" and is_performing(CLOSE_OPPORTUNITY) and state in (1, 2):
        return audit.win_opportunity_action if state == 1 else audit.lose_opportunity_action
    mode = audit.state_change_action
    if mode == "set_state":
        return AuditAction.SET_STATE
    if mode == "update":
        return AuditAction.UPDATE
    if mode == "named" and state != 0:
        named = {("lead", 1): AuditAction.QUALIFY, ("lead", 2): AuditAction.DISQUALIFY,
                 ("opportunity", 1): AuditAction.WIN, ("opportunity", 2): AuditAction.LOSE}
        if (name, state) in named:
            return named[(name, state)]
    return AuditAction.ACTIVATE if state == 0 else AuditAction.DEACTIVATE


def _attribute_mask(table: Table, changes: list[Change]) -> str:
    """Comma list of the changed columns' numbers (their position in the table, 1-based)."""
    audited_columns(table)
    positions = _AUDITED[table.logical_name][2]
    return "," + ",".join(str(positions[name]) for name, _, _ in changes) + "," if changes else ""


def _time_ordered_id(version: int) -> str:
    """A GUID whose text sorts in write order (the tenant's version counter leads it)."""
    lead = f"{version:012x}"[-12:]
    tail = os.urandom(10).hex()
    return f"{lead[:8]}-{lead[8:]}-{tail[:4]}-{tail[4:8]}-{tail[8:]}"


def _transaction_id(store: Store) -> str:
    """One id per outermost transaction of the store."""
    serial = store.transactions
    known = _TRANSACTIONS.get(store)
    if known is None or known[0] != serial:
        known = (serial, new_guid())
        _TRANSACTIONS[store] = known
    return known[1]
