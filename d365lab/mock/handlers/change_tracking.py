"""Change tracking: ``Prefer: odata.track-changes`` and delta reads with ``$deltatoken``.

A collection GET of a table with change tracking on (``MockSettings.change_tracking``) and
``Prefer: odata.track-changes`` answers as usual plus ``Preference-Applied:
odata.track-changes`` and, on its last page, an ``@odata.deltaLink``: the same URL with
``$deltatoken=<n>``. GETting that link answers what changed since: the rows created or
updated since (with the link's ``$select``) and ``{"@odata.context": "…/$metadata#<set>/$deletedEntity",
"id": "<id>", "reason": "deleted"}`` for each row deleted since, under an ``…/$delta``
context, with a fresh ``@odata.deltaLink``. The token is the tenant's version counter, so a
delta never misses a write and never repeats one. A table without change tracking refuses
the preference with 400 (message UNVERIFIED). A delta read takes ``$select`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import encode_row, selected_columns
from d365lab.mock.query import collection_response
from d365lab.mock.rules.base import register
from d365lab.mock.store import Store
from d365lab.mock.store import quote as sql_name
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.mock.wire import MockRequest, MockResponse, annotation_patterns, json_response
from d365lab.models.schema import TABLES, Table

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp

TRACK_CHANGES = "odata.track-changes"
DELTA_TOKEN = "$deltatoken"
_LOG = "_d365lab_deletions"
_READY_ATTRIBUTE = "_d365lab_deletion_log_ready"
_URL_SAFE = "$,()'@="
#: System query options Microsoft documents as refused with ``Prefer: odata.track-changes``.
_UNSUPPORTED = ("$filter", "$orderby", "$expand", "$top")


def wants_changes(request: MockRequest) -> bool:
    """True for a request that starts or continues change tracking."""
    return TRACK_CHANGES in request.prefer() or DELTA_TOKEN in request.query


def _ensure_log(store: Store) -> None:
    if getattr(store, _READY_ATTRIBUTE, False):
        return
    store.execute(f"CREATE TABLE IF NOT EXISTS {_LOG} (entity TEXT NOT NULL, id TEXT NOT NULL, "
                  "version INTEGER NOT NULL)")
    store.execute(f"CREATE INDEX IF NOT EXISTS {_LOG}_version ON {_LOG} (entity, version)")
    setattr(store, _READY_ATTRIBUTE, True)


def _tracked(tenant: Tenant, table: Table) -> bool:
    return table.logical_name in tenant.settings.change_tracking


class DeletionLog:
    """A rule of one table: remember deletions of its rows (when tracked) for delta reads."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to do on writes (their versionnumber tells a delta read)."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to do on writes."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Log the id of a deleted row when the table has change tracking on."""
        store: Store | None = getattr(tenant, "store", None)
        if store is None or not _tracked(tenant, self.table):
            return
        _ensure_log(store)
        store.execute(f"INSERT INTO {_LOG} (entity, id, version) VALUES (?, ?, ?)",
                      (self.table.logical_name, row[self.table.primary_id], store.next_version()))


for _table in TABLES.values():
    register(_table.logical_name, DeletionLog(_table))


def _delta_link(request: MockRequest, token: int) -> str:
    query = {k: v for k, v in request.query.items() if k not in ("$skiptoken", DELTA_TOKEN)}
    query[DELTA_TOKEN] = str(token)
    return f"{request.url}?{urlencode(query, quote_via=quote, safe=_URL_SAFE)}"


def handle(app: MockApp, request: MockRequest, table: Table) -> MockResponse:
    """A collection GET with ``Prefer: odata.track-changes`` or a ``$deltatoken`` delta read."""
    tenant = app.tenant
    if not _tracked(tenant, table):
        raise errors.bad_request(f"Change tracking is not enabled for the entity '{table.logical_name}'.")
    _ensure_log(tenant.store)
    if DELTA_TOKEN in request.query:
        return _delta(app, request, table)
    for option in _UNSUPPORTED:
        if option in request.query:
            raise errors.bad_request(
                f'The "{option}" query parameter isn\'t supported when Change Tracking is enabled.')
    token = tenant.store.next_version()
    response = collection_response(tenant, request, table)
    body = response.json()
    if "@odata.nextLink" not in body:
        body["@odata.deltaLink"] = _delta_link(request, token)
    applied = [p for p in (response.headers.get("Preference-Applied") or "").split(",") if p]
    headers = {"Preference-Applied": ",".join([*applied, TRACK_CHANGES])}
    return json_response(200, body, headers)


def _since(request: MockRequest) -> int:
    extra = [k for k in request.query if k.startswith("$") and k not in ("$select", DELTA_TOKEN)]
    if extra:
        raise errors.bad_request(f"A change-tracking delta read takes $select only, not {', '.join(extra)}.")
    raw = request.query[DELTA_TOKEN]
    if not raw.isdigit() or int(raw) >= 1 << 63:
        raise errors.bad_request(f"Invalid $deltatoken '{raw}'.")
    return int(raw)


def count_changes(app: MockApp, request: MockRequest, table: Table) -> MockResponse:
    """``GET <set>/$count?$deltatoken=<n>``: how many rows were written or deleted since (text/plain)."""
    tenant = app.tenant
    if not _tracked(tenant, table):
        raise errors.bad_request(f"Change tracking is not enabled for the entity '{table.logical_name}'.")
    _ensure_log(tenant.store)
    since = _since(request)
    changed = tenant.store.scalar(f"SELECT COUNT(*) FROM {sql_name(table.logical_name)} WHERE versionnumber > ?",
                                  (since,))
    count = int(changed or 0) + len(_deleted_ids(tenant.store, table, since))
    out = MockResponse(200, body=str(count).encode())
    out.headers["Content-Type"] = "text/plain"
    return out


def _delta(app: MockApp, request: MockRequest, table: Table) -> MockResponse:
    tenant = app.tenant
    since = _since(request)
    token = tenant.store.next_version()
    select = [s.strip() for s in request.query.get("$select", "").split(",") if s.strip()] or None
    columns = selected_columns(table, select)
    patterns = annotation_patterns(request.prefer())
    changed = tenant.store.select(table, "versionnumber > ?", [since], "versionnumber")
    base = request.base_url
    values: list[dict[str, Any]] = [encode_row(tenant, table, row, columns=columns, annotations=patterns)
                                    for row in changed]
    deleted = _deleted_ids(tenant.store, table, since)
    values += [{"@odata.context": f"{base}/$metadata#{table.entity_set}/$deletedEntity", "id": ident,
                "reason": "deleted"} for ident in deleted]
    fragment = f"{table.entity_set}({','.join(select)})" if select else table.entity_set
    body = {"@odata.context": f"{base}/$metadata#{fragment}/$delta", "value": values,
            "@odata.deltaLink": _delta_link(request, token)}
    return json_response(200, body, {"Preference-Applied": TRACK_CHANGES} if TRACK_CHANGES in request.prefer()
                         else None)


def _deleted_ids(store: Store, table: Table, since: int) -> list[str]:
    """Ids of the table's rows deleted after version ``since``, oldest first."""
    joined = store.scalar(f"SELECT group_concat(id, ',') FROM (SELECT id FROM {_LOG} WHERE entity = ? "
                          "AND version > ? ORDER BY version)", (table.logical_name, since))
    return str(joined).split(",") if joined else []
