"""Old and new values of an audit row: the ``changedata`` text and the history functions' shape.

An audit row keeps its changes as ``changedata``, the JSON current audit storage holds
(*community* evidence, see the facts sheet §1.3)::

    {"changedAttributes": [{"logicalName": "statuscode", "oldValue": "1", "newValue": "6"}]}

Values are strings (UNVERIFIED encoding, documented in ``docs/mock-tenant.md``): numbers
and choices in invariant digits (``"6"``, ``"17000"``, ``"0.5"``), booleans ``"True"``/
``"False"``, lookups ``"<logicalname>,<guid>"``, dates and times as stored (``"…Z"``,
``"YYYY-MM-DD"``); a missing value is ``null``. The history functions decode them back to
typed values and render them entity-shaped, as ``OldValue``/``NewValue``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from d365lab.mock.codec import encode_row
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, TYPE_NAMESPACE, Column, ColumnType, Table

CREATE, DELETE = 1, 3  # audit.operation values
#: One changed column: (logical name, old value, new value), values in storage form.
Change = tuple[str, Any, Any]


def change_text(value: Any) -> str | None:
    """A storage-form value as ``changedata`` writes it."""
    if value is None:
        return None
    if isinstance(value, Ref):
        return f"{value.table},{value.id}" if value.table else value.id
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def change_value(column: Column, text: str | None) -> Any:
    """The storage-form value of a ``changedata`` string (the inverse of :func:`change_text`)."""
    if text is None:
        return None
    if column.is_lookup:
        table, _, ident = text.rpartition(",")
        return Ref(table or next(iter(column.navigation), ""), ident)
    kind = column.type
    try:
        if kind in INTEGER_TYPES:
            return int(text)
        if kind in REAL_TYPES:
            return float(text)
    except ValueError:
        return text
    if kind is ColumnType.BOOLEAN:
        return text == "True"
    return text


def changedata_json(changes: list[Change]) -> str:
    """The ``changedata`` of a list of changes."""
    return orjson.dumps({"changedAttributes": [
        {"logicalName": name, "oldValue": change_text(old), "newValue": change_text(new)}
        for name, old, new in changes]}).decode()


def parse_changedata(table: Table | None, text: str | None) -> list[Change]:
    """The changes of a ``changedata`` (columns the table no longer has are dropped)."""
    if not text:
        return []
    try:
        items = json.loads(text).get("changedAttributes", [])
    except (ValueError, AttributeError):
        return []
    out: list[Change] = []
    for item in items:
        name = item.get("logicalName") if isinstance(item, dict) else None
        column = table.columns.get(name) if table is not None and isinstance(name, str) else None
        if column is None:
            continue
        old, new = item.get("oldValue"), item.get("newValue")
        out.append((column.name, change_value(column, old), change_value(column, new)))
    return out


def entity_value(tenant: Tenant, table: Table, values: Row, annotations: list[str] | None) -> dict[str, Any]:
    """``OldValue``/``NewValue``: only the given columns, lookups as ``_x_value`` with their annotations."""
    columns = [table.columns[name] for name in values]
    body = encode_row(tenant, table, {**values, "versionnumber": 0}, columns=columns, annotations=annotations)
    body.pop("@odata.etag", None)
    return {"@odata.type": f"#{TYPE_NAMESPACE}.{table.logical_name}", **body}


def attribute_audit_detail(tenant: Tenant, table: Table | None, changes: list[Change], operation: int,
                           annotations: list[str] | None) -> dict[str, Any]:
    """One ``AttributeAuditDetail`` as the Web API answers it (without ``AuditRecord``).

    A create has an empty ``OldValue``, a delete an empty ``NewValue``; an update shows
    every changed column on both sides (``null`` where it was or became empty).
    """
    old: Row = {} if operation == CREATE else {name: value for name, value, _ in changes}
    new: Row = {} if operation == DELETE else {name: value for name, _, value in changes}
    detail: dict[str, Any] = {
        "@odata.type": f"#{TYPE_NAMESPACE}.AttributeAuditDetail",
        "InvalidNewValueAttributes": [],
        "LocLabelLanguageCode": 0,
        "DeletedAttributes": {"Count": 0, "Keys": [], "Values": []},
    }
    if table is None:
        detail["OldValue"] = detail["NewValue"] = None
        return detail
    detail["OldValue"] = entity_value(tenant, table, old, annotations)
    detail["NewValue"] = entity_value(tenant, table, new, annotations)
    return detail
