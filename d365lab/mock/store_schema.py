"""The SQL layout of a mock tenant: tables, columns, indexes, and upgrades of older files.

Each schema column is one SQL column, except lookups, which take two: ``<name>`` (the
target row id) and ``<name>__t`` (the target table's logical name). Every ``indexed`` text
column also has a folded shadow column ``<name>__f`` (see :mod:`d365lab.mock.collation`)
that carries the index and serves comparisons and sorting; the shadow columns are not in
:attr:`SqlTable.sql_columns`, so rows read back never contain them.

A tenant file written by an older layout is upgraded when it is opened, in one
transaction: missing columns are added, missing shadow columns are added and filled from
the stored text, and an index on a text column is moved to its shadow column.
"""

from __future__ import annotations

import logging
import operator
import sqlite3
from itertools import compress, repeat
from typing import Any

from d365lab.mock.collation import FOLD_FUNCTION, fold_value, has_shadow, shadow_name
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, TABLES, Column, ColumnType, Table

_LOG = logging.getLogger(__name__)
#: Columns stored as SQLite integers (booleans as 0/1).
_SQL_INTEGER_TYPES = INTEGER_TYPES | {ColumnType.BOOLEAN}
# NOCASE is no longer what comparisons use (they go through the folded form); it stays on
# the stored text so files written before and after the shadow columns declare the same.
_TEXT_NOCASE = frozenset({ColumnType.STRING, ColumnType.MEMO, ColumnType.ENTITYNAME})
#: Sort keys commonly used by clients, indexed although the schema does not flag them.
_EXTRA_INDEXED = ("createdon", "modifiedon")


def quote(name: str) -> str:
    """Quote an SQL identifier (schema names are plain identifiers; quoting keeps keywords safe)."""
    return '"' + name.replace('"', '""') + '"'


def target_column(column: str) -> str:
    """The SQL column holding a lookup's target table name."""
    return f"{column}__t"


class SqlTable:
    """How one schema table maps onto SQL: names, the ordered SQL columns, prepared statements."""

    def __init__(self, table: Table, sql_columns: tuple[str, ...]) -> None:
        self.table = table
        self.sql_columns = sql_columns
        self.name = quote(table.logical_name)
        self.select_list = ", ".join(quote(c) for c in sql_columns)
        pk = quote(table.primary_id)
        self.select_sql = f"SELECT {self.select_list} FROM {self.name}"
        self.get_sql = f"{self.select_sql} WHERE {pk}=?"
        #: (column name, is a two-column lookup, is boolean, is real) in SQL order.
        self.layout: tuple[tuple[str, bool, bool, bool], ...] = tuple(
            (c.name, c.is_lookup and c.name != table.primary_id, c.type is ColumnType.BOOLEAN, c.type in REAL_TYPES)
            for c in table.columns.values())
        # Inserts bind columns grouped by conversion (plain, boolean, lookup pairs, folded
        # shadows), so most values go through one list comprehension, not a per-column branch.
        self.column_names = tuple(name for name, *_ in self.layout)
        #: The column names as a set: a row holding exactly these keys is copied whole (wide tables).
        self.column_set = frozenset(self.column_names)
        self.plain_names = tuple(name for name, lookup, boolean, _ in self.layout if not (lookup or boolean))
        #: Reads the plain columns of a row in one C call (a wide table has over a hundred).
        self.plain_values = operator.itemgetter(*self.plain_names, *self.plain_names[:1])
        self.real_names = tuple(name for name, _, _, real in self.layout if real)
        self.boolean_names = tuple(name for name, _, boolean, _ in self.layout if boolean)
        self.lookup_names = tuple(name for name, lookup, _, _ in self.layout if lookup)
        #: Text columns whose folded value is written to a shadow column.
        self.shadowed_names = tuple(c.name for c in table.columns.values() if has_shadow(c))
        insert_columns = [*self.plain_names, *self.boolean_names,
                          *(c for name in self.lookup_names for c in (name, target_column(name))),
                          *(shadow_name(name) for name in self.shadowed_names)]
        self.insert_sql = (f"INSERT INTO {self.name} (" + ", ".join(quote(c) for c in insert_columns)
                           + ") VALUES (" + ", ".join("?" for _ in insert_columns) + ")")
        self.update_sql = (f"UPDATE {self.name} SET " + ", ".join(f"{quote(c)}=?" for c in insert_columns)
                           + f" WHERE {pk}=?")
        self.exists_sql = f"SELECT 1 FROM {self.name} WHERE {pk}=?"
        self.insert_columns = tuple(insert_columns)
        self._sparse_inserts: dict[tuple[int, ...], str] = {}

    def sparse_insert(self, values: list[Any]) -> tuple[str, list[Any]]:
        """An INSERT naming only the non-null ``values`` (in :attr:`insert_columns` order), and its values.

        Most columns of a wide table are null; binding only the others makes an insert several
        times cheaper. Statements are cached per set of columns (a bulk create repeats a few).
        """
        mask = list(map(operator.is_not, values, repeat(None)))
        present = tuple(compress(range(len(values)), mask))
        sql = self._sparse_inserts.get(present)
        if sql is None:
            names = ", ".join(quote(self.insert_columns[i]) for i in present)
            sql = f"INSERT INTO {self.name} ({names}) VALUES ({', '.join('?' * len(present))})"
            if len(self._sparse_inserts) < 1000:
                self._sparse_inserts[present] = sql
        return sql, list(compress(values, mask))


