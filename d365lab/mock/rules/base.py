"""The hook interface of table rules and their registry.

Rules are registered per app: :func:`register` fills :data:`DEFAULT`, each app's tenant
holds a :class:`RuleRegistry` layered over it, and the order rules run in is written down
(:data:`RULE_ORDER`), not the order modules happen to be imported in.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from typing import Protocol

from d365lab.mock.tenant_api import Row, Tenant


class TableRule(Protocol):
    """Hooks around writes to one table. Raise :class:`~d365lab.mock.service_errors.MockError` to refuse.

    ``before_write`` may modify ``new`` (the full row about to be stored, already merged
    with ``old`` on update) to fill defaults or computed columns. ``old`` is None on create.
    """

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Validate and complete a row before it is stored."""
        ...

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Side effects after the row is stored (same transaction)."""
        ...

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Validate or cascade before a row is deleted (same transaction)."""
        ...


#: Every module of ``d365lab.mock.rules``, in the order the app imports them. A test fails
#: when a module is missing here.
RULE_MODULES: tuple[str, ...] = tuple(f"d365lab.mock.rules.{name}" for name in (
    "base", "common", "states", "lifecycle", "audit", "process_flow", "cascade", "computed",
    "money_base", "platform_tables", "system_rows", "activities",
))
#: The order rules run in, by the module that registered them (registration order within a
#: module). Written down from the order the mock always ran them in; a rule registered by a
#: module not listed here runs after the listed ones (a test fails on such a module).
RULE_ORDER: tuple[str, ...] = (
    "d365lab.mock.rules.states",
    "d365lab.mock.rules.lifecycle",
    "d365lab.mock.handlers.change_tracking",
    "d365lab.mock.rules.audit",
    "d365lab.mock.rules.process_flow",
    "d365lab.mock.rules.cascade",
    "d365lab.mock.rules.computed",
    "d365lab.mock.rules.money_base",
    "d365lab.mock.rules.platform_tables",
    "d365lab.mock.rules.system_rows",
    "d365lab.mock.rules.activities",
)
_SEQUENCE = itertools.count()


@dataclass(frozen=True)
class RuleEntry:
    """One registration: the table (``"*"`` for all), the rule and the module that registered it."""

    table: str
    rule: TableRule
    module: str
    sequence: int


class RuleRegistry:
    """The table rules of one app, in :data:`RULE_ORDER`.

    :data:`DEFAULT` is filled by :func:`register` at import; each app owns
    ``DEFAULT.for_app()``: rules added there apply to that app only, rules added to
    :data:`DEFAULT` later still apply to every app.
    """

    def __init__(self, order: tuple[str, ...] = RULE_ORDER, parent: RuleRegistry | None = None) -> None:
        self.order = order
        self.parent = parent
        self._entries: list[RuleEntry] = []
        self._version = 0
        self._cache: dict[str, list[TableRule]] = {}
        self._cached_at: tuple[int, ...] = ()

    def for_app(self) -> RuleRegistry:
        """A registry for one app: empty itself, reading through to this one."""
        return RuleRegistry(self.order, self)

    def register(self, table: str, rule: TableRule, module: str) -> None:
        """Attach a rule to a table (``"*"`` for all tables), ordered by its ``module``."""
        self._entries.append(RuleEntry(table, rule, module, next(_SEQUENCE)))
        self._version += 1

    def entries(self) -> list[RuleEntry]:
        """Every registration, this registry's and its parents', in registration order."""
        inherited = self.parent.entries() if self.parent is not None else []
        return [*inherited, *self._entries]

    def rules_for(self, table: str) -> list[TableRule]:
        """The rules that apply to a table: generic (``"*"``) first, then in :attr:`order`."""
        stamp = self._versions()
        if stamp != self._cached_at:
            self._cache.clear()
            self._cached_at = stamp
        found = self._cache.get(table)
        if found is None:
            rank = {module: index for index, module in enumerate(self.order)}
            chosen = [e for e in self.entries() if e.table in ("*", table)]
            chosen.sort(key=lambda e: (e.table != "*", rank.get(e.module, len(rank)), e.sequence))
            found = self._cache[table] = [e.rule for e in chosen]
        return found

    def _versions(self) -> tuple[int, ...]:
        own = (self._version,)
        return own if self.parent is None else (*self.parent._versions(), *own)


#: The registry :func:`register` fills; every app reads through to it.
DEFAULT = RuleRegistry()


def register(table: str, rule: TableRule) -> None:
    """Attach a rule to a table (``"*"`` for all tables) in :data:`DEFAULT`, ordered by the calling module."""
    DEFAULT.register(table, rule, sys._getframe(1).f_globals.get("__name__", ""))


def rules_for(table: str) -> list[TableRule]:
    """The rules of :data:`DEFAULT` that apply to a table, generic first."""
    return DEFAULT.rules_for(table)
