"""Rows and values of the platform tables every tenant has, filled in at each start.

Idempotent, so a tenant file written before these tables existed is completed too:
the organization's audit switches (a new tenant's, from ``MockSettings.audit``).
"""

from __future__ import annotations

from d365lab.mock.tenant import SqliteTenant


def seed_platform(tenant: SqliteTenant) -> None:
    """Complete the platform rows (inside the caller's transaction)."""
    for organization in tenant.iter_rows("organization"):
        if organization.get("isauditenabled") is None:
            tenant.update("organization", organization["organizationid"], {
                "isauditenabled": tenant.settings.audit.enabled_on_new_tenant,
                "isuseraccessauditenabled": False,
                "useraccessauditinginterval": 4,
                "auditretentionperiodv2": 30,
            })
