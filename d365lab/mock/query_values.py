"""Literal values of ``$filter`` checked against what they are compared with.

A number compared with a numeric column must fit the column type (Int32, Int64, a finite
double), and the relative date functions (``LastXDays``, ``NextXDays``, …) take a whole
number within a range, so no literal can overflow SQLite's 64-bit integers or Python's
calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.limits import INT32_RANGE, INT64_RANGE
from d365lab.mock.service_errors import MockError
from d365lab.models.schema import REAL_TYPES, Column, ColumnType

#: The largest ``PropertyValue`` of ``LastXDays``-style functions, per unit (about 270 years).
MAX_PERIOD = {"days": 100_000, "hours": 2_400_000}
_RELATIVE = ("Today", "Yesterday", "LastXDays", "LastXHours", "NextXDays", "OlderThanXDays")


def number_for(column: Column, value: int | float) -> int | float:
    """A numeric literal compared with a numeric column: within the column type's range (else 400)."""
    if column.type in REAL_TYPES:
        try:
            return float(value)
        except OverflowError:
            raise out_of_range(column, value) from None
    if isinstance(value, float):
        return value  # statecode eq 1.5 matches nothing, as in SQL
    low, high = INT64_RANGE if column.type is ColumnType.BIGINT else INT32_RANGE
    if not low <= value <= high:
        raise out_of_range(column, value)
    return value


def out_of_range(column: Column, value: int | float) -> MockError:
    """400 for a literal its column's type cannot hold."""
    text = str(value)
    shown = text if len(text) <= 40 else f"{text[:20]}…({len(text)} digits)"
    return errors.bad_request(
        f"The value {shown} is outside the range of the {column.type.value} column '{column.name}'.", code="0x0")


def period(function: str, raw: Any) -> int:
    """The ``PropertyValue`` of a relative date function: a whole number of days or hours within a range."""
    if raw is None:
        return 0
    unit = "hours" if function == "LastXHours" else "days"
    count: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        count = raw
    elif isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 9:
        count = int(raw.strip())
    if count is None or not 0 <= count <= MAX_PERIOD[unit]:
        raise errors.bad_request(
            f"{function} needs PropertyValue: a whole number of {unit} from 0 to {MAX_PERIOD[unit]}.", code="0x0")
    return count


def relative_range(function: str, raw: Any) -> tuple[str | None, str | None]:
    """The UTC ``(low, high)`` bounds (``YYYY-MM-DDTHH:MM:SSZ``, None when open) of a relative date function."""
    if function not in _RELATIVE:
        raise errors.bad_request(f"The query function '{function}' is not supported by the mock tenant.",
                                 code="0x0")
    count = period(function, raw)
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    ranges: dict[str, tuple[datetime | None, datetime | None]] = {
        "Today": (midnight, midnight + timedelta(days=1)),
        "Yesterday": (midnight - timedelta(days=1), midnight),
        "LastXDays": (midnight - timedelta(days=count), now),
        "LastXHours": (now - timedelta(hours=count), now),
        "NextXDays": (now, midnight + timedelta(days=count + 1)),
        "OlderThanXDays": (None, midnight - timedelta(days=count)),
    }
    low, high = ranges[function]

    def fmt(moment: datetime | None) -> str | None:
        return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return fmt(low), fmt(high)
