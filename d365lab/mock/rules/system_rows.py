"""System rows cannot be deleted: the calling user, its business unit and organization, the base
currency, and the Lead-to-Opportunity process with its stages.

Deleting any of them through the API used to answer 204 and break the tenant for good (every
lead create 404 once the process was gone). Dataverse refuses these deletes; the mock answers
400 with a message naming why (the exact codes are UNVERIFIED, see ``docs/mock-tenant.md``).
:func:`d365lab.mock.seed.seed` restores a missing system row when the tenant starts.
"""

from __future__ import annotations

from d365lab.mock import service_errors as errors
from d365lab.mock.rules.base import register
from d365lab.mock.service_errors import MockError
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS

#: The code of a delete the table does not support (UNVERIFIED).
DELETE_NOT_SUPPORTED = "0x80040800"
#: The code of a delete refused because the row is in use by the system (UNVERIFIED).
SYSTEM_ROW = "0x8004f500"
_STAGE_IDS = frozenset(STAGE_IDS.values())


def delete_not_supported(table: str) -> MockError:
    """400: the table has no Delete message (organization)."""
    return errors.bad_request(f"The 'Delete' method does not support entities of type '{table}'.",
                              code=DELETE_NOT_SUPPORTED)


def system_row(message: str) -> MockError:
    """400: the row is one the system needs."""
    return errors.bad_request(message, code=SYSTEM_ROW)


class SystemRowRule:
    """Refuse the delete of a system row of one table."""

    def __init__(self, table: str) -> None:
        self.table = table

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Writes are not restricted here."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """No side effects."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Raise the service's refusal when ``row`` is a system row."""
        if self.table == "organization":
            raise delete_not_supported(self.table)
        if self.table == "systemuser" and row["systemuserid"] == tenant.caller.user_id:
            raise system_row("The calling user cannot be deleted (the mock tenant's only administrator).")
        if self.table == "businessunit" and row["businessunitid"] == tenant.caller.business_unit_id:
            raise system_row("The root business unit cannot be deleted.")
        if self.table == "transactioncurrency" and _is_base_currency(tenant, str(row["transactioncurrencyid"])):
            raise system_row("The base currency of the organization cannot be deleted.")
        if self.table == "workflow" and row["workflowid"] == LEAD_TO_OPPORTUNITY_PROCESS_ID:
            raise system_row("The Lead to Opportunity Sales Process is a system process and cannot be deleted.")
        if self.table == "processstage" and row["processstageid"] in _STAGE_IDS:
            raise system_row("The stages of a system process cannot be deleted.")


def _is_base_currency(tenant: Tenant, currency_id: str) -> bool:
    organization = tenant.get("organization", tenant.caller.organization_id)
    base = organization.get("basecurrencyid") if organization is not None else None
    return isinstance(base, Ref) and base.id == currency_id


for _table in ("organization", "systemuser", "businessunit", "transactioncurrency", "workflow", "processstage"):
    register(_table, SystemRowRule(_table))
