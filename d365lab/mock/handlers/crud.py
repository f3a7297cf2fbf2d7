"""Create, retrieve, update (upsert), delete, single properties, ``$ref`` and navigation listings.

Status codes and headers follow the Web API: POST 204 + ``OData-EntityId`` (201 + body
with ``Prefer: return=representation``), PATCH is an upsert, ``If-Match``/``If-None-Match``
guard it, GET answers 304 for an unchanged ``If-None-Match`` ETag.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import (
    decode_body,
    decode_value,
    etag,
    key_literal,
    parse_entity_reference,
    parse_key_values,
    resolve_key,
)
from d365lab.mock.handlers import change_tracking, registry
from d365lab.mock.handlers.registry import ANY_METHOD
from d365lab.mock.intersect import associate, disassociate
from d365lab.mock.query import (
    applied,
    collection_response,
    count_response,
    count_rows,
    encode_single_value,
    entity_body,
    where_clause,
)
from d365lab.mock.query_options import parse_options
from d365lab.mock.relationships import one_to_many
from d365lab.mock.routing import Route, RouteKind
from d365lab.mock.service_errors import MockError
from d365lab.mock.tenant_api import Ref, Row
from d365lab.mock.wire import MockRequest, MockResponse, empty_response, json_response, no_resource, not_allowed
from d365lab.models.schema import Table

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp

CONCURRENCY_MESSAGE = "The version of the existing record doesn't match the RowVersion property provided."


def handle(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    """Answer a collection, entity, property, navigation or ``$ref`` route with the generic CRUD.

    Looks the (route kind, method) up in the app's route table, where this module registered
    the entries below; a table handler (``audits``) calls this for the routes it does not change.
    """
    handler = app.handlers.route_handler(route.kind, request.method)
    if handler is None:
        raise no_resource(request)
    return handler(app, request, route)


def _table(route: Route) -> Table:
    assert route.table is not None
    return route.table


def _key(route: Route) -> str:
    assert route.key is not None
    return route.key


def _record_id(app: MockApp, route: Route) -> str:
    """The id of the record a navigation, property or ``$ref`` route starts from."""
    return resolve_key(app.tenant, _table(route), _key(route))


@registry.route(RouteKind.COLLECTION, "GET")
def _list(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    if change_tracking.wants_changes(request):
        return change_tracking.handle(app, request, _table(route))
    return collection_response(app.tenant, request, _table(route))


@registry.route(RouteKind.COLLECTION, "POST")
def _create_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return create(app, request, _table(route))


@registry.route(RouteKind.COLLECTION, ANY_METHOD)
@registry.route(RouteKind.ENTITY, ANY_METHOD)
def _not_allowed(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    raise not_allowed(request.method)


@registry.route(RouteKind.COUNT, "GET")
def _count(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    if change_tracking.DELTA_TOKEN in request.query:
        return change_tracking.count_changes(app, request, _table(route))
    return count_response(app.tenant, request, _table(route))


@registry.route(RouteKind.COUNT, ANY_METHOD)
def _count_no_resource(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    raise no_resource(request)


@registry.route(RouteKind.ENTITY, "GET")
def _retrieve_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return retrieve(app, request, _table(route), _key(route))


@registry.route(RouteKind.ENTITY, "PATCH")
def _upsert_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return upsert(app, request, _table(route), _key(route))


@registry.route(RouteKind.ENTITY, "DELETE")
def _delete_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return delete(app, request, _table(route), _key(route))


@registry.route(RouteKind.NAVIGATION_COLLECTION, "GET")
def _navigation_list(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    table = _table(route)
    record_id = _record_id(app, route)
    app.tenant.require(table.logical_name, record_id)
    relation = one_to_many(table)[route.name or ""]
    return collection_response(app.tenant, request, app.tenant.table(relation.target),
                               parent=(relation.column, Ref(table.logical_name, record_id)))


@registry.route(RouteKind.NAVIGATION_COLLECTION, ANY_METHOD)
def _navigation_not_allowed(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    _record_id(app, route)  # a bad key is reported before the method
    raise not_allowed(request.method)


@registry.route(RouteKind.NAVIGATION_COUNT, "GET")
def _navigation_count_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return _navigation_count(app, request, _table(route), _record_id(app, route), route.name or "")


@registry.route(RouteKind.NAVIGATION_COUNT, ANY_METHOD)
def _navigation_count_no_resource(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    _record_id(app, route)  # a bad key is reported before the method
    raise no_resource(request)


@registry.route(RouteKind.COLLECTION_REF, ANY_METHOD)
def _collection_ref_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    record_id = _record_id(app, route)
    if request.method == "GET" and route.args is None:
        return _navigation_refs(app, request, _table(route), record_id, route.name or "")
    return _collection_ref(app, request, _table(route), record_id, route)


@registry.route(RouteKind.REF, ANY_METHOD)
def _ref_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return _ref(app, request, _table(route), _record_id(app, route), route.name or "")


@registry.route(RouteKind.PROPERTY, ANY_METHOD)
def _property_route(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
    return _property(app, request, _table(route), _record_id(app, route), route.name or "")


def _representation(request: MockRequest) -> bool:
    return request.prefer().get("return") == "representation"


def _entity_id(request: MockRequest, table: Table, record_id: str) -> str:
    return f"{request.base_url}/{table.entity_set}({record_id})"


def _body(request: MockRequest) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object.")
    return body


def create(app: MockApp, request: MockRequest, table: Table) -> MockResponse:
    """POST to a collection."""
    values = decode_body(app.tenant, table.logical_name, _body(request), for_create=True)
    row = app.tenant.create(table.logical_name, values)
    return _written(app, request, table, row, created=True)


def _written(app: MockApp, request: MockRequest, table: Table, row: Row, *, created: bool) -> MockResponse:
    record_id = str(row[table.primary_id])
    if _representation(request):
        if request.method == "PATCH":  # the service ignores $expand on PATCH
            request = replace(request, query={k: v for k, v in request.query.items() if k != "$expand"})
        body = entity_body(app.tenant, request, table, row)
        return json_response(201 if created else 200, body, {"Preference-Applied": "return=representation"})
    return empty_response(204, {"OData-EntityId": _entity_id(request, table, record_id)})


def retrieve(app: MockApp, request: MockRequest, table: Table, key: str) -> MockResponse:
    """GET one record (304 when ``If-None-Match`` carries its current ETag)."""
    row = app.tenant.require(table.logical_name, resolve_key(app.tenant, table, key))
    wanted = request.headers.get("If-None-Match", "")
    if wanted and wanted != "null" and wanted == etag(row) and "$expand" not in request.query:
        return empty_response(304, {"ETag": etag(row)})
    return json_response(200, entity_body(app.tenant, request, table, row), {**applied(request), "ETag": etag(row)})


def _check_if_match(request: MockRequest, table: Table, record_id: str, existing: Row | None) -> None:
    if_match = request.headers.get("If-Match")
    if if_match:
        if existing is None:
            raise errors.not_found(table.logical_name, record_id)
        if if_match.strip() != "*" and if_match.strip() != etag(existing):
            raise MockError(412, errors.CONCURRENCY_MISMATCH, CONCURRENCY_MESSAGE)


def upsert(app: MockApp, request: MockRequest, table: Table, key: str) -> MockResponse:
    """PATCH: update, or create when missing (guarded by If-Match / If-None-Match)."""
    body = _body(request)
    alternate_values: Row = {}
    try:
        record_id = resolve_key(app.tenant, table, key)
    except MockError as exc:
        if exc.status != 404:
            raise
        record_id, alternate_values = "", _alternate_values(table, key)
    existing = app.tenant.get(table.logical_name, record_id) if record_id else None
    _check_if_match(request, table, record_id, existing)
    if request.headers.get("If-None-Match", "").strip() == "*" and existing is not None:
        raise MockError(412, errors.DUPLICATE_KEY, "A record with matching key values already exists.")
    values = decode_body(app.tenant, table.logical_name, body, for_create=existing is None)
    if existing is not None:
        values.pop(table.primary_id, None)
        row = app.tenant.update(table.logical_name, record_id, values)
        return _written(app, request, table, row, created=False)
    values.update(alternate_values)
    if record_id:
        values[table.primary_id] = record_id
    row = app.tenant.create(table.logical_name, values)
    return _written(app, request, table, row, created=True)


def _alternate_values(table: Table, key: str) -> Row:
    parsed = parse_key_values(key)
    if isinstance(parsed, str):
        return {}
    return {name: key_literal(table.columns[name], raw) for name, raw in parsed.items() if name in table.columns}


def delete(app: MockApp, request: MockRequest, table: Table, key: str) -> MockResponse:
    """DELETE one record."""
    record_id = resolve_key(app.tenant, table, key)
    existing = app.tenant.require(table.logical_name, record_id)
    _check_if_match(request, table, record_id, existing)
    app.tenant.delete(table.logical_name, record_id)
    return empty_response(204)


def _property(app: MockApp, request: MockRequest, table: Table, record_id: str, name: str) -> MockResponse:
    column = table.columns.get(name)
    navigation = table.navigation_properties().get(name)
    if column is None and navigation is not None:
        column = navigation[0]
    assert column is not None
    row = app.tenant.require(table.logical_name, record_id)
    if request.method == "GET":
        if navigation is not None:
            return _related(app, request, row.get(column.name), navigation[1])
        if column.is_lookup:
            raise errors.bad_request(f"Read the lookup '{name}' with $select=_{column.name}_value or $expand.")
        body = {"@odata.context": f"{request.base_url}/$metadata#{table.entity_set}({record_id})/{name}",
                "value": encode_single_value(column, row.get(column.name))}
        return json_response(200, body)
    if request.method == "PUT":
        if column.is_lookup:
            raise errors.bad_request(f"Set the lookup '{name}' with PUT {name}/$ref or an @odata.bind.")
        payload = _body(request)
        if "value" not in payload:
            raise errors.bad_request("The request body must carry the property value as {\"value\": …}.")
        app.tenant.update(table.logical_name, record_id, {column.name: decode_value(column, payload["value"])})
        return empty_response(204)
    if request.method == "DELETE":
        if row.get(column.name) is not None:
            app.tenant.update(table.logical_name, record_id, {column.name: None})
        return empty_response(204)
    raise not_allowed(request.method)


def _related(app: MockApp, request: MockRequest, ref: Any, target: str) -> MockResponse:
    """GET of a single-valued navigation: the related record, or 204 when there is none."""
    if not isinstance(ref, Ref) or ref.table != target:
        return empty_response(204)
    target_table = app.tenant.table(target)
    related = app.tenant.require(target, ref.id)
    return json_response(200, entity_body(app.tenant, request, target_table, related), applied(request))


def _ref(app: MockApp, request: MockRequest, table: Table, record_id: str, nav: str) -> MockResponse:
    column, target = table.navigation_properties()[nav]
    row = app.tenant.require(table.logical_name, record_id)
    if request.method == "GET":  # the reference of a single-valued navigation (204 when empty)
        ref = row.get(column.name)
        if not isinstance(ref, Ref) or ref.table != target:
            return empty_response(204)
        related = app.tenant.table(ref.table)
        return json_response(200, {"@odata.context": f"{request.base_url}/$metadata#$ref",
                                   "@odata.id": _entity_id(request, related, ref.id)})
    if request.method == "DELETE":
        app.tenant.update(table.logical_name, record_id, {column.name: None})
        return empty_response(204)
    if request.method == "PUT":
        payload = _body(request)
        bound, ident = parse_entity_reference(app.tenant, payload.get("@odata.id"))
        if bound.logical_name != target:
            raise errors.bad_request(f"The navigation property '{nav}' expects a {target} reference.")
        app.tenant.update(table.logical_name, record_id, {column.name: Ref(target, ident)})
        return empty_response(204)
    raise not_allowed(request.method)


def _collection_ref(app: MockApp, request: MockRequest, table: Table, record_id: str, route: Route) -> MockResponse:
    """Associate (POST) or disassociate (DELETE) a row through a collection-valued navigation."""
    relation = one_to_many(table)[route.name or ""]
    target = app.tenant.table(relation.target)
    app.tenant.require(table.logical_name, record_id)
    if request.method == "POST" and route.args is None:
        bound, child_id = parse_entity_reference(app.tenant, _body(request).get("@odata.id"))
        if bound.logical_name != target.logical_name:
            raise errors.bad_request(f"The navigation property '{relation.name}' holds {target.logical_name} rows.")
        if relation.intersect is not None:
            app.tenant.require(target.logical_name, child_id)
            associate(app.tenant.store, relation.column, record_id, child_id)
            return empty_response(204)
        app.tenant.update(target.logical_name, child_id, {relation.column: Ref(table.logical_name, record_id)})
        return empty_response(204)
    if request.method == "DELETE":
        if route.args is not None:
            child_id = resolve_key(app.tenant, target, route.args)
        elif "$id" in request.query:
            _, child_id = parse_entity_reference(app.tenant, request.query["$id"])
        else:
            raise errors.bad_request("Name the row to disassociate: <navigation>(<id>)/$ref or $ref?$id=<uri>.")
        if relation.intersect is not None:
            disassociate(app.tenant.store, relation.column, record_id, child_id, target.logical_name)
            return empty_response(204)
        child = app.tenant.require(target.logical_name, child_id)
        if child.get(relation.column) != Ref(table.logical_name, record_id):
            raise errors.not_found(target.logical_name, child_id)
        app.tenant.update(target.logical_name, child_id, {relation.column: None})
        return empty_response(204)
    raise not_allowed(request.method)


def _navigation_count(app: MockApp, request: MockRequest, table: Table, record_id: str, nav: str) -> MockResponse:
    """GET ``<record>/<collection nav>/$count``: the number of related rows as ``text/plain`` (capped at 5000)."""
    app.tenant.require(table.logical_name, record_id)
    relation = one_to_many(table)[nav]
    target = app.tenant.table(relation.target)
    where, params = where_clause(app.tenant, target, parse_options(request.query),
                                 parent=(relation.column, Ref(table.logical_name, record_id)))
    out = MockResponse(200, body=str(count_rows(app.tenant, target, where, params)).encode())
    out.headers["Content-Type"] = "text/plain"
    return out


def _navigation_refs(app: MockApp, request: MockRequest, table: Table, record_id: str, nav: str) -> MockResponse:
    """GET ``<record>/<collection nav>/$ref``: ``{"@odata.id": <absolute URL>}`` of every related row.

    ``$filter``, ``$orderby``, ``$top``, ``$count=true`` and paging work as on the navigation
    itself; ``$select``/``$expand`` do not apply to references (400).
    """
    for option in ("$select", "$expand"):
        if option in request.query:
            raise errors.bad_request(f"The query option '{option}' does not apply to a collection of references.")
    app.tenant.require(table.logical_name, record_id)
    relation = one_to_many(table)[nav]
    target = app.tenant.table(relation.target)
    parent = (relation.column, Ref(table.logical_name, record_id))
    listed = collection_response(app.tenant, request, target, parent=parent)
    page = listed.json()
    body: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#Collection($ref)"}
    if "@odata.count" in page:
        body["@odata.count"] = page["@odata.count"]
    body["value"] = [{"@odata.id": _entity_id(request, target, str(row[target.primary_id]))} for row in page["value"]]
    if "@odata.nextLink" in page:
        body["@odata.nextLink"] = page["@odata.nextLink"]
    applied_header = listed.headers.get("Preference-Applied")
    return json_response(200, body, {"Preference-Applied": applied_header} if applied_header else None)
