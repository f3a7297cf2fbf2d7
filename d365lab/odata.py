"""OData query building and JSON encoding for the Dataverse Web API.

String literals are escaped (``O'Brien`` becomes ``'O''Brien'``), GUIDs, dates, datetimes and
option values are written the way Dataverse expects, and column names are checked so a
value can never turn into query syntax.

>>> str(eq("lastname", "O'Brien") & eq("statecode", 0))
"lastname eq 'O''Brien' and statecode eq 0"
>>> format_filter("_parentaccountid_value eq {acc}", acc=Guid("5A0C0C2E-1B7D-EF11-A671-000D3A1A2B3C"))
'_parentaccountid_value eq 5a0c0c2e-1b7d-ef11-a671-000d3a1a2b3c'
"""

from __future__ import annotations

import json
import re
import string
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import quote

from d365lab.errors import ClientValidationError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")
_ORDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_/]*(?:\s+(?:asc|desc))?$", re.IGNORECASE)
#: Characters left unescaped in query values (OData syntax that servers read literally).
_QUERY_SAFE = "$'(),=/@:*;"


class Guid(str):
    """A GUID, written unquoted and lowercase in filters and keys. Raises ValueError if malformed."""

    def __new__(cls, value: str | uuid.UUID) -> Guid:
        return super().__new__(cls, str(uuid.UUID(str(value).strip("{}"))))


def guid(value: str | uuid.UUID) -> str:
    """Normalise a GUID to the bare lowercase form; raise :class:`ClientValidationError` if malformed."""
    try:
        return str(Guid(value))
    except ValueError:
        raise ClientValidationError(f"{value!r} is not a GUID") from None


def name(value: str) -> str:
    """Check that ``value`` is a column or navigation name (so it cannot smuggle syntax)."""
    if not _NAME.match(value):
        raise ClientValidationError(f"{value!r} is not a valid column name")
    return value


