"""SQLite storage of a mock tenant: one real SQL table per schema table.

The SQL layout (columns, lookups as two columns, folded shadow columns of indexed text,
indexes, upgrades of older files) is in :mod:`d365lab.mock.store_schema`; text
comparisons are case- and accent-insensitive (:mod:`d365lab.mock.collation`).

The store knows nothing of validation or rules (see :mod:`d365lab.mock.tenant`); it
converts rows between storage form (:mod:`d365lab.mock.tenant_api`) and SQL values,
serialises access with one re-entrant lock, and nests transactions with SAVEPOINTs.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from d365lab.mock.collation import fold_value
from d365lab.mock.store_schema import SqlTable, create_schema, quote, register_functions, target_column
from d365lab.mock.tenant_api import Ref, Row
from d365lab.models.schema import Column, ColumnType, Table

_K = TypeVar("_K")
_V = TypeVar("_V")

__all__ = ["OPTIMIZE_EVERY", "SqlTable", "Store", "quote", "target_column", "to_sql"]

#: Fewest committed row writes between two ``ANALYZE`` runs (planner statistics). Past that,
#: the statistics are refreshed once the writes since the last run reach half of all the
#: writes before it: a bulk load of n rows in chunks costs O(log n) runs, not one per chunk.
OPTIMIZE_EVERY = 1000
#: Ids bound in one ``IN (...)`` query (SQLite's default limit is far higher; this keeps statements small).
_IDS_PER_QUERY = 500


def to_sql(column: Column, value: Any) -> Any:
    """A storage-form value as the SQL value of the column (lookups: only the id)."""
    if value is None:
        return None
    if column.is_lookup:
        return value.id if isinstance(value, Ref) else str(value)
    if column.type is ColumnType.BOOLEAN:
        return 1 if value else 0
    return value


class Store:
    """A SQLite database holding every table of one tenant.

    ``path`` is a file path (WAL journal, ``synchronous=NORMAL``) or ``":memory:"``.
    All methods are thread-safe; :meth:`transaction` holds the lock for its duration so
    a request's reads and writes are never interleaved with another thread's.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._depth = 0
        self._version_dirty = False
        #: Primary keys known to exist, per table, valid until the outermost transaction ends
        #: (it holds the write lock, so no other connection can delete them meanwhile).
        self._known: dict[str, set[str]] = {}
        #: Bumped by every change to an existing row (update, delete, raw statement).
        self.modifications = 0
        #: Bumped when an outermost transaction begins (audit rows of one transaction share an id).
        self.transactions = 0
        if path == ":memory:":
            # Before the first table: 16 KiB pages hold the wide CDM rows with a quarter of the
            # page-cache overhead (100,000 leads with their process flows: 309 -> 285 MB).
            self._conn.execute("PRAGMA page_size=16384")
        else:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # Another process (a CLI run next to `d365lab mock serve`) may hold the write lock.
            self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        register_functions(self._conn)
        self.tables: dict[str, SqlTable] = create_schema(self._conn, path)
        self._version = self._stored_version()
        self._writes = 0
        #: Row writes committed before the last ANALYZE (since this store was opened).
        self._writes_analyzed = 0
        self._conn.execute("PRAGMA analysis_limit=1000")
        self.optimize()

    def optimize(self) -> None:
        """Refresh the planner's statistics (sampled ANALYZE: about 4 ms at 100,000 leads).

        Without statistics SQLite may pick the index of a column such as ``statecode``
        (one value for most rows) over a selective one such as ``lastname``.
        """
        with self.lock:
            self._conn.execute("ANALYZE")
            self._writes_analyzed += self._writes
            self._writes = 0

    # ------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A nestable transaction: the outermost is BEGIN/COMMIT, inner ones SAVEPOINTs."""
        with self.lock:
            depth = self._depth
            savepoint = f"sp{depth}"
            if depth == 0:
                # IMMEDIATE takes the write lock now, so the counter read below stays ours until
                # COMMIT even when another process shares the database file.
                self._conn.execute("BEGIN IMMEDIATE")
                self._version = self._stored_version()
                self.transactions += 1
            else:
                self._conn.execute(f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                # Rows inserted inside the rolled-back scope are gone again.
                self._known.clear()
                self.modifications += 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                    self._version_dirty = False
                else:
                    self._conn.execute(f"ROLLBACK TO {savepoint}")
                    self._conn.execute(f"RELEASE {savepoint}")
                raise
            else:
                self._depth -= 1
                if depth == 0:
                    self._known.clear()
                    if self._version_dirty:
                        self._conn.execute("UPDATE _meta SET value=? WHERE key='version'", (self._version,))
                        self._version_dirty = False
                    self._conn.execute("COMMIT")
                    if self._writes >= max(OPTIMIZE_EVERY, self._writes_analyzed // 2):
                        self.optimize()
                else:
                    self._conn.execute(f"RELEASE {savepoint}")

    @property
    def in_transaction(self) -> bool:
        """True inside :meth:`transaction` (on the thread holding the lock)."""
        return self._depth > 0

    def _stored_version(self) -> int:
        return int(self._conn.execute("SELECT value FROM _meta WHERE key='version'").fetchone()[0])

    def next_version(self) -> int:
        """The next value of the tenant-wide version counter (monotonic, never reused)."""
        with self.lock:
            if self._depth == 0:
                with self.transaction():
                    return self.next_version()
            self._version += 1
            self._version_dirty = True
            return self._version

    # --------------------------------------------------------------- rows

    def row_from_sql(self, table: Table, values: Sequence[Any]) -> Row:
        """A storage-form row from SQL values in :attr:`SqlTable.sql_columns` order."""
        row: Row = {}
        i = 0
        for name, two_columns, boolean, real in self.tables[table.logical_name].layout:
            if two_columns:
                ident, target = values[i], values[i + 1]
                row[name] = Ref(target, ident) if ident is not None else None
                i += 2
                continue
            value = values[i]
            if value is not None:
                if boolean:
                    value = bool(value)
                elif real:
                    value = float(value)
            row[name] = value
            i += 1
        return row

    def _values_and_form(self, table: Table, row: Row) -> tuple[list[Any], Row]:
        """The values ``insert_sql``/``update_sql`` bind for ``row``, and the row :meth:`get` would read back.

        The second saves reading a row just written: only the layout's columns, booleans as
        ``bool``, money/double as ``float``, a lookup held as a bare id as a Ref without table.
        """
        st = self.tables[table.logical_name]
        if row.keys() == st.column_set:  # a create's full row: copied in C, not column by column
            stored: Row = dict(row)
        else:
            get = row.get
            stored = {name: get(name) for name in st.column_names}
        values = list(st.plain_values(stored))
        values.pop()  # the getter reads one name twice so that it always answers a tuple
        for name in st.real_names:
            value = stored[name]
            if value is not None:
                stored[name] = float(value)
        for name in st.boolean_names:
            value = stored[name]
            if value is None:
                values.append(None)
            else:
                stored[name] = bool(value)
                values.append(1 if value else 0)
        for name in st.lookup_names:
            value = stored[name]
            if value is None:
                values += (None, None)
            elif isinstance(value, Ref):
                values += (value.id, value.table)
            else:
                values += (str(value), None)
                stored[name] = Ref(None, str(value))  # type: ignore[arg-type]  # what row_from_sql builds
        # Folded here, once per write, so index maintenance never calls back into Python.
        values += [fold_value(stored[name]) for name in st.shadowed_names]
        return values, stored

    def insert(self, table: Table, row: Row) -> Row:
        """Insert a complete row; raises ``sqlite3.IntegrityError`` on a duplicate primary key.

        Returns the row as :meth:`get` would read it back now (built without reading it).
        """
        values, stored = self._values_and_form(table, row)
        sql, present = self.tables[table.logical_name].sparse_insert(values)
        with self.lock:
            self._conn.execute(sql, present)
            self._writes += 1
            if self._depth:
                self._known.setdefault(table.logical_name, set()).add(row[table.primary_id])
        return stored

    def replace(self, table: Table, row: Row) -> Row:
        """Overwrite every column of an existing row (matched by primary key).

        Returns the row as :meth:`get` would read it back now (built without reading it).
        """
        values, stored = self._values_and_form(table, row)
        values.append(row[table.primary_id])
        with self.lock:
            self._conn.execute(self.tables[table.logical_name].update_sql, values)
            self._writes += 1
            self.modifications += 1
        return stored

    def delete(self, table: Table, record_id: str) -> None:
        """Delete a row by primary key."""
        with self.lock:
            self._conn.execute(f"DELETE FROM {quote(table.logical_name)} WHERE {quote(table.primary_id)}=?",
                               (record_id,))
            self._known.get(table.logical_name, set()).discard(record_id)
            self.modifications += 1

    def get(self, table: Table, record_id: str) -> Row | None:
        """A row by primary key, or None."""
        with self.lock:
            found = self._conn.execute(self.tables[table.logical_name].get_sql, (record_id,)).fetchone()
        return None if found is None else self.row_from_sql(table, found)

    def exists(self, table: Table, record_id: str) -> bool:
        """True when a row with this primary key exists (no row is read or converted).

        Inside a transaction the answer is remembered until the transaction ends, so the
        lookup targets a bulk create checks again and again (the seeded stage, the rows
        it has just inserted) cost one query at most.
        """
        with self.lock:
            if record_id in self._known.get(table.logical_name, ()):
                return True
            found = self._conn.execute(self.tables[table.logical_name].exists_sql, (record_id,)).fetchone()
            if found is not None and self._depth:
                self._known.setdefault(table.logical_name, set()).add(record_id)
            return found is not None

    def existing_ids(self, table: Table, record_ids: Sequence[str]) -> set[str]:
        """Which of ``record_ids`` exist as primary keys (a few queries for any number of ids)."""
        found: set[str] = set()
        pk, name = quote(table.primary_id), self.tables[table.logical_name].name
        with self.lock:
            for start in range(0, len(record_ids), _IDS_PER_QUERY):
                chunk = list(record_ids[start:start + _IDS_PER_QUERY])
                marks = ",".join("?" * len(chunk))
                cursor = self._conn.execute(f"SELECT {pk} FROM {name} WHERE {pk} IN ({marks})", chunk)
                found.update(r[0] for r in cursor)
        return found

    def select(self, table: Table, where: str = "", params: Sequence[Any] = (),
               order_by: str = "", limit: int | None = None) -> list[Row]:
        """Rows matching an SQL ``where`` clause with bound ``params``."""
        sql = self.tables[table.logical_name].select_sql
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.lock:
            cursor = self._conn.execute(sql, list(params))
            return [self.row_from_sql(table, r) for r in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a query (None when empty)."""
        with self.lock:
            found = self._conn.execute(sql, list(params)).fetchone()
        return None if found is None else found[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a read-only query, as SQL values (joins and aggregates build their own SELECT)."""
        with self.lock:
            return self._conn.execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a write statement; return the number of rows changed."""
        with self.lock:
            # Any row may have changed or gone: forget what is known to exist.
            self._known.clear()
            self.modifications += 1
            return self._conn.execute(sql, list(params)).rowcount

    def clear(self) -> None:
        """Delete every row of every table (the version counter keeps growing)."""
        with self.transaction():
            self._known.clear()
            self.modifications += 1
            for st in self.tables.values():
                self._conn.execute(f"DELETE FROM {st.name}")

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self._conn.close()


#: Values remembered during one outermost transaction of a store: ``{store: (transaction number, values)}``.
TransactionMemos = weakref.WeakKeyDictionary[Store, tuple[int, dict[_K, _V]]]


def transaction_memo(memos: TransactionMemos[_K, _V], store: Store) -> dict[_K, _V] | None:
    """The values remembered in ``store``'s current transaction (fresh at each new one; None outside one).

    For facts a bulk write would otherwise read once per row (audit switches, currency rates);
    whoever writes the underlying rows drops the memo (``memos.pop(store, None)``).
    """
    if not store.in_transaction:
        return None
    known = memos.get(store)
    if known is None or known[0] != store.transactions:
        known = (store.transactions, {})
        memos[store] = known
    return known[1]
