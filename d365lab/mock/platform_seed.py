"""Rows and values of the platform tables every tenant has, filled in at each start.

Idempotent, so a tenant file written before these tables existed is completed too:
the organization's audit switches (a new tenant's, from ``MockSettings.audit``), the
``timezonedefinitions`` of :mod:`d365lab.mock.timezones`, one ``usersettings`` row per
system user, and the mock user's zone when ``MockSettings.time_zones.user_timezone`` is set.
"""

from __future__ import annotations

from d365lab.mock import audit
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.user_settings import seed_user_settings


def seed_platform(tenant: SqliteTenant, *, fresh: bool = False) -> None:
    """Complete the platform rows (inside the caller's transaction).

    ``fresh``: the tenant was just seeded (new, or emptied by ``mock reset``): table-level
    audit flags go back to the settings' defaults.
    """
    if fresh:
        audit.reset_table_flags(tenant.store)
    for organization in tenant.iter_rows("organization"):
        if organization.get("isauditenabled") is None:
            tenant.update("organization", organization["organizationid"], {
                "isauditenabled": tenant.settings.audit.enabled_on_new_tenant,
                "isuseraccessauditenabled": False,
                "useraccessauditinginterval": 4,
                "auditretentionperiodv2": 30,
            })
    seed_user_settings(tenant)
