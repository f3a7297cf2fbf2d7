"""Computed columns: ``fullname`` of leads, contacts and users.

The service composes ``fullname`` from first and last name ("First Last" in the default
org name format); it is read-only, so it is recomputed on every write.
"""

from __future__ import annotations

from d365lab.mock.rules.base import register
from d365lab.mock.tenant_api import Row, Tenant


def compose_fullname(firstname: object, lastname: object) -> str | None:
    """``"First Last"``, whichever parts are present; None when both are empty."""
    parts = [str(p).strip() for p in (firstname, lastname) if p is not None and str(p).strip()]
    return " ".join(parts) or None


class FullNameRule:
    """Recompute ``fullname`` from ``firstname`` and ``lastname``."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Fill the computed column."""
        new["fullname"] = compose_fullname(new.get("firstname"), new.get("lastname"))

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""


register("lead", FullNameRule())
register("contact", FullNameRule())
register("systemuser", FullNameRule())
