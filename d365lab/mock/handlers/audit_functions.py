"""The audit history: ``audits`` (read-only) and the functions that read old and new values.

- ``GET /audits`` and ``GET /audits(<id>)`` are ordinary queries (``$filter``, ``$orderby``,
  ``$top``, paging), except that ``changedata`` is only returned when ``$select``-ed, and
  only when ``MockSettings.audit.changedata_selectable`` (else it is an unknown property).
  POST, PATCH and DELETE are refused.
- ``GET /RetrieveRecordChangeHistory(Target=@t,PagingInfo=@p)?@t={'@odata.id':'leads(<id>)'}&@p={…}``
  answers ``{"AuditDetailCollection": {"MoreRecords", "PagingCookie", "TotalRecordCount",
  "AuditDetails": [AttributeAuditDetail…]}}``, each detail with entity-shaped ``OldValue`` and
  ``NewValue`` holding only the changed columns.
- ``GET /audits(<id>)/Microsoft.Dynamics.CRM.RetrieveAuditDetails`` answers ``{"AuditDetail": …}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from d365lab.mock import service_errors as errors
from d365lab.mock.audit_values import attribute_audit_detail, parse_changedata
from d365lab.mock.codec import encode_row, parse_entity_reference
from d365lab.mock.handlers import crud
from d365lab.mock.handlers.registry import OperationCall, OperationResult, bound_function, function, table_handler
from d365lab.mock.routing import Route, RouteKind
from d365lab.mock.rules.audit import read_only
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, parse_prefer, split_top_level
from d365lab.models.schema import TABLES, TYPE_NAMESPACE

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp

_ODATA_ID = re.compile(r"""["']@odata\.id["']\s*:\s*["']([^"']+)["']""")
_WRITE_VERBS = {"POST": "Create", "PATCH": "Update", "PUT": "Update", "DELETE": "Delete"}
#: The columns of ``GET /audits`` without ``$select`` (every property but ``changedata``).
_DEFAULT_SELECT = ",".join(c.value_property for c in TABLES["audit"].columns.values()
                           if c.name not in ("changedata", "versionnumber"))
_NULL_EXPANSIONS = frozenset({"userid", "callinguserid"})
#: Most history items one call answers when no PagingInfo limits it.
_MAX_PAGE = 5000


@table_handler("audit")
def audits(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    """``/audits`` routes: read-only, ``changedata`` only when selected (and selectable)."""
    if request.method in _WRITE_VERBS and route.kind in (RouteKind.COLLECTION, RouteKind.ENTITY):
        raise read_only("audit", _WRITE_VERBS[request.method])
    cutoff = visible_until(app.tenant)
    if cutoff is not None:
        shown = f"createdon le {cutoff}"
        condition = request.query.get("$filter")
        request = replace(request, query={**request.query,
                                          "$filter": f"({condition}) and {shown}" if condition else shown})
    request, nulls = _without_user_expansions(request)
    selected = request.query.get("$select")
    if selected is not None:
        if "changedata" in {s.strip() for s in selected.split(",")} and not app.settings.audit.changedata_selectable:
            raise errors.unknown_property("changedata", "audit")
        response = crud.handle(app, request, route)
    else:
        response = crud.handle(app, replace(request, query={**request.query, "$select": _DEFAULT_SELECT}), route)
        # The context names what the caller asked for (the whole entity), not the columns chosen for it.
        response.body = response.body.replace(f"audits({_DEFAULT_SELECT})".encode(), b"audits", 1)
    if nulls and response.status == 200:
        body = json.loads(response.body)
        for row in body["value"] if "value" in body else [body]:
            row.update(dict.fromkeys(nulls))
        response.body = json.dumps(body, separators=(",", ":")).encode()
    return response


def _without_user_expansions(request: MockRequest) -> tuple[MockRequest, list[str]]:
    """``$expand`` of ``userid``/``callinguserid`` yields null on audits (the docs' advice: use ``_x_value``)."""
    expand = request.query.get("$expand")
    if not expand:
        return request, []
    items = [item.strip() for item in split_top_level(expand, ",") if item.strip()]
    nulls = [item.split("(", 1)[0] for item in items if item.split("(", 1)[0] in _NULL_EXPANSIONS]
    if not nulls:
        return request, []
    kept = [item for item in items if item.split("(", 1)[0] not in _NULL_EXPANSIONS]
    query = {k: v for k, v in request.query.items() if k != "$expand"}
    if kept:
        query["$expand"] = ",".join(kept)
    return replace(request, query=query), nulls


def visible_until(tenant: Tenant) -> str | None:
    """The newest ``createdon`` visible now (``MockSettings.audit.visibility_delay_seconds``), None = all."""
    delay = tenant.settings.audit.visibility_delay_seconds
    if not delay:
        return None
    return (datetime.now(UTC) - timedelta(seconds=delay)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _target(tenant: Tenant, call: OperationCall) -> tuple[str, str]:
    """The ``Target`` parameter as (logical name, id)."""
    raw = call.parameters.get("Target")
    uri = raw.get("@odata.id") if isinstance(raw, dict) else None
    if uri is None and isinstance(raw, str):
        found = _ODATA_ID.search(raw)
        uri = found.group(1) if found else None
    if not isinstance(uri, str):
        raise errors.bad_request("The parameter 'Target' must be an entity reference: {'@odata.id':'leads(<id>)'}.")
    table, record_id = parse_entity_reference(tenant, uri)
    return table.logical_name, record_id


def _paging(tenant: Tenant, call: OperationCall) -> dict[str, Any]:
    raw = call.parameters.get("PagingInfo")
    if raw is None:
        if tenant.settings.audit.history_requires_paging_info:
            raise errors.bad_request("Required parameter 'PagingInfo' is missing.", code="0x80040203")
        return {}
    if not isinstance(raw, dict):
        raise errors.bad_request("The parameter 'PagingInfo' must be a JSON object such as "
                                 '{"PageNumber":1,"Count":50,"ReturnTotalRecordCount":true}.')
    return raw


def _positive(paging: dict[str, Any], name: str, default: int) -> int:
    value = paging.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.bad_request(f"PagingInfo.{name} must be a whole number, not {value!r}.")
    return value or default


def _history_rows(tenant: Tenant, logical_name: str, record_id: str) -> list[Row]:
    """The record's audit rows in the configured order."""
    rows = tenant.find("audit", objectid=Ref(logical_name, record_id))
    cutoff = visible_until(tenant)
    if cutoff is not None:
        rows = [r for r in rows if str(r.get("createdon") or "") <= cutoff]
    rows.sort(key=lambda r: (r.get("createdon") or "", r["auditid"]),
              reverse=tenant.settings.audit.history_order == "newest_first")
    return rows


def _annotations(call: OperationCall) -> list[str] | None:
    prefer = next((v for k, v in call.headers.items() if k.lower() == "prefer"), "")
    return annotation_patterns(parse_prefer(prefer))


def audit_detail(tenant: Tenant, row: Row, annotations: list[str] | None,
                 attribute: str | None = None) -> dict[str, Any]:
    """The ``AttributeAuditDetail`` of one audit row (only ``attribute`` when given)."""
    table = TABLES.get(str(row.get("objecttypecode")))
    changes = parse_changedata(table, row.get("changedata"))
    if attribute is not None:
        changes = [c for c in changes if c[0] == attribute]
    detail = attribute_audit_detail(tenant, table, changes, int(row.get("operation") or 2), annotations)
    if tenant.settings.audit.history_includes_audit_record:
        audit_table = TABLES["audit"]
        columns = [c for c in audit_table.columns.values() if c.name != "changedata"]
        record = encode_row(tenant, audit_table, row, columns=columns, annotations=annotations)
        detail["AuditRecord"] = {"@odata.type": f"#{TYPE_NAMESPACE}.audit", **record}
    return detail


def _collection(tenant: Tenant, call: OperationCall, rows: list[Row], attribute: str | None) -> dict[str, Any]:
    paging = _paging(tenant, call)
    count = min(_positive(paging, "Count", _MAX_PAGE), _MAX_PAGE)
    page = _positive(paging, "PageNumber", 1)
    start = (page - 1) * count
    chosen = rows[start:start + count]
    annotations = _annotations(call)
    cookie = (f'<cookie page="{page}"><auditid last="{{{chosen[-1]["auditid"].upper()}}}" '
              f'first="{{{chosen[0]["auditid"].upper()}}}" /></cookie>') if chosen else None
    return {
        "MoreRecords": start + count < len(rows),
        "PagingCookie": cookie,
        "TotalRecordCount": len(rows) if paging.get("ReturnTotalRecordCount") else -1,
        "AuditDetails": [audit_detail(tenant, row, annotations, attribute) for row in chosen],
    }


@function("RetrieveRecordChangeHistory")
def retrieve_record_change_history(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Every audited change of one record, with old and new values."""
    logical_name, record_id = _target(tenant, call)
    rows = _history_rows(tenant, logical_name, record_id)
    return OperationResult(200, {
        "@odata.context": call.response_context("RetrieveRecordChangeHistory"),
        "AuditDetailCollection": _collection(tenant, call, rows, None),
    })


@function("RetrieveAttributeChangeHistory")
def retrieve_attribute_change_history(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The audited changes of one column of one record."""
    logical_name, record_id = _target(tenant, call)
    attribute = call.parameters.get("AttributeLogicalName")
    if not isinstance(attribute, str) or not attribute.strip("'"):
        raise errors.bad_request("The parameter 'AttributeLogicalName' is required.")
    name = attribute.strip("'").lower()
    table = TABLES[logical_name]
    if name not in table.columns:
        raise errors.unknown_property(name, logical_name)
    rows = [r for r in _history_rows(tenant, logical_name, record_id)
            if any(c[0] == name for c in parse_changedata(table, r.get("changedata")))]
    return OperationResult(200, {
        "@odata.context": call.response_context("RetrieveAttributeChangeHistory"),
        "AuditDetailCollection": _collection(tenant, call, rows, name),
    })


@bound_function("audit", "RetrieveAuditDetails")
def retrieve_audit_details(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The old and new values of one audit row."""
    row = tenant.require("audit", str(call.bound_id))
    cutoff = visible_until(tenant)
    if cutoff is not None and str(row.get("createdon") or "") > cutoff:
        raise errors.not_found("audit", str(call.bound_id))
    return OperationResult(200, {
        "@odata.context": call.response_context("RetrieveAuditDetails"),
        "AuditDetail": audit_detail(tenant, row, _annotations(call)),
    })
