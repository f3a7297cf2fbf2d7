"""Web API JSON <-> storage rows.

:func:`decode_body` turns a request body into a storage-form row (binds resolved to
:class:`~d365lab.mock.tenant_api.Ref`, values type-checked and normalised, deep-insert
arrays decoded recursively). :func:`encode_row` turns a stored row into the JSON the
service returns (``@odata.etag``, ``_x_value`` lookups, ``$select``, annotations).
"""

from __future__ import annotations

import fnmatch
import math
import re
from datetime import datetime
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.relationships import one_to_many
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.mock.validation import coerce, conversion_error, normalize_guid, out_of_type_range
from d365lab.models import schema
from d365lab.models.enums import label_of
from d365lab.models.schema import INTEGER_TYPES, REAL_TYPES, Column, ColumnType, Table

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\((.*)\)")
_BIND = "@odata.bind"
#: The code of an undeclared alternate key (UNVERIFIED: seen in third-party logs, not in Microsoft's docs).
INVALID_KEY = "0x80060888"


def etag(row: Row) -> str:
    """The weak ETag of a stored row: ``W/"<versionnumber>"``."""
    return f'W/"{row["versionnumber"]}"'


# ---------------------------------------------------------------------- decoding

def parse_entity_reference(tenant: Tenant, uri: Any) -> tuple[Table, str]:
    """Resolve ``/accounts(<id>)``, ``accounts(<id>)``, an absolute URL or an alternate key.

    Returns the table and the (lowercase) record id; a missing alternate-key match is 404.
    """
    if not isinstance(uri, str):
        raise errors.bad_request(f"An entity reference must be a URI string, not {uri!r}.")
    path = uri.split("?", 1)[0].strip().rstrip("/")
    if path.startswith("$"):
        raise errors.bad_request(f"Content-ID Reference: '{path}' does not exist in the batch context.")
    marker = "/api/data/"
    if marker in path:
        path = path.split(marker, 1)[1].split("/", 1)[-1]
    found = _KEY_RE.fullmatch(path.lstrip("/"))
    if found is None:
        raise errors.bad_request(f"The URI '{uri}' is not a valid entity reference.")
    entity_set, key = found.group(1), found.group(2)
    table = tenant.table(entity_set)
    return table, resolve_key(tenant, table, key)


def parse_key_values(key: str) -> dict[str, str] | str:
    """A bare id, or ``name='value',other=1`` alternate-key pairs (values unquoted)."""
    key = key.strip()
    if "=" not in key:
        return key.strip("'")
    pairs: dict[str, str] = {}
    for part in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^,]*)", key):
        name, raw = part
        pairs[name] = raw[1:-1].replace("''", "'") if raw.startswith("'") else raw.strip()
    return pairs


def resolve_key(tenant: Tenant, table: Table, key: str) -> str:
    """The record id a key segment names; alternate keys are looked up (404 when no row matches)."""
    parsed = parse_key_values(key)
    if isinstance(parsed, str):
        ident = normalize_guid(parsed)
        if ident is None:
            raise errors.bad_request(f"'{parsed}' is not a valid value for the key of {table.logical_name}.")
        return ident
    if set(parsed) == {table.primary_id}:
        return resolve_key(tenant, table, parsed[table.primary_id])
    check_declared_key(tenant, table, set(parsed))
    equals: dict[str, Any] = {}
    for name, raw in parsed.items():
        column = table.columns.get(name)
        if column is None or column.is_lookup:
            raise errors.bad_request(f"'{name}' is not a key attribute of {table.logical_name}.")
        equals[name] = key_literal(column, raw)
    rows = tenant.find(table.logical_name, **equals)
    if not rows:
        raise errors.MockError(404, "0x80060891",
                               f"A record with the specified key values does not exist in {table.logical_name} entity")
    return str(rows[0][table.primary_id])


def declared_keys(tenant: Tenant, table: Table) -> list[list[str]] | None:
    """The alternate keys declared for a table (``MockSettings.alternate_keys``); None when keys are lenient."""
    declared = tenant.settings.alternate_keys
    if declared is None:
        return None
    return declared.get(table.logical_name, [])


def check_declared_key(tenant: Tenant, table: Table, names: set[str]) -> None:
    """Refuse key columns that are not one declared alternate key (any order), when keys are declared."""
    keys = declared_keys(tenant, table)
    if keys is None or any(set(key) == names for key in keys):
        return
    resource = table.type_name
    raise errors.MockError(
        400, INVALID_KEY,
        f"The key in the request URI is not valid for resource '{resource}'. Ensure that the names and number "
        f"of key properties match the declared or alternate key properties for the resource '{resource}'.")


