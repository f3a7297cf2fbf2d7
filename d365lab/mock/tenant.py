"""The :class:`~d365lab.mock.tenant_api.Tenant` implementation over the SQLite store.

Every write goes through here: generic validation (:mod:`d365lab.mock.validation`),
stamping (``createdon``/``modifiedon``, ``createdby``/``modifiedby``/``ownerid``,
``versionnumber``), the table rules' hooks, and the nestable transaction that rolls back
everything a failed request wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.collation import comparison_sql, comparison_value
from d365lab.mock.intersect import associate, forget
from d365lab.mock.relationships import one_to_many
from d365lab.mock.rules.base import DEFAULT as RULES
from d365lab.mock.rules.base import RuleRegistry
from d365lab.mock.rules.common import sending
from d365lab.mock.service_errors import MockError
from d365lab.mock.settings import MockSettings
from d365lab.mock.store import Store, quote, target_column, to_sql
from d365lab.mock.tenant_api import Caller, Ref, Row
from d365lab.mock.validation import check_values, lookup_targets, new_guid, normalize_guid, utc_now
from d365lab.models import schema
from d365lab.models.schema import TABLES, ColumnType, Table


def duplicate_key() -> MockError:
    """412 for a create whose primary key already exists."""
    return MockError(412, errors.DUPLICATE_KEY, "A record with matching key values already exists.")


_MONEY_COLUMNS: dict[int, tuple[Table, tuple[str, ...]]] = {}


def _children(t: Table, checked: Row) -> Row:
    """Take the deep-insert children (collection-valued navigations) out of the checked values."""
    relations = one_to_many(t)
    return {name: checked.pop(name) for name in [n for n in checked if n in relations]}


def _money_columns(t: Table) -> tuple[str, ...]:
    """The money columns of a table, listed once per table (every create asks)."""
    cached = _MONEY_COLUMNS.get(id(t))
    if cached is None or cached[0] is not t:
        cached = (t, tuple(c.name for c in t.columns.values() if c.type is ColumnType.MONEY))
        _MONEY_COLUMNS[id(t)] = cached
    return cached[1]


class SqliteTenant:
    """One tenant's data: validation, rules and transactions over a :class:`Store`.

    >>> tenant = SqliteTenant(Store(":memory:"), Caller("u", "b", "o"))
    >>> tenant.table("leads").logical_name
    'lead'
    """

    def __init__(self, store: Store, caller: Caller, settings: MockSettings | None = None,
                 rules: RuleRegistry | None = None) -> None:
        self.store = store
        #: The table rules this tenant runs around writes (its app's registry).
        self.rules = rules if rules is not None else RULES
        self.caller = caller
        self.settings = settings if settings is not None else MockSettings.model_validate({})
        self._base_currency: Ref | None = None
        self._caller_user: Ref | None = None

    # ------------------------------------------------------------------ lookup

    def table(self, name: str) -> Table:
        """A table by logical name or entity set; unknown names raise a 404 MockError."""
        try:
            return schema.table(name)
        except KeyError:
            raise errors.unknown_segment(name) from None

    def transaction(self) -> AbstractContextManager[None]:
        """A (nestable) transaction: an exception inside rolls back everything it wrote."""
        return self.store.transaction()

    def get(self, table: str, record_id: str) -> Row | None:
        """The stored row, or None."""
        return self.store.get(self.table(table), str(record_id).lower())

    def require(self, table: str, record_id: str) -> Row:
        """The stored row, or a 404 MockError worded as the service words it."""
        t = self.table(table)
        row = self.store.get(t, str(record_id).lower())
        if row is None:
            raise errors.not_found(t.logical_name, str(record_id).lower())
        return row

    def find(self, table: str, **equals: Any) -> list[Row]:
        """Rows whose columns equal the given storage-form values (a Ref for lookups).

        Text compares case- and accent-insensitively, as alternate keys do in Dataverse.
        """
        t = self.table(table)
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in equals.items():
            column = t.columns.get(name)
            if column is None:
                raise errors.unknown_property(name, t.logical_name)
            if value is None:
                clauses.append(f"{quote(name)} IS NULL")
                continue
            clauses.append(f"{comparison_sql(column)}=?")
            params.append(comparison_value(column, to_sql(column, value)))
            if column.is_lookup and isinstance(value, Ref):
                clauses.append(f"{quote(target_column(name))}=?")
                params.append(value.table)
        return self.store.select(t, " AND ".join(clauses), params)

    def iter_rows(self, table: str) -> Iterator[Row]:
        """Every row of a table (for small seeded tables; not for queries on big ones)."""
        t = self.table(table)
        return iter(self.store.select(t, order_by=quote(t.primary_id)))

    # ------------------------------------------------------------------ writes

    def create(self, table: str, values: Row) -> Row:
        """Validate, apply defaults and rules, insert; return the stored row."""
        t = self.table(table)
        with self.store.transaction():
            return self._create(t, values)

    def create_many(self, table: str, rows: list[Row]) -> list[Row]:
        """Create many rows in one transaction (all or nothing)."""
        t = self.table(table)
        with self.store.transaction():
            supplied = [v[t.primary_id] for v in rows if isinstance(v.get(t.primary_id), str)]
            # One query for every client-supplied key instead of one per row; ids this batch
            # inserts join the set, so a key repeated inside the batch is a duplicate too.
            taken = self.store.existing_ids(t, [normalize_guid(i) or i for i in supplied]) if supplied else set()
            return [self._create(t, values, taken=taken) for values in rows]

    def _create(self, t: Table, values: Row, *, taken: set[str] | None = None) -> Row:
        """Create one row. ``taken`` (bulk creates): keys known to exist, maintained here."""
        checked = check_values(t, values, for_create=True)
        children = _children(t, checked)
        now = utc_now()
        new: Row = dict.fromkeys(t.columns)
        new.update(checked)
        for name, default in t.defaults:  # sent values win, except a null boolean: booleans are never null
            if new[name] is None and (name not in checked or isinstance(default, bool)):
                new[name] = default
        supplied_id = checked.get(t.primary_id)
        new[t.primary_id] = supplied_id or new_guid()
        new["createdon"] = new["modifiedon"] = now
        new["createdby"] = new["modifiedby"] = self._caller_ref()
        if "ownerid" in t.columns and new.get("ownerid") is None:
            new["ownerid"] = self._caller_ref()
        self._default_state(t, new)
        self._default_currency(t, new)
        self._check_targets(t, checked)
        if supplied_id and self._key_taken(t, supplied_id, taken):
            raise duplicate_key()  # a generated key is new; the PK constraint backs both cases up
        self._before_write(t, None, new, checked)
        self._infer_state(t, new)
        new["versionnumber"] = self.store.next_version()
        try:
            stored = self.store.insert(t, new)
        except sqlite3.IntegrityError:
            raise duplicate_key() from None
        if taken is not None:
            taken.add(new[t.primary_id])
        return self._after_write(t, None, new, stored, children)

    def _before_write(self, t: Table, old: Row | None, new: Row, sent: Row) -> None:
        """Run the table's rules on a row about to be written."""
        with sending(sent):  # the rules see which columns the caller sent, not just the merged row
            for rule in self.rules.rules_for(t.logical_name):
                rule.before_write(self, old, new)

    def _after_write(self, t: Table, old: Row | None, new: Row, stored: Row, children: dict[str, Any]) -> Row:
        """Run the after-write rules and create the sent children; return the row as now stored."""
        modifications = self.store.modifications
        for rule in self.rules.rules_for(t.logical_name):
            rule.after_write(self, old, new)
        self._create_children(t, new, children)
        if self.store.modifications != modifications:  # a rule or child changed stored rows: read back
            return self.store.get(t, new[t.primary_id]) or new
        return stored

    def _caller_ref(self) -> Ref:
        """The calling user as a lookup value (one shared immutable Ref per caller)."""
        if self._caller_user is None or self._caller_user.id != self.caller.user_id:
            self._caller_user = Ref("systemuser", self.caller.user_id)
        return self._caller_user

    def _key_taken(self, t: Table, record_id: str, taken: set[str] | None) -> bool:
        if taken is None:
            return self.store.exists(t, record_id)
        # The set may be stale only towards "taken" (a rule deleted the row): confirm then.
        return record_id in taken and self.store.exists(t, record_id)

    def _create_children(self, t: Table, parent: Row, children: dict[str, Any]) -> None:
        for name, items in children.items():
            nav = one_to_many(t)[name]
            if not isinstance(items, list):
                raise errors.bad_request(f"The navigation property '{name}' expects a collection.")
            child_table = self.table(nav.target)
            for item in items:
                if not isinstance(item, dict):
                    raise errors.bad_request(f"Each item of '{name}' must be an object.")
                if nav.intersect is not None:  # N:N: create the row, then associate it
                    child = self._create(child_table, item)
                    associate(self.store, nav.column, parent[t.primary_id], child[child_table.primary_id])
                    continue
                self._create(child_table, {**item, nav.column: Ref(t.logical_name, parent[t.primary_id])})

    def update(self, table: str, record_id: str, values: Row) -> Row:
        """Validate and apply a partial update (rules run); return the stored row. 404 if missing."""
        t = self.table(table)
        with self.store.transaction():
            old = self.require(t.logical_name, record_id)
            checked = check_values(t, values, for_create=False)
            children = _children(t, checked)
            checked.pop(t.primary_id, None)
            self._check_targets(t, checked)
            new = {**old, **checked}
            self._default_currency(t, new)  # the first money value written gets the base currency too
            new["modifiedon"] = utc_now()
            new["modifiedby"] = Ref("systemuser", self.caller.user_id)
            self._before_write(t, old, new, checked)
            new["versionnumber"] = self.store.next_version()
            return self._after_write(t, old, new, self.store.replace(t, new), children)

    def delete(self, table: str, record_id: str) -> None:
        """Delete a row (rules run; child rows of collections go too; lookups to it are cleared)."""
        t = self.table(table)
        with self.store.transaction():
            row = self.require(t.logical_name, record_id)
            for rule in self.rules.rules_for(t.logical_name):
                rule.before_delete(self, row)
            ident = row[t.primary_id]
            for nav in t.collections.values():
                for child in self.find(nav.target, **{nav.referencing_column: Ref(t.logical_name, ident)}):
                    child_table = self.table(nav.target)
                    self.delete(child_table.logical_name, child[child_table.primary_id])
            self.store.delete(t, ident)
            self._remove_links(t, ident)
            for relation in one_to_many(t).values():
                if relation.intersect is not None:
                    forget(self.store, relation.column, ident)

    def _remove_links(self, t: Table, ident: str) -> None:
        """Clear lookups that pointed to a deleted row (Dataverse's default "remove link" cascade).

        Read-only lookups the platform writes (``createdby``, ``audit.objectid``) keep their value.
        """
        version = self.store.next_version()
        for other in TABLES.values():
            for column in other.columns.values():
                if not column.is_lookup or column.read_only or t.logical_name not in column.navigation:
                    continue
                self.store.execute(
                    f"UPDATE {quote(other.logical_name)} SET {quote(column.name)}=NULL, "
                    f"{quote(target_column(column.name))}=NULL, versionnumber=? "
                    f"WHERE {quote(column.name)}=? AND {quote(target_column(column.name))}=?",
                    [version, ident, t.logical_name])

    # ----------------------------------------------------------------- helpers

    def _check_targets(self, t: Table, values: Row) -> None:
        for ref in lookup_targets(t, values):
            if not self.store.exists(TABLES[ref.table], ref.id):
                raise errors.not_found(ref.table, ref.id)

    def _default_currency(self, t: Table, new: Row) -> None:
        """A row with a money value and no currency gets the organization's base currency."""
        if "transactioncurrencyid" not in t.columns or new.get("transactioncurrencyid") is not None:
            return
        if all(new.get(name) is None for name in _money_columns(t)):
            return
        if self._base_currency is None:
            organizations = self.store.select(TABLES["organization"], limit=1)
            base = organizations[0].get("basecurrencyid") if organizations else None
            self._base_currency = base if isinstance(base, Ref) else None
        new["transactioncurrencyid"] = self._base_currency

    @staticmethod
    def _default_state(t: Table, new: Row) -> None:
        """statecode 0 and its default status when the caller sends neither."""
        if t.states is None:
            return
        if new.get("statecode") is None and new.get("statuscode") is None:
            new["statecode"] = 0
        if new.get("statuscode") is None and new.get("statecode") is not None:
            new["statuscode"] = t.states.default_status(new["statecode"])

    @staticmethod
    def _infer_state(t: Table, new: Row) -> None:
        """Rules run first; a statecode still missing is the one the statuscode belongs to."""
        if t.states is not None and new.get("statecode") is None and new.get("statuscode") is not None:
            new["statecode"] = t.states.state_of(new["statuscode"])
