"""Column-level auditing: each column's ``IsAuditEnabled``, switched and published as in Dataverse.

Dataverse audits a change of a column only when the column's ``IsAuditEnabled`` is on (the
third level, after the environment and the table). A column starts as
``MockSettings.audit.unaudited_columns`` says (every column audits by default). ``PUT
EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='statecode')`` with
``IsAuditEnabled.Value`` changes it, and — as the docs say ("changes don't take effect until
you publish the table customizations") — the change stays *pending* until ``PublishXml``
names the table (or ``PublishAllXml``), unless ``MockSettings.audit.column_changes_need_publish``
is False. Until then both the column's metadata and the recording follow the published value.

Values live in the tenant file's ``_meta`` table (``audit_column:lead.statecode`` published,
``audit_column_pending:lead.statecode`` waiting for a publish) and ``mock reset`` clears them.
"""

from __future__ import annotations

import weakref

from d365lab.mock.settings import MockSettings
from d365lab.mock.store import Store

_PUBLISHED = "audit_column:"
_PENDING = "audit_column_pending:"
#: Per store: (transaction serial, table -> its unaudited columns), read once per transaction.
_UNAUDITED: weakref.WeakKeyDictionary[Store, tuple[int, dict[str, frozenset[str]]]] = weakref.WeakKeyDictionary()


def _like(prefix: str) -> str:
    return prefix.replace("_", "\\_") + "%"


def forget(store: Store) -> None:
    """Drop what the current transaction remembered (a flag changed)."""
    _UNAUDITED.pop(store, None)


def column_enabled(store: Store, settings: MockSettings, table: str, column: str) -> bool:
    """The column's published ``IsAuditEnabled`` (the settings' default until switched)."""
    value = store.scalar("SELECT value FROM _meta WHERE key=?", [f"{_PUBLISHED}{table}.{column}"])
    if value is None:
        return column not in settings.audit.unaudited_columns.get(table, ())
    return bool(value)


def unaudited(store: Store, settings: MockSettings, table: str) -> frozenset[str]:
    """The columns of ``table`` whose changes are not audited now (published values)."""
    cached: dict[str, frozenset[str]] | None = None
    if store.in_transaction:
        known = _UNAUDITED.get(store)
        if known is None or known[0] != store.transactions:
            known = (store.transactions, {})
            _UNAUDITED[store] = known
        cached = known[1]
        if table in cached:
            return cached[table]
    off = set(settings.audit.unaudited_columns.get(table, ()))
    prefix = f"{_PUBLISHED}{table}."
    for key, value in store.rows("SELECT key, value FROM _meta WHERE key LIKE ? ESCAPE '\\'",
                                  [_like(prefix)]):
        name = str(key)[len(prefix):]
        if value:
            off.discard(name)
        else:
            off.add(name)
    found = frozenset(off)
    if cached is not None:
        cached[table] = found
    return found


def set_column_enabled(store: Store, settings: MockSettings, table: str, column: str, enabled: bool) -> None:
    """Record a column's new ``IsAuditEnabled``: pending until published (or at once, per the settings)."""
    forget(store)
    prefix = _PENDING if settings.audit.column_changes_need_publish else _PUBLISHED
    store.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)",
                  [f"{prefix}{table}.{column}", 1 if enabled else 0])


def publish(store: Store, tables: list[str] | None) -> int:
    """Make the pending column changes of ``tables`` (None: every table) take effect; how many."""
    forget(store)
    rows = store.rows("SELECT key, value FROM _meta WHERE key LIKE ? ESCAPE '\\'", [_like(_PENDING)])
    published = 0
    for key, value in rows:
        name = str(key)[len(_PENDING):]
        if tables is not None and name.split(".", 1)[0] not in tables:
            continue
        store.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)", [_PUBLISHED + name, value])
        store.execute("DELETE FROM _meta WHERE key=?", [key])
        published += 1
    return published


def reset(store: Store) -> None:
    """Every column back to the settings' defaults (a tenant emptied and seeded again)."""
    forget(store)
    for prefix in (_PUBLISHED, _PENDING):
        store.execute("DELETE FROM _meta WHERE key LIKE ? ESCAPE '\\'", [_like(prefix)])
