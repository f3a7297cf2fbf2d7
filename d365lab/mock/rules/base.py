"""The hook interface of table rules and their registry."""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from d365lab.mock.tenant_api import Row, Tenant


class TableRule(Protocol):
    """Hooks around writes to one table. Raise :class:`~d365lab.mock.errors.MockError` to refuse.

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


#: Rules per table logical name; ``"*"`` applies to every table.
RULES: dict[str, list[TableRule]] = defaultdict(list)


def register(table: str, rule: TableRule) -> None:
    """Attach a rule to a table (``"*"`` for all tables)."""
    RULES[table].append(rule)


def rules_for(table: str) -> list[TableRule]:
    """The rules that apply to a table, table-specific after generic."""
    return [*RULES.get("*", []), *RULES.get(table, [])]