def key_literal(column: Column, raw: str) -> Any:
    """An alternate-key value from a URL as the column's storage type."""
    if column.type in (ColumnType.INTEGER, ColumnType.BIGINT, ColumnType.PICKLIST):
        try:
            number = int(raw)
        except ValueError:
            raise conversion_error(raw, column) from None
        return coerce(column, number)  # past Int32/Int64 is a 400, not an SQLite overflow
    return raw


def decode_value(column: Column, value: Any) -> Any:
    """A JSON value of a non-lookup column, with the JSON-level leniency the service has.

    Money sent as a numeric string becomes a number and an integral float an integer; the
    storage-form type check (:func:`~d365lab.mock.validation.coerce`, type errors are 400)
    is the tenant's, which checks every value it writes.
    """
    if isinstance(value, str):
        if column.type in REAL_TYPES:
            try:
                number = float(value)
            except ValueError:
                raise conversion_error(value, column) from None
            if not math.isfinite(number):  # "NaN", "Infinity", "1e400"
                raise out_of_type_range(value, column)
            return number
    elif isinstance(value, float) and value.is_integer() and column.type in INTEGER_TYPES:
        return int(value)
    return value


def decode_body(tenant: Tenant, table: str, body: Any, *, for_create: bool) -> Row:
    """A Web API JSON body as a storage-form row of ``table``.

    Property names are case-sensitive; ``<nav>@odata.bind`` becomes a :class:`Ref` (or
    None); ``@odata.*`` annotations are ignored; arrays on collection-valued navigation
    properties (``phonecall_activity_parties``, ``contact_customer_accounts``, ...) are
    decoded into lists of child rows for a deep insert. Unknown properties answer 400
    "Could not find a property named …".
    """
    t = tenant.table(table)
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    _check_type_annotation(t, body.get("@odata.type"))
    navigations = _navigations(t)
    row: Row = {}
    for key, value in body.items():
        if key.endswith(_BIND):
            nav = key[: -len(_BIND)]
            if nav not in navigations:
                raise errors.MockError(
                    400, errors.UNKNOWN_PROPERTY,
                    f"An undeclared property '{nav}' which only has property annotations in the payload but no "
                    f"property value was found in the payload. In OData, only declared navigation properties "
                    f"and declared named streams can be represented as properties without values.")
            column, target = navigations[nav]
            if value is None:
                row[column.name] = None
                continue
            bound_table, ident = parse_entity_reference(tenant, value)
            if bound_table.logical_name != target:
                raise errors.bad_request(
                    f"The navigation property '{nav}' expects a {target} reference, not {bound_table.logical_name}.")
            row[column.name] = Ref(target, ident)
            continue
        if key.startswith("@") or "@" in key:
            continue  # annotations such as @odata.type / @odata.etag / x@OData.Community...
        if key in navigations and value is None:  # "primarycontactid": null disassociates, like the bind
            row[navigations[key][0].name] = None
            continue
        if key in navigations and isinstance(value, dict):
            column, target = navigations[key]
            related = tenant.create(target, decode_body(tenant, target, value, for_create=True))
            row[column.name] = Ref(target, str(related[tenant.table(target).primary_id]))
            continue
        related_set = one_to_many(t).get(key)
        if related_set is not None:
            if not isinstance(value, list):
                raise errors.bad_request(f"The navigation property '{key}' expects a collection.")
            row[key] = [decode_body(tenant, related_set.target, item, for_create=True) for item in value]
            continue
        plain = t.columns.get(key)
        if plain is None or plain.is_lookup:
            raise errors.unknown_property(key, t.logical_name)
        row[key] = decode_value(plain, value)
    if not for_create and row.get(t.primary_id) is None:
        row.pop(t.primary_id, None)
    return row


_NAVIGATIONS: dict[int, tuple[Table, dict[str, tuple[Column, str]]]] = {}


def _navigations(table: Table) -> dict[str, tuple[Column, str]]:
    """:meth:`Table.navigation_properties`, computed once per table (a bulk body decodes thousands of rows)."""
    cached = _NAVIGATIONS.get(id(table))
    if cached is None or cached[0] is not table:
        cached = (table, table.navigation_properties())
        _NAVIGATIONS[id(table)] = cached
    return cached[1]


def _check_type_annotation(table: Table, annotation: Any) -> None:
    """An ``@odata.type`` in a body must name the table the body is written to."""
    if annotation is None:
        return
    name = str(annotation).lstrip("#")
    if name not in (table.type_name, table.logical_name):
        raise errors.bad_request(
            f"The type '{name}' in @odata.type is not compatible with the expected type '{table.type_name}'.",
            code=errors.UNKNOWN_PROPERTY)


