"""Rules of the platform tables: read-only ``timezonedefinitions``, update-only ``usersettings``.

A new system user gets its ``usersettings`` row (system users cannot be deleted). An update of
``timezonecode`` must name a time zone of the tenant, and refreshes the derived bias columns.
"""

from __future__ import annotations

from d365lab.mock.rules.audit import read_only
from d365lab.mock.rules.base import register
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.mock.user_settings import create_user_settings, derive_biases, is_platform_writing


class ReadOnlyTable:
    """Only the platform writes rows of this table."""

    def __init__(self, logical_name: str, updatable: bool = False) -> None:
        self.logical_name = logical_name
        self.updatable = updatable

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse creates (and updates unless ``updatable``) from callers."""
        if is_platform_writing():
            return
        if old is None or not self.updatable:
            raise read_only(self.logical_name, "Create" if old is None else "Update")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Refuse deletes from callers."""
        if not is_platform_writing():
            raise read_only(self.logical_name, "Delete")


class UserSettingsValues:
    """``timezonecode`` names a known zone; the bias columns follow it."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Validate the zone and derive the biases."""
        derive_biases(new)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing to check."""


class UserGetsSettings:
    """A system user has exactly one ``usersettings`` row, created with it."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to check."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """A new user gets its settings."""
        if old is None:
            create_user_settings(tenant, new["systemuserid"])

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing: system users cannot be deleted (``rules/system_rows.py``)."""


register("timezonedefinition", ReadOnlyTable("timezonedefinition"))
register("usersettings", ReadOnlyTable("usersettings", updatable=True))
register("usersettings", UserSettingsValues())
register("systemuser", UserGetsSettings())
