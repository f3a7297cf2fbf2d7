"""Fill the computed columns of rows a tenant file held before the mock computed them.

A tenant file written by an older mock has null ``*_base``, ``exchangerate``, composite
addresses and ``yomifullname`` on its rows until their next write. When a tenant opens, the rows
whose computed column is null while its sources are not get it, once per file (a ``_meta``
marker), in one transaction, without a new ``versionnumber`` or ``modifiedon`` (the values are
derived: no one wrote the row), through the same rules a write runs. ``exchangerate`` is the
currency's current rate (the rate at the time of the row's last write is not known).
"""

from __future__ import annotations

import logging

from d365lab.mock.rules.base import TableRule
from d365lab.mock.rules.computed import CompositeAddressRule, FullNameRule, composite_addresses
from d365lab.mock.rules.money_base import MoneyBaseRule, base_pairs, tracks_exchange_rate
from d365lab.mock.service_errors import MockError
from d365lab.mock.store import quote, to_sql
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Row
from d365lab.models.schema import TABLES, Table

_MARKER = "computed_columns"
_BATCH = 500
_NAME_PARTS = {"fullname": ("firstname", "middlename", "lastname"),
               "yomifullname": ("yomifirstname", "yomimiddlename", "yomilastname")}
_log = logging.getLogger(__name__)


def computed_sources(table: Table) -> list[tuple[str, tuple[str, ...]]]:
    """``(computed column, the columns it is computed from)`` for every computed column of a table."""
    found: list[tuple[str, tuple[str, ...]]] = [(base, (money,)) for money, base in base_pairs(table)]
    if tracks_exchange_rate(table):
        found.append(("exchangerate", ("transactioncurrencyid",)))
    found += [(composite, parts) for composite, parts, _ in composite_addresses(table)]
    found += [(name, parts) for name, parts in _NAME_PARTS.items()
              if name in table.columns and all(part in table.columns for part in parts)]
    return found


def _stale_rows_sql(sources: list[tuple[str, tuple[str, ...]]]) -> str:
    """A WHERE clause for rows with a null computed column whose sources are not all null."""
    return " OR ".join(
        f"({quote(target)} IS NULL AND ({' OR '.join(f'{quote(part)} IS NOT NULL' for part in parts)}))"
        for target, parts in sources)


def backfill_computed_columns(tenant: SqliteTenant) -> int:
    """Compute the missing computed columns of a tenant file's rows, once per file; return the rows changed."""
    store = tenant.store
    if store.scalar("SELECT value FROM _meta WHERE key=?", [_MARKER]) is not None:
        return 0
    changed = 0
    with store.transaction():
        for table in TABLES.values():
            rules: list[TableRule] = [rule for rule in tenant.rules.rules_for(table.logical_name)
                                      if isinstance(rule, MoneyBaseRule | FullNameRule | CompositeAddressRule)]
            sources = computed_sources(table)
            if rules and sources:
                changed += _backfill_table(tenant, table, rules, _stale_rows_sql(sources))
        store.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, 1)", [_MARKER])
    if changed:
        _log.info("computed columns filled on %d rows written by an older mock", changed)
    return changed


def _backfill_table(tenant: SqliteTenant, table: Table, rules: list[TableRule], stale: str) -> int:
    store, key = tenant.store, quote(table.primary_id)
    changed, last = 0, ""
    while True:
        rows = store.select(table, f"{key} > ? AND ({stale})", [last], order_by=key, limit=_BATCH)
        for row in rows:
            new = dict(row)
            try:
                for rule in rules:
                    rule.before_write(tenant, row, new)
            except MockError:  # a value the rules refuse today (a base past the Money range): left as it is
                continue
            columns = [name for name in new if new[name] != row.get(name)]
            if columns:
                _write(tenant, table, new, columns)
                changed += 1
        if len(rows) < _BATCH:
            return changed
        last = str(rows[-1][table.primary_id])


def _write(tenant: SqliteTenant, table: Table, row: Row, columns: list[str]) -> None:
    """Store the recomputed columns: a narrow UPDATE, or the whole row when an indexed one changed.

    (An indexed text column has a folded shadow column that :meth:`Store.replace` keeps right.)
    """
    if any(table.columns[name].indexed for name in columns):
        tenant.store.replace(table, row)
        return
    assignments = ", ".join(f"{quote(name)} = ?" for name in columns)
    tenant.store.execute(f"UPDATE {quote(table.logical_name)} SET {assignments} WHERE {quote(table.primary_id)} = ?",
                         [*(to_sql(table.columns[name], row[name]) for name in columns), row[table.primary_id]])