# ---------------------------------------------------------------------- encoding

def annotation_wanted(patterns: list[str] | None, name: str) -> bool:
    """True when an ``odata.include-annotations`` preference covers annotation ``name``."""
    if not patterns:
        return False
    return any(p == "*" or fnmatch.fnmatchcase(name, p) for p in patterns)


def format_value(column: Column, value: Any) -> str | None:
    """The FormattedValue annotation of a non-lookup value (None when the service sends none)."""
    if value is None:
        return None
    kind = column.type
    if column.options is not None and kind in (ColumnType.PICKLIST, ColumnType.STATE, ColumnType.STATUS):
        try:
            return label_of(column.options(value))
        except ValueError:
            return str(value)
    if kind is ColumnType.BOOLEAN:
        return column.true_label if value else column.false_label
    if kind is ColumnType.MONEY:
        return f"${value:,.2f}"
    if kind in (ColumnType.INTEGER, ColumnType.BIGINT):
        return f"{value:,}"
    if kind in (ColumnType.DATETIME, ColumnType.DATEONLY):
        return _format_date(kind, value)
    if kind in (ColumnType.DOUBLE, ColumnType.DECIMAL):
        return f"{value:,.2f}"
    return None


def _format_date(kind: ColumnType, value: str) -> str | None:
    """``4/7/2023 2:59 PM`` / ``4/7/2023``; None for a stored text that is not a date (an older file)."""
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ" if kind is ColumnType.DATETIME else "%Y-%m-%d")
    except (TypeError, ValueError):
        return None
    if kind is ColumnType.DATETIME:
        hour = parsed.hour % 12 or 12
        meridiem = "AM" if parsed.hour < 12 else "PM"
        return f"{parsed.month}/{parsed.day}/{parsed.year} {hour}:{parsed.minute:02d} {meridiem}"
    return f"{parsed.month}/{parsed.day}/{parsed.year}"


def selected_columns(table: Table, select: list[str] | None) -> list[Column]:
    """The columns ``$select`` names (PK always; money adds the currency), all when None.

    Accepts logical names and ``_x_value`` names; unknown names answer 400.
    """
    if not select:
        return list(table.columns.values())
    names: list[str] = [table.primary_id]
    for raw in select:
        name = raw.strip()
        if not name:
            continue
        if name.startswith("_") and name.endswith("_value"):
            name = name[1:-6]
        column = table.columns.get(name)
        if column is None:
            raise errors.unknown_property(raw.strip(), table.logical_name)
        names.append(name)
        if column.type is ColumnType.MONEY and "transactioncurrencyid" in table.columns:
            names.append("transactioncurrencyid")
    seen: dict[str, Column] = {}
    for name in names:
        seen.setdefault(name, table.columns[name])
    return list(seen.values())


def encode_row(tenant: Tenant, table: Table, row: Row, *, columns: list[Column] | None = None,
               annotations: list[str] | None = None) -> dict[str, Any]:
    """A stored row as the Web API returns it (without ``@odata.context``).

    ``columns`` is the ``$select`` result of :func:`selected_columns` (all when None);
    ``annotations`` the ``odata.include-annotations`` patterns.
    """
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    want_formatted = annotation_wanted(annotations, FORMATTED)
    want_logical = annotation_wanted(annotations, LOOKUP_LOGICAL_NAME)
    want_nav = annotation_wanted(annotations, NAVIGATION_PROPERTY)
    for column in columns if columns is not None else table.columns.values():
        value = row.get(column.name)
        if column.is_lookup:
            prop = column.value_property
            if isinstance(value, Ref):
                if want_formatted:
                    name = _primary_name(tenant, value)
                    if name is not None:
                        out[f"{prop}@{FORMATTED}"] = name
                if want_nav:
                    out[f"{prop}@{NAVIGATION_PROPERTY}"] = column.navigation.get(value.table, column.name)
                if want_logical:
                    out[f"{prop}@{LOOKUP_LOGICAL_NAME}"] = value.table
                out[prop] = value.id
            else:
                out[prop] = None
            continue
        if want_formatted:
            formatted = format_value(column, value)
            if formatted is not None:
                out[f"{column.name}@{FORMATTED}"] = formatted
        if column.type is ColumnType.MONEY and value is not None:
            value = round(float(value), 4)
        out[column.name] = value
    return out


def _primary_name(tenant: Tenant, ref: Ref) -> str | None:
    target = schema.TABLES.get(ref.table)
    if target is None:
        return None
    found = tenant.get(ref.table, ref.id)
    if found is None:
        return None
    name = found.get(target.primary_name)
    if isinstance(name, Ref):
        return _primary_name(tenant, name)
    return None if name is None else str(name)
