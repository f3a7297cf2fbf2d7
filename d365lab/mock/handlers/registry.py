"""Registry of actions and functions the mock answers.

A handler gets the tenant and an :class:`OperationCall` and returns an
:class:`OperationResult`; it raises :class:`~d365lab.mock.service_errors.MockError` to fail.
The app looks handlers up by name (and, for bound operations, by table) and runs each
call inside a tenant transaction.

Handlers are registered per app: the decorators fill :data:`DEFAULT`, and each app owns a
:class:`HandlerRegistry` layered over it (``app.handlers``), which also holds the dispatch
table keyed on route kind and HTTP method.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.schema import TYPE_NAMESPACE

if TYPE_CHECKING:
    from d365lab.mock.app import MockApp
    from d365lab.mock.routing import Route
    from d365lab.mock.wire import MockRequest, MockResponse


@dataclass
class OperationCall:
    """One action or function invocation.

    ``bound_table``/``bound_id`` are set for bound operations (``/leads(<id>)/Microsoft.Dynamics.CRM.X``
    gives ``("lead", "<id>")``; a collection-bound one such as CreateMultiple gives
    ``("lead", None)``). ``parameters`` is the parsed JSON body (actions) or the
    function's parameters with aliases resolved (functions). ``base_url`` is the
    service root ending in ``/api/data/v9.2``.
    """

    name: str
    parameters: dict[str, Any]
    base_url: str
    bound_table: str | None = None
    bound_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response_context(self, message: str) -> str:
        """The ``@odata.context`` of a message's complex-type answer (``…/$metadata#….WhoAmIResponse``)."""
        return f"{self.base_url}/$metadata#{TYPE_NAMESPACE}.{message}Response"


@dataclass
class OperationResult:
    """What to answer: status, JSON body (None for 204) and extra headers."""

    status: int = 204
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Tenant, OperationCall], OperationResult]
#: The one signature of everything the dispatch table reaches: ``handler(app, request, route)``.
#: Messages (actions and functions) are :data:`Handler` values behind the one route handler
#: of their route kind, which builds the :class:`OperationCall` and runs them.
RouteHandler = Callable[["MockApp", "MockRequest", "Route"], "MockResponse"]

#: Every module of ``d365lab.mock.handlers``, in the order the app imports them (explicit,
#: not the file system's alphabetical order). A test fails when a module is missing here.
HANDLER_MODULES: tuple[str, ...] = tuple(f"d365lab.mock.handlers.{name}" for name in (
    "registry", "crud", "change_tracking", "metadata", "relationship_metadata", "batch",
    "functions", "org_functions", "timezone_functions", "process_functions", "sales_params",
    "bulk", "qualify_lead", "close_opportunity", "audit_functions", "publish",
))
#: Method key of a route-table entry answering every method not listed for its route kind.
ANY_METHOD = "*"


_K = TypeVar("_K")
_V = TypeVar("_V")


def _layer(inherited: MutableMapping[_K, _V] | None) -> MutableMapping[_K, _V]:
    """A new mapping, reading through to ``inherited`` (writes stay in the new one)."""
    return {} if inherited is None else ChainMap({}, inherited)


