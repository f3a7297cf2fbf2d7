"""Computed text columns: full names and composite addresses, recomputed on every write.

- ``fullname`` of leads, contacts and users from ``firstname``/``middlename``/``lastname``,
  and ``yomifullname`` from the ``yomi*`` parts (the phonetic names), in the organization's
  full-name format (``ComputedSettings.full_name_convention``; default 1, "First Last").
- ``address<N>_composite`` of every table that has one (lead, contact, account, competitor,
  systemuser) from ``address<N>_line1..3``, ``_city``, ``_stateorprovince``, ``_postalcode`` and
  ``_country``, formatted as ``FormatAddress`` formats an address
  (:func:`d365lab.mock.address_format.format_address`), cut to the column's length.

Every one of these columns is read-only: writing one is refused with 400, as for every
read-only column, and the computed value replaces whatever the row held.
"""

from __future__ import annotations

from d365lab.mock.address_format import format_address
from d365lab.mock.rules.base import register
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.schema import TABLES, Table

_ADDRESS_PARTS = ("line1", "line2", "line3", "city", "stateorprovince", "postalcode", "country")
#: Conventions whose form is "Last, First …" (the others put the first name first).
_LAST_COMMA_FIRST = frozenset({0, 2, 4})


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()


def compose_full_name(first: object, middle: object, last: object, convention: int = 1) -> str | None:
    """A full name in one of Dataverse's eight full-name formats; None when every part is empty.

    >>> compose_full_name("Jon", "Paul", "Doe"), compose_full_name("Jon", "Paul", "Doe", 0)
    ('Jon Doe', 'Doe, Jon')
    >>> compose_full_name("Jon", "Paul", "Doe", 3), compose_full_name(None, None, "Doe", 2)
    ('Jon P. Doe', 'Doe')
    """
    first_text, middle_text, last_text = _clean(first), _clean(middle), _clean(last)
    if convention in (2, 3):
        middle_text = f"{middle_text[0]}." if middle_text else ""
    elif convention not in (4, 5):
        middle_text = ""
    given = " ".join(p for p in (first_text, middle_text) if p)
    if convention in _LAST_COMMA_FIRST:
        name = f"{last_text}, {given}" if last_text and given else last_text or given
    elif convention == 6:
        name = " ".join(p for p in (last_text, given) if p)
    elif convention == 7:
        name = last_text + given
    else:
        name = " ".join(p for p in (given, last_text) if p)
    return name or None


class FullNameRule:
    """Recompute ``fullname`` and ``yomifullname`` from their parts."""

    def __init__(self, table: Table) -> None:
        self.yomi = "yomifullname" in table.columns

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Fill the computed columns."""
        convention = tenant.settings.computed.full_name_convention
        new["fullname"] = compose_full_name(new.get("firstname"), new.get("middlename"), new.get("lastname"),
                                            convention)
        if self.yomi:
            new["yomifullname"] = compose_full_name(new.get("yomifirstname"), new.get("yomimiddlename"),
                                                    new.get("yomilastname"), convention)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


def composite_addresses(table: Table) -> tuple[tuple[str, tuple[str, ...], int | None], ...]:
    """``(composite column, its part columns, its max length)`` for each address of a table."""
    found = []
    for name, column in table.columns.items():
        prefix = name.removesuffix("_composite")
        if prefix == name or not column.read_only:
            continue
        parts = tuple(f"{prefix}_{part}" for part in _ADDRESS_PARTS)
        if all(part in table.columns for part in parts):
            found.append((name, parts, column.max_length))
    return tuple(found)


class CompositeAddressRule:
    """Recompute ``address<N>_composite`` from the address's parts."""

    def __init__(self, table: Table) -> None:
        self.addresses = composite_addresses(table)

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Fill the composite columns."""
        for composite, parts, max_length in self.addresses:
            values = [new.get(part) for part in parts]
            if not any(values):  # no address at all (most rows of a bulk load): nothing to format
                new[composite] = None
                continue
            line1, line2, line3, city, state, postal, country = values
            text = format_address((line1, line2, line3), city, state, postal, country)
            new[composite] = (text[:max_length] if max_length else text) or None

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


for _table in ("lead", "contact", "systemuser"):
    register(_table, FullNameRule(TABLES[_table]))
for _table_def in TABLES.values():
    if composite_addresses(_table_def):
        register(_table_def.logical_name, CompositeAddressRule(_table_def))
