"""The contract between the mock's HTTP layer, its message handlers and its table rules.

The store holds rows as plain dicts keyed by attribute logical name, in *storage form*:

- lookups (lookup, customer, owner) hold a :class:`Ref` or ``None``;
- money and double hold ``float``; decimal ``float``; integers, picklists, state and
  status hold ``int``; booleans ``bool``;
- DateTime holds ``"YYYY-MM-DDTHH:MM:SSZ"`` (UTC); DateOnly holds ``"YYYY-MM-DD"``;
- every row has its primary key, ``versionnumber`` (int, bumped on every write),
  ``createdon``/``modifiedon`` and ``createdby``/``modifiedby``.

Handlers never touch SQLite: they call :class:`Tenant` methods, which validate, run the
table rules and write inside the current transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from d365lab.mock.settings import MockSettings
from d365lab.models.schema import Table

Row = dict[str, Any]


@dataclass(frozen=True)
class Ref:
    """A lookup value: the target table's logical name and the row id (lowercase GUID)."""

    table: str
    id: str


@dataclass(frozen=True)
class Caller:
    """Who is calling: the seeded user of the token, with business unit and organization."""

    user_id: str
    business_unit_id: str
    organization_id: str


class Tenant(Protocol):
    """Operations on one tenant's data, with validation, table rules and transactions."""

    caller: Caller
    settings: MockSettings

    def table(self, name: str) -> Table:
        """A table by logical name or entity set; unknown names raise a 404 MockError."""
        ...

    def create(self, table: str, values: Row) -> Row:
        """Validate, apply defaults and rules, insert; return the stored row."""
        ...

    def create_many(self, table: str, rows: list[Row]) -> list[Row]:
        """Create many rows in one transaction (all or nothing), faster than a loop of create."""
        ...

    def update(self, table: str, record_id: str, values: Row) -> Row:
        """Validate and apply a partial update (rules run); return the stored row. 404 if missing."""
        ...

    def get(self, table: str, record_id: str) -> Row | None:
        """The stored row, or None."""
        ...

    def require(self, table: str, record_id: str) -> Row:
        """The stored row, or a 404 MockError worded as the service words it."""
        ...

    def delete(self, table: str, record_id: str) -> None:
        """Delete a row (rules run, e.g. cascades). 404 if missing."""
        ...

    def find(self, table: str, **equals: Any) -> list[Row]:
        """Rows whose columns equal the given storage-form values (a Ref for lookups)."""
        ...

    def iter_rows(self, table: str) -> Iterator[Row]:
        """Every row of a table (for small seeded tables; not for queries on big ones)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A (nestable) transaction: an exception inside rolls back everything it wrote."""
        ...
