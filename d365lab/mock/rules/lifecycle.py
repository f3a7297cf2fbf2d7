"""Sales lifecycle rules: closing and reopening leads, opportunities and phone calls.

- A plain PATCH of an opportunity to Won/Lost is refused (``opportunity_close_by_patch``)
  with a pointer to WinOpportunity/LoseOpportunity; a plain PATCH of a lead to Qualified
  is refused when ``lead_qualify_by_patch`` is ``"reject"``.
- Reopening an opportunity cancels its completed ``opportunityclose`` activities.
- Field updates on closed records follow ``closed_record_updates``.
- Completing a phone call stamps ``actualend`` when it is empty.
"""

from __future__ import annotations

import d365lab.mock.rules.states  # noqa: F401  (state defaults must run before these rules)
from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import changed_columns, is_blank, is_performing, settings_of, utc_now
from d365lab.mock.service_errors import INVALID_STATE, bad_request
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.enums import ActivityState, ActivityStatus, LeadState, OpportunityState, PhoneCallState

#: Token handlers pass to :func:`~d365lab.mock.rules.common.performing` when they close an opportunity.
CLOSE_OPPORTUNITY = "close_opportunity"
#: Token QualifyLead passes when it qualifies a lead.
QUALIFY_LEAD = "QualifyLead"

_STATE_COLUMNS = {"statecode", "statuscode"}


class _NoHooks:
    """Base with no-op hooks, so each rule writes only the ones it needs."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """No check."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """No side effect."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """No check."""


class ClosedRecordRule(_NoHooks):
    """Refuse field updates on a closed row when ``closed_record_updates`` is ``"reject"``."""

    def __init__(self, logical_name: str) -> None:
        self.logical_name = logical_name

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Reject a field change on a row that stays closed."""
        if old is None or settings_of(tenant).closed_record_updates == "allow":
            return
        if old.get("statecode", 0) == 0 or new.get("statecode") != old.get("statecode"):
            return
        fields = changed_columns(old, new) - _STATE_COLUMNS
        if fields:
            raise bad_request(
                f"This {self.logical_name} is closed (statecode {old['statecode']}) and cannot be edited "
                f"(changed: {', '.join(sorted(fields))}). Reactivate it first.", code=INVALID_STATE)


class OpportunityLifecycleRule(_NoHooks):
    """Won/Lost only through the messages; reopening cancels the close activities."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse a plain write that closes the opportunity."""
        closing = new.get("statecode") in (OpportunityState.WON, OpportunityState.LOST)
        was_open = old is None or old.get("statecode") == OpportunityState.OPEN
        if not (closing and was_open) or is_performing(CLOSE_OPPORTUNITY):
            return
        if settings_of(tenant).opportunity_close_by_patch == "reject":
            message = "WinOpportunity" if new["statecode"] == OpportunityState.WON else "LoseOpportunity"
            raise bad_request(
                f"An opportunity cannot be closed by setting its statecode. Use the {message} action "
                f"(POST /{message} with Status and OpportunityClose) instead.", code=INVALID_STATE)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Cancel the completed opportunityclose activities when the opportunity is reopened."""
        if old is None or old.get("statecode") == OpportunityState.OPEN:
            return
        if new.get("statecode") != OpportunityState.OPEN:
            return
        opportunity = Ref("opportunity", new["opportunityid"])
        for close in tenant.find("opportunityclose", opportunityid=opportunity):
            if close.get("statecode") == ActivityState.COMPLETED:
                tenant.update("opportunityclose", close["activityid"], {
                    "statecode": int(ActivityState.CANCELED), "statuscode": int(ActivityStatus.CANCELED)})


class LeadLifecycleRule(_NoHooks):
    """A plain PATCH to Qualified follows ``lead_qualify_by_patch``."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse a plain qualification when configured to."""
        qualifying = new.get("statecode") == LeadState.QUALIFIED
        was_qualified = old is not None and old.get("statecode") == LeadState.QUALIFIED
        if not qualifying or was_qualified or is_performing(QUALIFY_LEAD):
            return
        if settings_of(tenant).lead_qualify_by_patch == "reject":
            raise bad_request(
                "A lead cannot be qualified by setting its statecode. Use the QualifyLead action "
                "(POST /leads(<id>)/Microsoft.Dynamics.CRM.QualifyLead) instead.", code=INVALID_STATE)


class PhoneCallCompletionRule(_NoHooks):
    """Completing a phone call stamps ``actualend`` when the caller left it empty."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Stamp the completion time."""
        completing = new.get("statecode") == PhoneCallState.COMPLETED
        was_completed = old is not None and old.get("statecode") == PhoneCallState.COMPLETED
        if completing and not was_completed and is_blank(new.get("actualend")):
            new["actualend"] = utc_now()


for _name in ("lead", "opportunity", "phonecall"):
    register(_name, ClosedRecordRule(_name))
register("opportunity", OpportunityLifecycleRule())
register("lead", LeadLifecycleRule())
register("phonecall", PhoneCallCompletionRule())
