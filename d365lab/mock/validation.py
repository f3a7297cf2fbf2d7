"""Generic validation of storage-form values against the schema.

Type, max length, option set, min/max and lookup-target checks that apply to every
table, whoever writes (CRUD, bulk messages, QualifyLead). State machines and computed
columns are table rules (:mod:`d365lab.mock.rules`), not this module.
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.limits import INT32_RANGE, INT64_RANGE
from d365lab.mock.relationships import one_to_many
from d365lab.mock.service_errors import MockError
from d365lab.mock.tenant_api import Ref, Row
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, TABLES, Column, ColumnType, Table

_EDM_TYPES: dict[ColumnType, str] = {
    ColumnType.GUID: "Edm.Guid", ColumnType.STRING: "Edm.String", ColumnType.MEMO: "Edm.String",
    ColumnType.INTEGER: "Edm.Int32", ColumnType.BIGINT: "Edm.Int64", ColumnType.BOOLEAN: "Edm.Boolean",
    ColumnType.MONEY: "Edm.Decimal", ColumnType.DOUBLE: "Edm.Double", ColumnType.DECIMAL: "Edm.Decimal",
    ColumnType.DATETIME: "Edm.DateTimeOffset", ColumnType.DATEONLY: "Edm.Date",
    ColumnType.PICKLIST: "Edm.Int32", ColumnType.STATE: "Edm.Int32", ColumnType.STATUS: "Edm.Int32",
    ColumnType.ENTITYNAME: "Edm.String",
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CANONICAL_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def edm_type(column: Column) -> str:
    """The EDM type name of a non-lookup column."""
    return _EDM_TYPES.get(column.type, "Edm.Guid")


def conversion_error(value: Any, column: Column) -> MockError:
    """400 for a value of the wrong type, worded as the OData layer words it."""
    return MockError(400, errors.UNKNOWN_PROPERTY,
                     f"Cannot convert the literal '{value}' to the expected type '{edm_type(column)}'.")


_clock_text: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """Now, UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    global _clock_text
    second = int(time.time())
    if _clock_text[0] != second:  # formatted once per second: bulk creates stamp thousands of rows
        _clock_text = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _clock_text[1]


def new_guid() -> str:
    """A random (version 4) GUID, lowercase ``8-4-4-4-12`` as :func:`uuid.uuid4` makes it, faster."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


#: The dates Dataverse stores: 1753-01-01 to 9999-12-31 (SQL Server ``datetime``).
MIN_DATE = datetime(1753, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def parse_datetime(text: str) -> datetime | None:
    """An ISO date or datetime as an aware UTC datetime; None if it does not parse or cannot be UTC.

    A datetime without an offset is taken as UTC; a bare date is midnight UTC.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        return None


def in_date_range(moment: datetime) -> bool:
    """True for a moment Dataverse can store (:data:`MIN_DATE` to :data:`MAX_DATE`)."""
    return MIN_DATE <= moment <= MAX_DATE


def normalize_datetime(text: str) -> str | None:
    """An ISO date or datetime as UTC ``YYYY-MM-DDTHH:MM:SSZ``; None if it does not parse or is out of range.

    A datetime without an offset is taken as UTC; a bare date is midnight UTC.
    """
    parsed = parse_datetime(text)
    if parsed is None or not in_date_range(parsed):
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_date(text: str) -> str | None:
    """A ``YYYY-MM-DD`` date that exists in the calendar and in Dataverse's range, or None."""
    if not _DATE_RE.match(text) or text < "1753-01-01":
        return None
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return None
    return text


def normalize_guid(text: str) -> str | None:
    """A GUID as lowercase ``8-4-4-4-12``; None if it is not one."""
    if isinstance(text, str) and _CANONICAL_GUID.fullmatch(text):
        return text  # already canonical, which is what clients send nearly always
    try:
        return str(uuid.UUID(text.strip().strip("{}")))
    except (ValueError, AttributeError):
        return None


def validation_failed(message: str) -> MockError:
    """400 ``0x80044331`` 'A validation error occurred.' with details."""
    return MockError(400, errors.MAX_LENGTH, f"A validation error occurred.  {message}")


#: Column types whose text values have one normal form.
_NORMALIZERS: dict[ColumnType, Callable[[str], str | None]] = {
    ColumnType.DATETIME: normalize_datetime, ColumnType.DATEONLY: normalize_date, ColumnType.GUID: normalize_guid}


def coerce(column: Column, value: Any) -> Any:
    """A storage-form value of a non-lookup column, type-checked and normalised.

    Lowercase GUIDs, UTC ``…Z`` datetimes, ``YYYY-MM-DD`` dates, floats for money/double;
    a value of the wrong type is the OData "Cannot convert the literal …" 400.
    """
    if value is None:
        return None
    kind = column.type
    if kind in (ColumnType.STRING, ColumnType.MEMO, ColumnType.ENTITYNAME):
        ok = isinstance(value, str)
    elif kind is ColumnType.BOOLEAN:
        ok = isinstance(value, bool)
    elif kind in INTEGER_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
        bounds = INT64_RANGE if kind is ColumnType.BIGINT else INT32_RANGE
        if ok and not bounds[0] <= value <= bounds[1]:
            raise out_of_type_range(value, column)
    elif kind in REAL_TYPES:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = _finite(value, column)
    else:
        normalizer = _NORMALIZERS.get(kind)
        if normalizer is None:
            return value
        normalized = normalizer(value) if isinstance(value, str) else None
        if normalized is None and isinstance(value, str) and _out_of_date_range(kind, value):
            raise date_out_of_range(value, column)
        ok, value = normalized is not None, normalized if normalized is not None else value
    if not ok:
        raise conversion_error(value, column)
    return value