def _sql_type(column: Column) -> str:
    if column.type in _SQL_INTEGER_TYPES:
        return "INTEGER"
    if column.type in REAL_TYPES:
        return "REAL"
    if column.type in _TEXT_NOCASE:
        return "TEXT COLLATE NOCASE"
    return "TEXT"


def _sql_columns(table: Table) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for col in table.columns.values():
        if col.name == table.primary_id:
            out.append((col.name, "TEXT PRIMARY KEY NOT NULL"))
        elif col.is_lookup:
            out.append((col.name, "TEXT"))
            out.append((target_column(col.name), "TEXT"))
        else:
            out.append((col.name, _sql_type(col)))
    return out


def register_functions(conn: sqlite3.Connection) -> None:
    """Register ``d365_fold(x)`` (deterministic, so SQLite may use it in expressions freely)."""
    conn.create_function(FOLD_FUNCTION, 1, fold_value, deterministic=True)


def create_schema(conn: sqlite3.Connection, path: str) -> dict[str, SqlTable]:
    """Create (or upgrade) every table and index; return the SQL mapping of each table.

    Runs in one transaction, so an interrupted upgrade leaves the file as it was.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        conn.execute("INSERT OR IGNORE INTO _meta (key, value) VALUES ('version', 1000)")
        upgraded: list[str] = []
        tables = {t.logical_name: _create_table(conn, t, upgraded) for t in TABLES.values()}
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if upgraded:
        _LOG.info("mock tenant %s upgraded: folded text columns added for %s", path, ", ".join(upgraded))
    return tables


def _create_table(conn: sqlite3.Connection, table: Table, upgraded: list[str]) -> SqlTable:
    """Create or upgrade one table; ``upgraded`` collects the columns whose folded form was filled in."""
    cols = _sql_columns(table)
    shadows = [(shadow_name(c.name), c.name) for c in table.columns.values() if has_shadow(c)]
    name = quote(table.logical_name)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ("
                 + ", ".join(f"{quote(c)} {t}" for c, t in [*cols, *((s, "TEXT") for s, _ in shadows)]) + ")")
    # A persisted tenant created before a column was added to schema.py gains it here.
    existing = {r[1] for r in conn.execute(f"PRAGMA table_info({name})")}
    for c, t in cols:
        if c not in existing:
            conn.execute(f"ALTER TABLE {name} ADD COLUMN {quote(c)} {t.replace(' PRIMARY KEY NOT NULL', '')}")
    for shadow, source in shadows:
        if shadow not in existing:
            conn.execute(f"ALTER TABLE {name} ADD COLUMN {quote(shadow)} TEXT")
            filled = conn.execute(f"UPDATE {name} SET {quote(shadow)} = {FOLD_FUNCTION}({quote(source)}) "
                                  f"WHERE {quote(source)} IS NOT NULL").rowcount
            if filled:
                upgraded.append(f"{table.logical_name}.{source} ({filled} rows)")
    for col in table.columns.values():
        if col.name == table.primary_id or not (col.indexed or col.name in _EXTRA_INDEXED):
            continue
        index = "ix_" + table.logical_name + "_" + col.name
        if has_shadow(col):
            # Comparisons use the shadow column; an index on the stored text would only cost writes.
            conn.execute(f"DROP INDEX IF EXISTS {quote(index)}")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {quote('ixf_' + table.logical_name + '_' + col.name)}"
                         f" ON {name} ({quote(shadow_name(col.name))})")
        else:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(index)} ON {name} ({quote(col.name)})")
    return SqlTable(table, tuple(c for c, _ in cols))
