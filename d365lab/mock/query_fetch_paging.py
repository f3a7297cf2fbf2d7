"""FetchXML paging cookies, as the Web API hands them out and takes them back.

When more rows follow (and, with ``MockSettings.fetch_paging_cookie = "when_asked"``, when
``Prefer: odata.include-annotations`` covers ``Microsoft.Dynamics.CRM.fetchxmlpagingcookie``), the
answer carries
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie``: ``<cookie pagenumber="n+1"
pagingcookie="…" istracking="False" />`` whose ``pagingcookie`` is, URL-encoded twice,
``<cookie page="n"><col last="…" first="…" />…<pk last="{GUID}" first="{GUID}" /></cookie>``
(the first and last row's value of each ``<order>`` column, then the primary key). Sent
back as ``<fetch paging-cookie="…" page="n+1">``, it makes the next page start right
after the last row (a keyset, so a deep page costs what the first does); a cookie the
mock cannot use (a null sort value, another query's columns) falls back to ``page``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as url_quote
from xml.etree import ElementTree

from d365lab.mock.codec import annotation_wanted
from d365lab.mock.query import _keyset_condition
from d365lab.mock.query_fetch import FetchCompiler
from d365lab.mock.service_errors import MockError
from d365lab.mock.tenant_api import Ref, Row
from d365lab.models.schema import Column, ColumnType

PAGING_COOKIE = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"


def sort_keys(compiler: FetchCompiler) -> list[tuple[Column, bool]]:
    """The ``<order>`` columns (and directions) of the root entity, then its primary key."""
    keys = [(compiler.column(item.get("attribute")), item.get("descending", "false").lower() == "true")
            for item in compiler.entity.findall("order")]
    primary = compiler.table.columns[compiler.table.primary_id]
    if all(column is not primary for column, _ in keys):
        keys.append((primary, False))
    return keys


def cookie_keyset(compiler: FetchCompiler) -> tuple[str, list[Any]] | None:
    """The condition "after the cookie's last row", or None when the request has no usable cookie."""
    raw = compiler.root.get("paging-cookie")
    if not raw:
        return None
    try:
        cookie = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return None
    last: list[Any] = []
    keys = sort_keys(compiler)
    for column, _ in keys:
        item = cookie.find(column.name)
        value = item.get("last") if item is not None else None
        if value is None:
            return None
        try:
            last.append(compiler._value(column, value))
        except MockError:
            return None
    return _keyset_condition(keys, last)


def _cookie_value(column: Column, value: Any) -> str:
    if isinstance(value, Ref):
        value = value.id
    if column.type is ColumnType.GUID or column.is_lookup:
        return "{" + str(value).upper() + "}"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def paging_cookie(compiler: FetchCompiler, page: int, first: Row, last: Row) -> str | None:
    """The annotation's value for a page running from ``first`` to ``last`` (None: no cookie)."""
    inner = ElementTree.Element("cookie", page=str(page))
    for column, _ in sort_keys(compiler):
        low, high = first.get(column.name), last.get(column.name)
        if high is None:
            return None
        attributes = {"last": _cookie_value(column, high)}
        if low is not None:
            attributes["first"] = _cookie_value(column, low)
        ElementTree.SubElement(inner, column.name, attributes)
    encoded = url_quote(url_quote(ElementTree.tostring(inner, encoding="unicode"), safe=""), safe="")
    outer = ElementTree.Element("cookie", pagenumber=str(page + 1), pagingcookie=encoded, istracking="False")
    return ElementTree.tostring(outer, encoding="unicode")


def cookie_wanted(patterns: list[str] | None) -> bool:
    """True when the request asked for the paging cookie annotation."""
    return annotation_wanted(patterns, PAGING_COOKIE)


def page_number(compiler: FetchCompiler) -> int:
    """The ``page`` the request asked for (1 when absent or not a number)."""
    raw = (compiler.root.get("page") or "1").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else 1
