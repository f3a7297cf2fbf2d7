"""Case- and accent-insensitive text comparison, as Dataverse's SQL collation does it.

Dataverse stores text under ``Latin1_General_CI_AI``: ``subject eq 'CAFÉ NOIR'``,
``eq 'cafe noir'`` and ``contains(subject,'é')`` all match ``Café Noir``, and
``$orderby`` sorts the same way. The mock gets there by comparing *folded* text:

    fold(s) = NFKD(s) without combining marks, casefolded, NFKD again without combining
    marks, then the ligatures ``œ`` -> ``oe`` and ``æ`` -> ``ae``

(``"Œuvre"`` -> ``"oeuvre"``, ``"Straße"`` -> ``"strasse"``, ``"ＣＡＦÉ"`` -> ``"cafe"``).
Stored text is never changed; only comparisons and sort keys use the folded form.

Two ways to reach the folded form in SQL, chosen per column:

- an ``indexed`` text column has a *shadow* column ``<name>__f`` holding its folded value,
  written by the store in Python with every insert/update and indexed with the default
  BINARY collation (so no Python callback runs inside index maintenance);
- any other text column is compared through the deterministic SQL function
  ``d365_fold(x)`` registered on the connection (a scan, as such a filter is anyway).

Ordering of folded strings is by code point, an approximation of the SQL Server collation
order that agrees with it for letters, digits and common punctuation.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from d365lab.models.schema import Column, ColumnType

#: Column types stored as text that Dataverse compares with its CI_AI collation.
TEXT_TYPES = frozenset({ColumnType.STRING, ColumnType.MEMO, ColumnType.ENTITYNAME})
#: The SQL function folding text for columns without a shadow column.
FOLD_FUNCTION = "d365_fold"
_SHADOW_SUFFIX = "__f"
#: Letters NFKD keeps whole that the service's collation treats as their spelled-out pair.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The comparison form of a text value (see the module docstring for the rule).

    >>> fold("Café NOIR"), fold("Œuvre"), fold("Straße")
    ('cafe noir', 'oeuvre', 'strasse')
    """
    if text.isascii():
        return text.lower()
    # Casefolding may produce letters with marks or compatibility forms (and NFKD may
    # produce capitals, e.g. U+210C -> "H"), so marks are stripped on both sides of it.
    return _strip_marks(_strip_marks(text).casefold()).translate(_LIGATURES)


def fold_value(value: Any) -> Any:
    """``fold`` for text; other values (None, numbers) unchanged. Also the SQL function."""
    return fold(value) if isinstance(value, str) else value


def is_text(column: Column) -> bool:
    """True for the columns compared case- and accent-insensitively."""
    return column.type in TEXT_TYPES


def has_shadow(column: Column) -> bool:
    """True when the column keeps a folded, indexed shadow column."""
    return column.indexed and column.type in TEXT_TYPES


def shadow_name(column: str) -> str:
    """The SQL name of a column's folded shadow column (never part of any response)."""
    return column + _SHADOW_SUFFIX


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def comparison_sql(column: Column) -> str:
    """The SQL expression to compare and sort ``column`` by (folded for text columns)."""
    if has_shadow(column):
        return _quote(shadow_name(column.name))
    if column.type in TEXT_TYPES:
        return f"{FOLD_FUNCTION}({_quote(column.name)})"
    return _quote(column.name)


def presence_sql(column: Column) -> str:
    """The SQL expression for ``IS [NOT] NULL`` tests (the indexed shadow when there is one)."""
    return _quote(shadow_name(column.name)) if has_shadow(column) else _quote(column.name)


def comparison_value(column: Column, value: Any) -> Any:
    """A bound value as :func:`comparison_sql` of ``column`` compares it."""
    return fold_value(value) if column.type in TEXT_TYPES else value


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """``(low, high)``: folded strings starting with ``prefix`` are ``>= low`` and ``< high``.

    ``high`` is ``prefix`` with its last character moved to the next code point (BINARY
    order is code point order in UTF-8), so the range is exact and an index serves it;
    None when there is no upper bound (an empty prefix, or a last character at U+10FFFF).

    >>> prefix_range("caf")
    ('caf', 'cag')
    """
    if not prefix:
        return prefix, None
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be encoded; none is stored either
        last = 0xE000
    if last > 0x10FFFF:
        return prefix, None
    return prefix, prefix[:-1] + chr(last)


def like_escape(text: str) -> str:
    """``text`` with the LIKE wildcards and the escape character escaped (``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
