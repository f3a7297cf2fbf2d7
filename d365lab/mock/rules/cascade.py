"""Delete cascades of the Regarding relationships (setting ``delete_cascades_to_activities``).

Activities belong to the record they are regarding: deleting an opportunity deletes its phone
calls, tasks, emails, appointments and its opportunityclose records, as deleting a lead, account or
contact deletes the activities regarding it. Other lookups to a deleted row are only cleared (the tenant does that).
"""

from __future__ import annotations

from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import settings_of
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.activity_tables import TYPED_ACTIVITIES
from d365lab.models.schema import TABLES

#: parent table -> [(activity table, its lookup column to the parent)]
_REGARDING = [(activity, "regardingobjectid") for activity in TYPED_ACTIVITIES]
CASCADES: dict[str, list[tuple[str, str]]] = {
    "opportunity": [*_REGARDING, ("opportunityclose", "opportunityid")],
    "lead": list(_REGARDING),
    "account": list(_REGARDING),
    "contact": list(_REGARDING),
}


class ActivityCascadeRule:
    """Before a parent row is deleted, delete the activities that hang off it."""

    def __init__(self, parent: str) -> None:
        self.parent = parent

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to check on writes."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after writes."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Delete the parent's activities first (same transaction)."""
        if not settings_of(tenant).delete_cascades_to_activities:
            return
        parent_id = row[TABLES[self.parent].primary_id]
        for child_table, column in CASCADES[self.parent]:
            key = TABLES[child_table].primary_id
            for child in tenant.find(child_table, **{column: Ref(self.parent, parent_id)}):
                tenant.delete(child_table, child[key])


for _parent in CASCADES:
    register(_parent, ActivityCascadeRule(_parent))
