"""Registry of actions and functions the mock answers.

A handler gets the tenant and an :class:`OperationCall` and returns an
:class:`OperationResult`; it raises :class:`~d365lab.mock.errors.MockError` to fail.
The app looks handlers up by name (and, for bound operations, by table) and runs each
call inside a tenant transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.schema import TYPE_NAMESPACE


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

#: (table logical name or "*" for any table, operation name) -> handler
BOUND_ACTIONS: dict[tuple[str, str], Handler] = {}
UNBOUND_ACTIONS: dict[str, Handler] = {}
FUNCTIONS: dict[str, Handler] = {}
#: Bound operations of BOUND_ACTIONS that are functions (called with GET).
BOUND_FUNCTIONS: set[tuple[str, str]] = set()
#: table logical name -> handler answering its entity-set routes instead of the generic CRUD
#: (``handler(app, request, route) -> MockResponse``), e.g. the read-only ``audits``.
TABLE_HANDLERS: dict[str, Callable[..., Any]] = {}


def bound_action(table: str, name: str) -> Callable[[Handler], Handler]:
    """Register a bound action, e.g. ``@bound_action("lead", "QualifyLead")``."""
    def deco(fn: Handler) -> Handler:
        BOUND_ACTIONS[(table, name)] = fn
        return fn
    return deco


def unbound_action(name: str) -> Callable[[Handler], Handler]:
    """Register an unbound action, e.g. ``@unbound_action("WinOpportunity")``."""
    def deco(fn: Handler) -> Handler:
        UNBOUND_ACTIONS[name] = fn
        return fn
    return deco


def bound_function(table: str, name: str) -> Callable[[Handler], Handler]:
    """Register a bound function, e.g. ``@bound_function("audit", "RetrieveAuditDetails")`` (GET)."""
    def deco(fn: Handler) -> Handler:
        BOUND_ACTIONS[(table, name)] = fn
        BOUND_FUNCTIONS.add((table, name))
        return fn
    return deco


def table_handler(table: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the handler of a table's entity-set routes (see :data:`TABLE_HANDLERS`)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        TABLE_HANDLERS[table] = fn
        return fn
    return deco


def function(name: str) -> Callable[[Handler], Handler]:
    """Register an unbound function, e.g. ``@function("WhoAmI")``."""
    def deco(fn: Handler) -> Handler:
        FUNCTIONS[name] = fn
        return fn
    return deco


def storage_row_to_ref_body(row: Row, primary_id: str, logical_name: str) -> dict[str, Any]:
    """A ``crmbaseentity`` item: ``@odata.type`` and the primary key."""
    return {"@odata.type": f"#{TYPE_NAMESPACE}.{logical_name}", primary_id: row[primary_id]}