def literal(value: Any) -> str:
    """An OData literal for ``value``: strings quoted with ``'`` doubled, GUIDs bare, dates ISO, enums as ints."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Guid | uuid.UUID):
        return str(Guid(value))
    if isinstance(value, Enum):
        return literal(value.value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return to_utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ClientValidationError(f"cannot write {type(value).__name__} {value!r} as an OData literal")


def to_utc_text(value: datetime) -> str:
    """``2026-03-31T14:00:00Z``; naive datetimes are refused because their zone is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClientValidationError(f"datetime {value.isoformat()} has no time zone; pass an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Filter:
    """A ``$filter`` expression; combine with ``&``, ``|`` and ``~``."""

    text: str

    def __and__(self, other: Filter) -> Filter:
        return Filter(f"{self.text} and {other.text}")

    def __or__(self, other: Filter) -> Filter:
        return Filter(f"({self.text} or {other.text})")

    def __invert__(self) -> Filter:
        return Filter(f"not ({self.text})")

    def __str__(self) -> str:
        return self.text


def _compare(op: str, column: str, value: Any) -> Filter:
    return Filter(f"{name(column)} {op} {literal(value)}")


def eq(column: str, value: Any) -> Filter:
    """``column eq value``."""
    return _compare("eq", column, value)


def ne(column: str, value: Any) -> Filter:
    """``column ne value``."""
    return _compare("ne", column, value)


def gt(column: str, value: Any) -> Filter:
    """``column gt value``."""
    return _compare("gt", column, value)


def ge(column: str, value: Any) -> Filter:
    """``column ge value``."""
    return _compare("ge", column, value)


def lt(column: str, value: Any) -> Filter:
    """``column lt value``."""
    return _compare("lt", column, value)


def le(column: str, value: Any) -> Filter:
    """``column le value``."""
    return _compare("le", column, value)


def contains(column: str, text: str) -> Filter:
    """``contains(column,'text')``."""
    return Filter(f"contains({name(column)},{literal(text)})")


def startswith(column: str, text: str) -> Filter:
    """``startswith(column,'text')``."""
    return Filter(f"startswith({name(column)},{literal(text)})")


def endswith(column: str, text: str) -> Filter:
    """``endswith(column,'text')``."""
    return Filter(f"endswith({name(column)},{literal(text)})")


def any_of(column: str, values: Iterable[Any]) -> Filter:
    """``(column eq a or column eq b ...)``; an empty list matches nothing."""
    parts = [eq(column, v).text for v in values]
    if not parts:
        return Filter("false")
    return Filter("(" + " or ".join(parts) + ")")


def format_filter(template: str, **values: Any) -> str:
    """Fill ``{placeholders}`` in a filter template with escaped literals.

    >>> format_filter("lastname eq {n}", n="O'Brien")
    "lastname eq 'O''Brien'"
    """
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    missing = fields - values.keys()
    if missing:
        raise ClientValidationError(f"no value for placeholder(s) {sorted(missing)} in filter {template!r}")
    return template.format(**{k: literal(v) for k, v in values.items()})


@dataclass(frozen=True)
class Expand:
    """One ``$expand`` item with optional nested options."""

    navigation: str
    select: Sequence[str] = ()
    filter: str | Filter | None = None
    orderby: str | None = None
    top: int | None = None

    def __str__(self) -> str:
        options = []
        if self.select:
            options.append("$select=" + ",".join(name(c) for c in self.select))
        if self.filter is not None:
            options.append(f"$filter={self.filter}")
        if self.orderby:
            options.append(f"$orderby={_orderby(self.orderby)}")
        if self.top is not None:
            options.append(f"$top={int(self.top)}")
        inner = f"({';'.join(options)})" if options else ""
        return f"{name(self.navigation)}{inner}"


def _orderby(value: str | Sequence[str]) -> str:
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        for part in item.split(","):
            clean = " ".join(part.split())
            if not _ORDER.match(clean):
                raise ClientValidationError(f"{part!r} is not a valid $orderby item")
            out.append(clean)
    return ",".join(out)


@dataclass(frozen=True)
class Query:
    """System query options of one collection or record request."""

    select: Sequence[str] = ()
    filter: str | Filter | None = None
    orderby: str | Sequence[str] | None = None
    top: int | None = None
    expand: Sequence[str | Expand] | str | Expand | None = None
    count: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> list[tuple[str, str]]:
        """The query options as ordered ``(name, value)`` pairs."""
        out: list[tuple[str, str]] = []
        if self.select:
            out.append(("$select", ",".join(name(c) for c in self.select)))
        if self.filter is not None and str(self.filter):
            out.append(("$filter", str(self.filter)))
        if self.orderby:
            out.append(("$orderby", _orderby(self.orderby)))
        if self.top is not None:
            if int(self.top) < 1:
                raise ClientValidationError("$top must be at least 1")
            out.append(("$top", str(int(self.top))))
        if self.expand:
            items = [self.expand] if isinstance(self.expand, str | Expand) else list(self.expand)
            out.append(("$expand", ",".join(str(i) if isinstance(i, Expand) else _expand_text(i) for i in items)))
        if self.count:
            out.append(("$count", "true"))
        out.extend(self.extra.items())
        return out

    def encode(self) -> str:
        """The encoded query string (spaces as ``%20``, never ``+``)."""
        return encode_params(self.params())


def _expand_text(item: str) -> str:
    head = item.split("(", 1)[0]
    name(head)
    return item


def encode_params(params: Iterable[tuple[str, str]]) -> str:
    """Encode query options the way Dataverse documents them (``$filter=statecode%20eq%200``)."""
    return "&".join(f"{k}={quote(v, safe=_QUERY_SAFE)}" for k, v in params)


# ---------------------------------------------------------------------- JSON


def json_value(value: Any) -> Any:
    """Convert Python values into JSON-ready ones: Decimal -> number, date -> ``YYYY-MM-DD``, aware datetime -> UTC."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return to_utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    raise ClientValidationError(f"cannot send {type(value).__name__} {value!r} as JSON")


def dumps(body: Any) -> bytes:
    """Encode a request body as compact UTF-8 JSON."""
    return json.dumps(json_value(body), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_segment(entity_set: str, key: str | Mapping[str, Any]) -> str:
    """``leads(<guid>)`` for an id, ``accounts(accountnumber='A1')`` for an alternate key."""
    if isinstance(key, Mapping):
        if not key:
            raise ClientValidationError("an alternate key needs at least one column")
        inner = ",".join(f"{name(k)}={quote(literal(v), safe=_QUERY_SAFE)}" for k, v in key.items())
        return f"{entity_set}({inner})"
    return f"{entity_set}({guid(key)})"


def entity_id_from_url(url: str) -> str:
    """The GUID inside the last ``(...)`` of an ``OData-EntityId`` URL."""
    start, end = url.rfind("("), url.rfind(")")
    if start < 0 or end < start:
        raise ClientValidationError(f"no id in {url!r}")
    return guid(url[start + 1:end])
