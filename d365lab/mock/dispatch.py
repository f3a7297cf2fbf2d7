"""Route a :class:`~d365lab.mock.wire.MockRequest` to its handler.

Dispatch is a table lookup: the app's :class:`~d365lab.mock.handlers.registry.HandlerRegistry`
maps (route kind, HTTP method) to a route handler ``handler(app, request, route)``; the
kind's ``"*"`` entry answers the other methods. Verbs are checked by those entries: a
function called with POST or an action with GET is the service's 404 "No HTTP resource
was found…"; PATCH/DELETE on a collection is 405. A table with its own handler (``audits``)
answers its entity-set routes instead of the generic CRUD of :mod:`.handlers.crud`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from d365lab.mock import service_errors as errors
from d365lab.mock.audit_metadata import update_entity_definition
from d365lab.mock.codec import resolve_key
from d365lab.mock.handlers import (
    crud,  # noqa: F401  (registers the generic CRUD routes)
    registry,
)
from d365lab.mock.handlers.metadata import find_table, metadata_document, service_document, update_attribute
from d365lab.mock.handlers.metadata import handle as metadata_handle
from d365lab.mock.handlers.registry import ANY_METHOD, OperationCall, OperationResult, route
from d365lab.mock.routing import Route, RouteKind, bound_handler, function_parameters, parse_route
from d365lab.mock.wire import MockRequest, MockResponse, empty_response, json_response, no_resource

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp

#: Route kinds addressing a table's entity set, its records and their properties: a table
#: handler (:func:`~d365lab.mock.handlers.registry.table_handler`) answers them for its table.
ENTITY_SET_KINDS = frozenset({
    RouteKind.COLLECTION, RouteKind.COUNT, RouteKind.ENTITY, RouteKind.PROPERTY, RouteKind.REF,
    RouteKind.NAVIGATION_COLLECTION, RouteKind.NAVIGATION_COUNT, RouteKind.COLLECTION_REF,
})


def dispatch(app: MockApp, request: MockRequest) -> MockResponse:
    """Answer a request (inside the transaction :meth:`MockApp.handle` opened)."""
    if request.path.startswith("\x00"):
        raise errors.unknown_segment(request.path[1:])
    handlers = app.handlers
    route_ = parse_route(request.path, handlers)
    if route_.kind in ENTITY_SET_KINDS and route_.table is not None:
        custom = handlers.table_handlers.get(route_.table.logical_name)
        if custom is not None:
            return custom(app, request, route_)
    handler = handlers.route_handler(route_.kind, request.method)
    if handler is None:
        raise no_resource(request)
    return handler(app, request, route_)


def _no_resource(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    """Any method a route kind does not answer: the service's 404."""
    raise no_resource(request)


for _kind in (RouteKind.SERVICE_ROOT, RouteKind.METADATA_DOCUMENT, RouteKind.ENTITY_DEFINITIONS, RouteKind.BATCH,
              RouteKind.FUNCTION, RouteKind.UNBOUND_ACTION):
    registry.DEFAULT.add_route(_kind, ANY_METHOD, _no_resource)


@route(RouteKind.SERVICE_ROOT, "GET")
def _service_document(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    return service_document(request)


@route(RouteKind.METADATA_DOCUMENT, "GET")
def _metadata_document(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    return metadata_document(request)


@route(RouteKind.ENTITY_DEFINITIONS, "GET")
def _metadata(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    return metadata_handle(app.tenant, request, route_)


@route(RouteKind.ENTITY_DEFINITIONS, "PUT")
def _update_metadata(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    if route_.name == "EntityDefinitions" and route_.args and not route_.segments:
        return update_entity_definition(app.tenant, request, find_table(route_.args))
    if route_.name == "EntityDefinitions" and route_.args and route_.segments:
        return update_attribute(app.tenant, request, find_table(route_.args), route_.segments)
    raise no_resource(request)


@route(RouteKind.FUNCTION, "GET")
def _function(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    params = function_parameters(route_.args, request.query)
    return _operation(app, request, app.handlers.functions[route_.name or ""], route_, params)


@route(RouteKind.UNBOUND_ACTION, "POST")
def _unbound_action(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    handler = app.handlers.unbound_actions[route_.name or ""]
    return _operation(app, request, handler, route_, _action_body(request))


@route(RouteKind.BOUND_ACTION, ANY_METHOD)
def _bound_operation(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    """A bound action (POST) or bound function (GET)."""
    assert route_.table is not None
    name = route_.name or ""
    is_function = app.handlers.is_bound_function(route_.table.logical_name, name)
    if request.method != ("GET" if is_function else "POST"):
        raise no_resource(request)
    handler = bound_handler(route_.table, name, app.handlers)
    return _operation(app, request, handler, route_, _action_body(request))


def _action_body(request: MockRequest) -> dict[str, Any]:
    body = request.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.bad_request("The action parameters must be a JSON object.")
    return body


def _operation(app: MockApp, request: MockRequest, handler: registry.Handler, route_: Route,
               params: dict[str, Any]) -> MockResponse:
    bound_id: str | None = None
    if route_.table is not None and route_.key is not None:
        bound_id = resolve_key(app.tenant, route_.table, route_.key)
        app.tenant.require(route_.table.logical_name, bound_id)
    call = OperationCall(
        name=route_.name or "", parameters=params, base_url=request.base_url,
        bound_table=route_.table.logical_name if route_.table is not None else None, bound_id=bound_id,
        headers=dict(request.headers.items()),
    )
    with app.tenant.transaction():
        result: OperationResult = handler(app.tenant, call)
    if result.body is None:
        return empty_response(result.status, result.headers)
    return json_response(result.status, result.body, result.headers)


@route(RouteKind.BATCH, "POST")
def _batch(app: MockApp, request: MockRequest, route_: Route) -> MockResponse:
    if importlib.util.find_spec("d365lab.mock.handlers.batch") is None:
        raise errors.unknown_segment("$batch")
    module = importlib.import_module("d365lab.mock.handlers.batch")
    response: MockResponse = module.handle_batch(app, request)
    return response
