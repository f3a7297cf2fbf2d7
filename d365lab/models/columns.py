"""The shapes of d365lab's table definitions: column types, columns, tables.

:mod:`d365lab.models.schema` holds the tables themselves (built from the generated CDM
facts in :mod:`d365lab.models.cdm` plus the Sales behaviour written by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Any

from d365lab.models import enums as e

TYPE_NAMESPACE = "Microsoft.Dynamics.CRM"


class ColumnType(StrEnum):
    """Dataverse attribute types d365lab distinguishes."""

    GUID = "Uniqueidentifier"
    STRING = "String"
    MEMO = "Memo"
    INTEGER = "Integer"
    BIGINT = "BigInt"
    BOOLEAN = "Boolean"
    MONEY = "Money"
    DOUBLE = "Double"
    DECIMAL = "Decimal"
    DATETIME = "DateTime"
    DATEONLY = "DateOnly"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    LOOKUP = "Lookup"
    CUSTOMER = "Customer"
    OWNER = "Owner"
    ENTITYNAME = "EntityName"


#: An option-set enum class (kept as an alias: inside Column, ``type`` names a field).
OptionSet = type[IntEnum]

LOOKUP_TYPES = frozenset({ColumnType.LOOKUP, ColumnType.CUSTOMER, ColumnType.OWNER})
#: Columns holding a whole number (choices, states and statuses are numbers on the wire).
INTEGER_TYPES = frozenset({ColumnType.INTEGER, ColumnType.BIGINT, ColumnType.PICKLIST, ColumnType.STATE,
                           ColumnType.STATUS})
#: Columns holding a number with a fractional part.
REAL_TYPES = frozenset({ColumnType.MONEY, ColumnType.DOUBLE, ColumnType.DECIMAL})


@dataclass(frozen=True)
class Column:
    """One attribute of a table.

    For lookups, ``navigation`` maps each target table to the navigation property used
    in ``<nav>@odata.bind`` (``{"account": "customerid_account", ...}``). For two-option
    (boolean) columns, ``true_label``/``false_label`` are the column's own option labels
    (``"Outgoing"``/``"Incoming"`` for ``phonecall.directioncode``), what the service shows
    as the FormattedValue and in the attribute's OptionSet. ``default`` is the value a
    create stores when the caller sends none (booleans always have one).
    """

    name: str
    type: ColumnType
    max_length: int | None = None
    options: OptionSet | None = None
    navigation: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    valid_for_create: bool = True
    indexed: bool = False
    min_value: float | None = None
    max_value: float | None = None
    true_label: str = "Yes"
    false_label: str = "No"
    default: Any = None
    display_name: str | None = None
    #: ``none``, ``recommended``, ``applicationrequired`` or ``systemrequired`` (only the last is enforced).
    required_level: str = "none"

    @cached_property  # read for every value the mock checks or stores
    def is_lookup(self) -> bool:
        """True for lookup, customer and owner columns."""
        return self.type in LOOKUP_TYPES

    @property
    def targets(self) -> tuple[str, ...]:
        """Tables a lookup may point to."""
        return tuple(self.navigation)

    @property
    def value_property(self) -> str:
        """The property name used when reading: ``_x_value`` for lookups, else the name."""
        return f"_{self.name}_value" if self.is_lookup else self.name


@dataclass(frozen=True)
class CollectionNavigation:
    """A collection-valued navigation property, e.g. ``phonecall_activity_parties``.

    Rows of ``target`` whose ``referencing_column`` points to the parent. For a many-to-many
    navigation ``intersect`` names the intersect table and ``referencing_column`` is the mock's
    synthetic link (``d365lab.mock.relationships.intersect_link``). The one declaration of a
    relationship seen from its "one" side, for the schema and the mock alike.
    """

    name: str
    target: str
    referencing_column: str
    intersect: str | None = None

    @property
    def column(self) -> str:
        """The referencing column (the name the mock's navigation code reads)."""
        return self.referencing_column


@dataclass(frozen=True)
class Table:
    """A Dataverse table as d365lab knows it."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, Column]
    states: e.StateModel | None
    object_type_code: int
    collections: dict[str, CollectionNavigation] = field(default_factory=dict)
    supports_bulk: bool = True
    #: statecode may not be sent on create (activities).
    state_valid_for_create: bool = True
    display_name: str | None = None
    #: False for views over other tables (``activitypointer``): read, never written directly.
    creatable: bool = True

    @property
    def type_name(self) -> str:
        """Full OData type name, ``Microsoft.Dynamics.CRM.lead``."""
        return f"{TYPE_NAMESPACE}.{self.logical_name}"

    @cached_property
    def defaults(self) -> tuple[tuple[str, Any], ...]:
        """``(column, default)`` for every column with a default (applied on create)."""
        return tuple((c.name, c.default) for c in self.columns.values() if c.default is not None)

    def navigation_properties(self) -> dict[str, tuple[Column, str]]:
        """Map every single-valued navigation property name to ``(column, target table)``."""
        out: dict[str, tuple[Column, str]] = {}
        for col in self.columns.values():
            for target, nav in col.navigation.items():
                out[nav] = (col, target)
        return out

    def bind_name(self, column: str, target: str) -> str:
        """The navigation property to bind ``column`` to a row of ``target``.

        >>> from d365lab.models.schema import TABLES
        >>> TABLES["opportunity"].bind_name("customerid", "account")
        'customerid_account'
        """
        col = self.columns[column]
        try:
            return col.navigation[target]
        except KeyError:
            raise KeyError(f"{self.logical_name}.{column} cannot point to {target}") from None
