"""Reading and comparing column values of fetched rows, and labelling them for people."""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from typing import Any

from d365lab.labs.snapshot import Row
from d365lab.labs.spec import LabSpec, Language, localize
from d365lab.models import enums
from d365lab.models.schema import ColumnType, table

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
MONEY_TOLERANCE = 0.005


def value_property(entity: str, column: str) -> str:
    """The property a row carries for ``column`` (``_x_value`` for lookups)."""
    col = table(entity).columns.get(column)
    if col is not None and col.is_lookup:
        return f"_{column}_value"
    return column


def read_value(row: Row, entity: str, column: str) -> Any:
    """The raw value of ``column`` in a fetched row (lookups as lowercase GUIDs)."""
    value = row.get(value_property(entity, column))
    if isinstance(value, str) and value_property(entity, column) != column:
        return value.lower()
    return value


def normalize_text(text: str) -> str:
    """Lenient form of a text: trimmed, accents dropped, case-folded, whitespace collapsed, no trailing period.

    Accents and case are folded as the service's own ``eq`` does (Dataverse collations are
    case- and accent-insensitive), so a row the service returned is never discarded here.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    collapsed = re.sub(r"\s+", " ", bare.strip()).casefold()
    return collapsed.rstrip(".").rstrip()


def same_value(expected: Any, actual: Any) -> bool:
    """Compare an expected value with an actual one (lenient text, money tolerance, exact others)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or expected == actual and type(expected) is type(actual)
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(float(expected) - float(actual)) <= MONEY_TOLERANCE
    if isinstance(expected, str) and isinstance(actual, str):
        return normalize_text(expected) == normalize_text(actual)
    return bool(expected == actual)


def exact_text_differs(expected: Any, actual: Any) -> bool:
    """True when two texts match leniently but not exactly (worth a note in the evidence)."""
    return isinstance(expected, str) and isinstance(actual, str) and expected.strip() != actual.strip()


def option_label(lab: LabSpec, lang: Language, entity: str, column: str, value: Any,
                 row: Row | None = None) -> str | None:
    """A person's label for a value: option label, Yes/No wording, or None for plain values."""
    if value is None:
        return None
    col = table(entity).columns.get(column)
    if isinstance(value, bool):
        if col is None:
            return None
        label = col.true_label if value else col.false_label  # the column's own labels, as the app shows
        if lang != "fr":
            return label
        wording = {english.casefold(): text for english, text in lab.boolean_labels_fr.items()}
        return wording.get(label.casefold(), label)
    if col is None or col.options is None or not isinstance(value, int):
        return None
    if lang == "fr":
        french = lab.option_labels_fr.get(f"{entity}.{column}", {}).get(value)
        if french is not None:
            return french
    if row is not None and isinstance(row.get(column + FORMATTED), str):
        return str(row[column + FORMATTED])
    return _enum_label(col.options, value)


def _enum_label(options: type[IntEnum], value: int) -> str | None:
    try:
        return enums.label_of(options(value))
    except ValueError:
        return None


def lookup_label(row: Row | None, entity: str, column: str) -> str | None:
    """The formatted (primary name) value the service returns for a lookup, if any."""
    if row is None:
        return None
    label = row.get(value_property(entity, column) + FORMATTED)
    return str(label) if label is not None else None


def is_date_only(entity: str, column: str) -> bool:
    """True for DateOnly columns (compared as ``YYYY-MM-DD``)."""
    col = table(entity).columns.get(column)
    return col is not None and col.type is ColumnType.DATEONLY


def field_label(lab: LabSpec, lang: Language, column: str) -> str:
    """The display name of a column in the lab language (the logical name if unknown)."""
    labels = lab.field_labels.get(column)
    return str(localize(labels, lang)) if labels else column


def show(value: Any, lang: Language = "en") -> str:
    """A value as shown in hints: texts quoted, None as (empty) / (vide)."""
    if value is None:
        return "(vide)" if lang == "fr" else "(empty)"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)
