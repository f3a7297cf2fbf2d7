"""Handlers and rules are registered per app, in an explicit order.

Each app owns registries layered over the defaults the decorators fill: a test adds or
overrides a message, a route or a rule for one app, and another app answers as before.
Every handler and rule module must be listed in the explicit import and rule orders.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from d365lab.mock.app import MockApp, create_app, extension_modules, load_extensions
from d365lab.mock.handlers.registry import HANDLER_MODULES, OperationCall, OperationResult
from d365lab.mock.inprocess import ServiceRootSession, route_requests
from d365lab.mock.routing import Route, RouteKind
from d365lab.mock.rules import base
from d365lab.mock.rules.base import RULE_MODULES, RULE_ORDER, RuleRegistry
from d365lab.mock.service_errors import MockError
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.mock.wire import MockRequest, MockResponse, json_response

BASE_URL = "https://registry.d365lab.test"


@contextmanager
def session(app: MockApp) -> Iterator[ServiceRootSession]:
    """A requests session answered in-process by ``app``."""
    with route_requests(app, BASE_URL), ServiceRootSession(BASE_URL, "t") as api:
        yield api


def modules_of(package: str) -> set[str]:
    """Every module file of a package, as dotted names."""
    found = importlib.import_module(package).__path__
    return {f"{package}.{info.name}" for info in pkgutil.iter_modules(found)}


def test_every_handler_and_rule_module_is_listed_in_the_explicit_order() -> None:
    assert modules_of("d365lab.mock.handlers") == set(HANDLER_MODULES), (
        "list new handler modules in d365lab/mock/handlers/registry.py HANDLER_MODULES")
    assert modules_of("d365lab.mock.rules") == set(RULE_MODULES), (
        "list new rule modules in d365lab/mock/rules/base.py RULE_MODULES")
    assert extension_modules() == [*HANDLER_MODULES, *RULE_MODULES]


def test_every_module_that_registers_a_rule_has_a_place_in_the_rule_order() -> None:
    load_extensions()
    registering = {entry.module for entry in base.DEFAULT.entries()}
    assert registering, "no rule registered"
    assert registering <= set(RULE_ORDER), (
        f"add {sorted(registering - set(RULE_ORDER))} to RULE_ORDER in d365lab/mock/rules/base.py")


class Named:
    """A rule that only records that it ran."""

    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        self.log.append(self.name)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


def test_rules_run_in_the_written_order_not_the_registration_order() -> None:
    order = ("m.first", "m.second", "m.third")
    rules = RuleRegistry(order)
    log: list[str] = []
    rules.register("lead", Named(log, "unlisted"), "m.elsewhere")
    rules.register("lead", Named(log, "third"), "m.third")
    rules.register("lead", Named(log, "first"), "m.first")
    rules.register("*", Named(log, "generic"), "m.third")
    rules.register("lead", Named(log, "second"), "m.second")
    rules.register("account", Named(log, "other table"), "m.first")
    assert [r.name for r in rules.rules_for("lead")] == [  # type: ignore[attr-defined]
        "generic", "first", "second", "third", "unlisted"]
    app_rules = rules.for_app()
    app_rules.register("lead", Named(log, "app's own"), "m.first")
    assert [r.name for r in app_rules.rules_for("lead")] == [  # type: ignore[attr-defined]
        "generic", "first", "app's own", "second", "third", "unlisted"]
    assert len(rules.rules_for("lead")) == 5


def echo(tenant: Tenant, call: OperationCall) -> OperationResult:
    """A test-only unbound action answering its parameters."""
    return OperationResult(200, {"echo": call.parameters})


def test_an_action_added_to_one_app_is_not_answered_by_another() -> None:
    first, second = create_app(), create_app()
    try:
        first.handlers.unbound_actions["TestEcho"] = echo
        with session(first) as api:
            answer = api.post("TestEcho", json={"x": 1})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"echo": {"x": 1}}
        with session(second) as api:
            assert api.post("TestEcho", json={"x": 1}).status_code == 404
    finally:
        first.close()
        second.close()


def test_overriding_a_function_and_a_route_for_one_app_leaves_others_alone() -> None:
    first, second = create_app(), create_app()

    def who(tenant: Tenant, call: OperationCall) -> OperationResult:
        return OperationResult(200, {"UserId": "overridden"})

    def accounts_closed(app: MockApp, request: MockRequest, route: Route) -> MockResponse:
        return json_response(200, {"value": [], "overridden": route.kind.value})

    try:
        first.handlers.functions["WhoAmI"] = who
        first.handlers.add_route(RouteKind.COLLECTION, "GET", accounts_closed)
        with session(first) as api:
            assert api.get("WhoAmI()").json() == {"UserId": "overridden"}
            assert api.get("accounts").json()["overridden"] == "collection"
        with session(second) as api:
            assert api.get("WhoAmI()").json()["UserId"] != "overridden"
            listing = api.get("accounts")
            assert listing.status_code == 200 and "overridden" not in listing.json()
    finally:
        first.close()
        second.close()


class NoAccountsNamedX:
    """A test-only rule refusing accounts named X."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        if new.get("name") == "X":
            raise MockError(400, "0x80040203", "no X here")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


def test_a_rule_added_to_one_app_applies_to_that_app_only() -> None:
    first, second = create_app(), create_app()
    try:
        first.rules.register("account", NoAccountsNamedX(), __name__)
        with session(first) as api:
            refused: Any = api.post("accounts", json={"name": "X"})
            assert refused.status_code == 400 and refused.json()["error"]["message"] == "no X here"
            assert api.post("accounts", json={"name": "Y"}).status_code == 204
        with session(second) as api:
            assert api.post("accounts", json={"name": "X"}).status_code == 204
    finally:
        first.close()
        second.close()
