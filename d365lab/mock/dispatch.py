"""Route a :class:`~d365lab.mock.wire.MockRequest` to its handler.

Verbs are checked here: a function called with POST or an action with GET is the
service's 404 "No HTTP resource was found…"; PATCH/DELETE on a collection is 405.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from d365lab.mock import errors
from d365lab.mock.audit_metadata import update_entity_definition
from d365lab.mock.handlers import crud, registry
from d365lab.mock.handlers.metadata import find_table, metadata_document, service_document
from d365lab.mock.handlers.metadata import handle as metadata_handle
from d365lab.mock.handlers.registry import OperationCall, OperationResult
from d365lab.mock.routing import Route, RouteKind, bound_handler, function_parameters, parse_route
from d365lab.mock.wire import MockRequest, MockResponse, empty_response, json_response, no_resource

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp


def dispatch(app: MockApp, request: MockRequest) -> MockResponse:
    """Answer a request (inside the transaction :meth:`MockApp.handle` opened)."""
    if request.path.startswith("\x00"):
        raise errors.unknown_segment(request.path[1:])
    route = parse_route(request.path)
    method = request.method
    kind = route.kind
    if kind is RouteKind.BATCH:
        return _batch(app, request)
    if kind is RouteKind.SERVICE_ROOT:
        return _require(method, "GET", request) or service_document(request)
    if kind is RouteKind.METADATA_DOCUMENT:
        return _require(method, "GET", request) or metadata_document(request)
    if kind is RouteKind.ENTITY_DEFINITIONS:
        if method == "PUT" and route.name == "EntityDefinitions" and route.args and not route.segments:
            return update_entity_definition(app.tenant, request, find_table(route.args))
        return _require(method, "GET", request) or metadata_handle(app.tenant, request, route)
    if kind is RouteKind.FUNCTION:
        if method != "GET":
            raise no_resource(request)
        params = function_parameters(route.args, request.query)
        return _operation(app, request, registry.FUNCTIONS[route.name or ""], route, params)
    if kind is RouteKind.UNBOUND_ACTION:
        if method != "POST":
            raise no_resource(request)
        return _operation(app, request, registry.UNBOUND_ACTIONS[route.name or ""], route, _action_body(request))
    if kind is RouteKind.BOUND_ACTION:
        assert route.table is not None
        is_function = (route.table.logical_name, route.name) in registry.BOUND_FUNCTIONS
        if method != ("GET" if is_function else "POST"):
            raise no_resource(request)
        handler = bound_handler(route.table, route.name or "")
        return _operation(app, request, handler, route, _action_body(request))
    custom = registry.TABLE_HANDLERS.get(route.table.logical_name) if route.table is not None else None
    if custom is not None:
        response: MockResponse = custom(app, request, route)
        return response
    return crud.handle(app, request, route)


def _require(method: str, expected: str, request: MockRequest) -> MockResponse | None:
    if method != expected:
        raise no_resource(request)
    return None


def _action_body(request: MockRequest) -> dict[str, Any]:
    body = request.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.bad_request("The action parameters must be a JSON object.")
    return body


def _operation(app: MockApp, request: MockRequest, handler: registry.Handler, route: Route,
               params: dict[str, Any]) -> MockResponse:
    bound_id: str | None = None
    if route.table is not None and route.key is not None:
        from d365lab.mock.codec import resolve_key

        bound_id = resolve_key(app.tenant, route.table, route.key)
        app.tenant.require(route.table.logical_name, bound_id)
    call = OperationCall(
        name=route.name or "", parameters=params, base_url=request.base_url,
        bound_table=route.table.logical_name if route.table is not None else None, bound_id=bound_id,
        headers=dict(request.headers.items()),
    )
    with app.tenant.transaction():
        result: OperationResult = handler(app.tenant, call)
    if result.body is None:
        return empty_response(result.status, result.headers)
    return json_response(result.status, result.body, result.headers)


def _batch(app: MockApp, request: MockRequest) -> MockResponse:
    if request.method != "POST":
        raise no_resource(request)
    if importlib.util.find_spec("d365lab.mock.handlers.batch") is None:
        raise errors.unknown_segment("$batch")
    module = importlib.import_module("d365lab.mock.handlers.batch")
    response: MockResponse = module.handle_batch(app, request)
    return response