def _finite(value: int | float, column: Column) -> float:
    """A number as a finite float (``1e400``, a 400-digit integer, NaN and infinities are refused)."""
    try:
        number = float(value)
    except OverflowError:
        raise out_of_type_range(value, column) from None
    if not math.isfinite(number):
        raise out_of_type_range(value, column)
    return number


def _out_of_date_range(kind: ColumnType, text: str) -> bool:
    """True when ``text`` is a well-formed date/datetime that Dataverse cannot store."""
    if kind is ColumnType.DATEONLY:
        return bool(_DATE_RE.match(text)) and text < "1753-01-01"
    if kind is ColumnType.DATETIME:
        try:
            datetime.fromisoformat(text.strip())
        except ValueError:
            return False
        parsed = parse_datetime(text)
        return parsed is None or not in_date_range(parsed)
    return False


def out_of_type_range(value: Any, column: Column) -> MockError:
    """400 for a number its column type cannot hold (Int32/Int64 range, finite Double/Decimal)."""
    shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}…({len(str(value))} characters)"
    return MockError(400, errors.UNKNOWN_PROPERTY,
                     f"The value '{shown}' is outside the range of the type '{edm_type(column)}' of '{column.name}'.")


def date_out_of_range(value: str, column: Column) -> MockError:
    """400 for a date before 1753-01-01 (or one whose UTC form leaves the calendar)."""
    return MockError(400, errors.UNKNOWN_PROPERTY,
                     f"The date '{value}' of '{column.name}' is outside the range Dataverse stores "
                     f"(1753-01-01 to 9999-12-31).")


def check_value(table: Table, column: Column, value: Any) -> Any:
    """Check a storage-form value for a column (type, length, option set, range); return it normalised."""
    if value is None:
        return None
    if column.is_lookup:
        if not isinstance(value, Ref):
            raise conversion_error(value, column)
        if value.table not in column.navigation:
            raise errors.bad_request(
                f"{table.logical_name}.{column.name} cannot point to a {value.table} record.")
        ident = normalize_guid(value.id)
        if ident is None:
            raise errors.bad_request(f"'{value.id}' is not a valid record id for {column.name}.")
        return value if ident == value.id else Ref(value.table, ident)
    value = coerce(column, value)
    if isinstance(value, str) and column.max_length is not None and len(value) > column.max_length:
        raise validation_failed(
            f"The length of the '{column.name}' attribute of the '{table.logical_name}' entity exceeded "
            f"the maximum allowed length of '{column.max_length}'.")
    if column.options is not None and column.type in INTEGER_TYPES and value not in _option_values(column):
        accepted = ",".join(str(int(m)) for m in column.options)
        raise validation_failed(
            f"The value {value} of '{column.name}' on record of type '{table.logical_name}' is outside "
            f"the valid range. Accepted Values: {accepted}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_range(table, column, float(value))
    return value


_OPTION_VALUES: dict[int, tuple[Column, frozenset[int]]] = {}
_LOOKUP_NAMES: dict[int, tuple[Table, frozenset[str]]] = {}


def _option_values(column: Column) -> frozenset[int]:
    """The values of a column's option set, computed once per column (checked for every row)."""
    cached = _OPTION_VALUES.get(id(column))
    if cached is None or cached[0] is not column:
        cached = (column, frozenset(int(m) for m in column.options or ()))
        _OPTION_VALUES[id(column)] = cached
    return cached[1]


def _lookup_names(table: Table) -> frozenset[str]:
    """The lookup columns of a table, computed once per table."""
    cached = _LOOKUP_NAMES.get(id(table))
    if cached is None or cached[0] is not table:
        cached = (table, frozenset(c.name for c in table.columns.values() if c.is_lookup))
        _LOOKUP_NAMES[id(table)] = cached
    return cached[1]


def _check_range(table: Table, column: Column, value: float) -> None:
    low, high = column.min_value, column.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'-' if low is None else f'{low:g}'} to {'-' if high is None else f'{high:g}'}"
        raise validation_failed(
            f"The value {value:g} of '{column.name}' on record of type '{table.logical_name}' is outside "
            f"the valid range ({bounds}).")


def check_values(table: Table, values: Row, *, for_create: bool) -> Row:
    """Validate the columns a caller writes; return a normalised copy.

    Unknown columns answer "Could not find a property named …"; read-only columns are
    refused. ``for_create`` allows the primary key (a client-supplied id).
    """
    out: Row = {}
    relations = one_to_many(table)
    for name, value in values.items():
        if name in relations:  # deep-insert children (collection-valued navigations)
            out[name] = value
            continue
        column = table.columns.get(name)
        if column is None:
            raise errors.unknown_property(name, table.logical_name)
        if name == table.primary_id:
            ident = normalize_guid(value) if isinstance(value, str) else None
            if ident is None:
                raise conversion_error(value, column)
            out[name] = ident
            continue
        if column.read_only:
            raise errors.bad_request(
                f"The '{name}' attribute of the '{table.logical_name}' entity is read-only and cannot be set.")
        out[name] = check_value(table, column, value)
    return out


def lookup_targets(table: Table, row: Row) -> list[Ref]:
    """The lookups of a row whose target table the tenant stores (those can be checked)."""
    lookups = _lookup_names(table)
    return [value for name, value in row.items()
            if name in lookups and isinstance(value, Ref) and value.table in TABLES]
