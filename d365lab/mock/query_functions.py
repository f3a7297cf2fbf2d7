"""The SQL of Dataverse's ``$filter`` query functions, once their arguments are parsed.

``In``/``NotIn``/``Between``/``NotBetween``, ``Null``/``NotNull``, ``EqualUserId``/``NotEqualUserId``
and the relative-date functions (``LastXDays``, ``Today``...), as SQL fragments with bound
parameters appended to ``params``; :class:`d365lab.mock.query_filter.FilterCompiler` parses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.query_values import relative_range


def function_sql(name: str, sql: str, presence: str, *, values: Any, amount: Any,
                 coerce: Callable[[Any], Any], user_id: str, params: list[Any]) -> str:
    """The WHERE fragment of query function ``name`` on the column ``sql`` (``presence``: its null test)."""
    if name in ("In", "NotIn", "Between", "NotBetween"):
        if not isinstance(values, list) or not values:
            raise errors.bad_request(f"{name} needs PropertyValues=[...].")
        coerced = [coerce(v) for v in values]
        params.extend(coerced)
        if name in ("Between", "NotBetween"):
            if len(coerced) != 2:
                raise errors.bad_request(f"{name} needs exactly two PropertyValues.")
            return f"({'NOT ' if name == 'NotBetween' else ''}({sql} BETWEEN ? AND ?))"
        marks = ", ".join("?" for _ in coerced)
        return f"({sql} {'NOT IN' if name == 'NotIn' else 'IN'} ({marks}))"
    if name in ("Null", "NotNull"):
        return f"({presence} IS {'NOT ' if name == 'NotNull' else ''}NULL)"
    if name in ("EqualUserId", "NotEqualUserId"):
        params.append(user_id)
        return f"({sql} {'=' if name == 'EqualUserId' else '<>'} ?)"
    return _relative_date_sql(name, sql, amount, params)


def _relative_date_sql(name: str, sql: str, amount: Any, params: list[Any]) -> str:
    low, high = relative_range(name, amount)
    clauses: list[str] = []
    if low is not None:
        clauses.append(f"{sql} >= ?")
        params.append(low)
    if high is not None:
        clauses.append(f"{sql} < ?" if name not in ("LastXDays", "LastXHours") else f"{sql} <= ?")
        params.append(high)
    return "(" + " AND ".join(clauses) + ")"
