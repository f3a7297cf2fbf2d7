"""Every write of every table passes here: the audit row of the change (see :mod:`d365lab.mock.audit`).

Registered for ``"*"``, so the tenant calls it for creates, updates and deletes whatever
handler caused them, inside the write's transaction: a write that fails leaves no audit
row, and an audit row never outlives its write. The ``audit`` table itself is read-only.
"""

from __future__ import annotations

from d365lab.mock import audit
from d365lab.mock import service_errors as errors
from d365lab.mock.audit_metadata import require_customizer
from d365lab.mock.rules.base import register
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.schema import TABLES


def read_only(logical_name: str, verb: str) -> errors.MockError:
    """400 for a write to a read-only platform table, worded as the service words it."""
    return errors.bad_request(f"The '{verb}' method does not support entities of type '{logical_name}'.",
                              code="0x80040800")


class AuditRule:
    """Writes the audit row of each create, update and delete of an audited table."""

    def __init__(self, logical_name: str | None = None) -> None:
        self.logical_name = logical_name

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to check."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Audit a create (``old`` None) or an update."""
        table = TABLES.get(str(self.logical_name)) if self.logical_name else None
        if table is None:
            return
        audit.record(tenant, table, old, new)

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Audit a delete (the row as it was)."""
        table = TABLES.get(str(self.logical_name)) if self.logical_name else None
        if table is not None:
            audit.record(tenant, table, row, None)


class AuditTableIsReadOnly:
    """``audits`` cannot be created, updated or deleted through the API."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse every write."""
        raise read_only("audit", "Create" if old is None else "Update")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Never reached."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Refuse every delete."""
        raise read_only("audit", "Delete")


#: The organization columns that configure auditing (changing them needs a customizer role).
AUDIT_SETTING_COLUMNS = ("isauditenabled", "isuseraccessauditenabled", "useraccessauditinginterval",
                         "auditretentionperiodv2", "auditsettings")


class AuditSettingsNeedCustomizer:
    """A PATCH of the organization's audit columns by a user who may not change them: 403."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse a change of an audit setting (``MockSettings.audit.caller_can_customize``)."""
        if old is None or old.get("isauditenabled") is None or tenant.settings.audit.caller_can_customize:
            return  # a new row, or the platform's own first values (platform_seed)
        if any(old.get(c) != new.get(c) for c in AUDIT_SETTING_COLUMNS if c in new):
            require_customizer(tenant, "prvWriteOrganization", "organization")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to do."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing to check."""


def _register_all() -> None:
    for name in TABLES:
        if name not in audit.NOT_AUDITABLE:
            register(name, AuditRule(name))
    register("audit", AuditTableIsReadOnly())
    register("organization", AuditSettingsNeedCustomizer())


_register_all()