class HandlerRegistry:
    """The handlers one app answers with: messages, per-table handlers and the route table.

    :data:`DEFAULT` is filled at import by the decorators below; each :class:`MockApp`
    owns ``DEFAULT.for_app()``, a layer over it: what a test adds to ``app.handlers`` (or
    overrides there) concerns that app only, while handlers registered on :data:`DEFAULT`
    later are still seen by every app.
    """

    def __init__(self, parent: HandlerRegistry | None = None) -> None:
        self.parent = parent

        p = parent
        #: (table logical name or "*" for any table, operation name) -> handler
        self.bound_actions: MutableMapping[tuple[str, str], Handler] = _layer(p.bound_actions if p else None)
        #: Keys of :attr:`bound_actions` that are functions (called with GET).
        self.bound_functions: MutableMapping[tuple[str, str], bool] = _layer(p.bound_functions if p else None)
        self.unbound_actions: MutableMapping[str, Handler] = _layer(p.unbound_actions if p else None)
        self.functions: MutableMapping[str, Handler] = _layer(p.functions if p else None)
        #: table logical name -> handler answering its entity-set routes instead of the generic CRUD
        #: (e.g. the read-only ``audits``).
        self.table_handlers: MutableMapping[str, RouteHandler] = _layer(p.table_handlers if p else None)
        #: (route kind, HTTP method or :data:`ANY_METHOD`) -> route handler
        self.routes: MutableMapping[tuple[str, str], RouteHandler] = _layer(p.routes if p else None)

    def for_app(self) -> HandlerRegistry:
        """A registry for one app: empty itself, reading through to this one."""
        return HandlerRegistry(self)

    def add_route(self, kind: str, method: str, handler: RouteHandler) -> None:
        """Answer ``method`` (or :data:`ANY_METHOD`) on routes of ``kind`` with ``handler``."""
        self.routes[(kind, method)] = handler

    def route_handler(self, kind: str, method: str) -> RouteHandler | None:
        """The handler of a route kind and method (the kind's :data:`ANY_METHOD` entry otherwise)."""
        return self.routes.get((kind, method)) or self.routes.get((kind, ANY_METHOD))

    def bound(self, table: str, name: str) -> Handler | None:
        """The handler of a bound operation (table-specific before ``"*"``), None when unknown."""
        return self.bound_actions.get((table, name)) or self.bound_actions.get(("*", name))

    def is_bound_function(self, table: str, name: str) -> bool:
        """Whether a bound operation is a function (GET) rather than an action (POST)."""
        return (table, name) in self.bound_functions


#: The registry the decorators fill; every app reads through to it.
DEFAULT = HandlerRegistry()
# The module-level names of before the registry object (still filled, read and written alike).
BOUND_ACTIONS = DEFAULT.bound_actions
BOUND_FUNCTIONS = DEFAULT.bound_functions
UNBOUND_ACTIONS = DEFAULT.unbound_actions
FUNCTIONS = DEFAULT.functions
TABLE_HANDLERS = DEFAULT.table_handlers


def bound_action(table: str, name: str) -> Callable[[Handler], Handler]:
    """Register a bound action, e.g. ``@bound_action("lead", "QualifyLead")``."""
    def deco(fn: Handler) -> Handler:
        DEFAULT.bound_actions[(table, name)] = fn
        return fn
    return deco


def unbound_action(name: str) -> Callable[[Handler], Handler]:
    """Register an unbound action, e.g. ``@unbound_action("WinOpportunity")``."""
    def deco(fn: Handler) -> Handler:
        DEFAULT.unbound_actions[name] = fn
        return fn
    return deco


def bound_function(table: str, name: str) -> Callable[[Handler], Handler]:
    """Register a bound function, e.g. ``@bound_function("audit", "RetrieveAuditDetails")`` (GET)."""
    def deco(fn: Handler) -> Handler:
        DEFAULT.bound_actions[(table, name)] = fn
        DEFAULT.bound_functions[(table, name)] = True
        return fn
    return deco


def table_handler(table: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the handler of a table's entity-set routes (``handler(app, request, route)``)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        DEFAULT.table_handlers[table] = fn
        return fn
    return deco


def route(kind: str, *methods: str) -> Callable[[RouteHandler], RouteHandler]:
    """Register a route handler of :data:`DEFAULT`, e.g. ``@route(RouteKind.COLLECTION, "POST")``."""
    def deco(fn: RouteHandler) -> RouteHandler:
        for method in methods:
            DEFAULT.add_route(kind, method, fn)
        return fn
    return deco


def function(name: str) -> Callable[[Handler], Handler]:
    """Register an unbound function, e.g. ``@function("WhoAmI")``."""
    def deco(fn: Handler) -> Handler:
        DEFAULT.functions[name] = fn
        return fn
    return deco


def storage_row_to_ref_body(row: Row, primary_id: str, logical_name: str) -> dict[str, Any]:
    """A ``crmbaseentity`` item: ``@odata.type`` and the primary key."""
    return {"@odata.type": f"#{TYPE_NAMESPACE}.{logical_name}", primary_id: row[primary_id]}
