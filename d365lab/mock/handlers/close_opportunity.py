"""WinOpportunity and LoseOpportunity (unbound): close an opportunity with an opportunityclose activity.

``POST /WinOpportunity`` (or ``/LoseOpportunity``) with ``Status`` (Won: 3; Lost: 4 or 5)
and ``OpportunityClose`` (``opportunityid@odata.bind`` plus optional ``subject``,
``actualrevenue``, ``actualend``, ``description``, ``competitorid@odata.bind``). The
opportunity is closed, ``actualvalue``/``actualclosedate``/``msdyn_forecastcategory`` set,
and a Completed ``opportunityclose`` created; answers 204.
"""

from __future__ import annotations

from typing import Any

from d365lab.mock.handlers.registry import OperationCall, OperationResult, unbound_action
from d365lab.mock.handlers.sales_params import parse_bind, required_int
from d365lab.mock.rules.common import performing, settings_of, utc_today
from d365lab.mock.rules.lifecycle import CLOSE_OPPORTUNITY
from d365lab.mock.rules.process_flow import FLOW_KEY, FLOW_TABLE
from d365lab.mock.rules.states import invalid_status
from d365lab.mock.service_errors import OPPORTUNITY_CLOSED, MockError, bad_request
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.enums import (
    OPPORTUNITY_STATES,
    ActivityState,
    ActivityStatus,
    ForecastCategory,
    OpportunityState,
    ProcessFlowState,
    ProcessFlowStatus,
)
from d365lab.models.schema import TABLES

OPPORTUNITY_CLOSED_MESSAGE = "The opportunity is already closed."
_BIND_KEY = "opportunityid@odata.bind"


@unbound_action("WinOpportunity")
def win_opportunity(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Close the opportunity as Won."""
    return _close(tenant, call, OpportunityState.WON)


@unbound_action("LoseOpportunity")
def lose_opportunity(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Close the opportunity as Lost (Canceled or Out-Sold)."""
    return _close(tenant, call, OpportunityState.LOST)


def _opportunity_id(close: dict[str, Any]) -> str:
    if _BIND_KEY not in close:
        raise bad_request(
            "OpportunityClose must bind the opportunity: \"opportunityid@odata.bind\": \"/opportunities(<id>)\".")
    found = parse_bind(close[_BIND_KEY], "opportunities")
    if found is None:
        raise bad_request(
            f"opportunityid@odata.bind must point to an opportunity (/opportunities(<id>)); got {close[_BIND_KEY]!r}.")
    return found


def _decode_close(tenant: Tenant, close: dict[str, Any]) -> Row:
    # Imported here: the codec belongs to the app layer, which imports the handlers.
    from d365lab.mock.codec import decode_body

    body = {key: value for key, value in close.items() if key != "@odata.type"}
    return decode_body(tenant, "opportunityclose", body, for_create=True)


def _same_currency(opportunity: Row, close: Row) -> None:
    """The close record is in the opportunity's currency: taken when not sent, 400 when another.

    Its ``actualrevenue`` becomes the opportunity's ``actualvalue``, so both amounts (and their
    ``*_base`` values) must be in one currency. The facts sheet lists the mismatch among the
    service's errors; its wording and code are UNVERIFIED.
    """
    currency = opportunity.get("transactioncurrencyid")
    sent = close.get("transactioncurrencyid")
    if sent is None:
        if isinstance(currency, Ref):
            close["transactioncurrencyid"] = currency
    elif isinstance(currency, Ref) and sent != currency:
        raise bad_request("The currency of the opportunity close must be the currency of the opportunity.")


def _close(tenant: Tenant, call: OperationCall, target: OpportunityState) -> OperationResult:
    status = required_int(call.parameters, "Status")
    close = call.parameters.get("OpportunityClose")
    if not isinstance(close, dict):
        raise bad_request("The parameter 'OpportunityClose' is required: an opportunityclose object.")
    opportunity_id = _opportunity_id(close)
    opportunity = tenant.require("opportunity", opportunity_id)
    if opportunity.get("statecode") != OpportunityState.OPEN:
        raise MockError(400, OPPORTUNITY_CLOSED, OPPORTUNITY_CLOSED_MESSAGE)
    if not OPPORTUNITY_STATES.is_valid(target, status):
        raise invalid_status(OPPORTUNITY_STATES, TABLES["opportunity"], opportunity, int(target), status)
    values = _decode_close(tenant, close)
    _same_currency(opportunity, values)
    revenue = values.get("actualrevenue")
    if revenue is None and target == OpportunityState.WON:
        revenue = opportunity.get("estimatedvalue")
    # None only: a value of the wrong type ("", 0, false) is refused when written, not taken for "today"
    close_date = values["actualend"] if values.get("actualend") is not None else utc_today()
    changes: Row = {
        "statecode": int(target),
        "statuscode": status,
        "actualclosedate": close_date,
        "msdyn_forecastcategory": int(ForecastCategory.WON if target == OpportunityState.WON
                                      else ForecastCategory.LOST),
    }
    if revenue is not None:
        changes["actualvalue"] = revenue
    with tenant.transaction(), performing(CLOSE_OPPORTUNITY):
        tenant.update("opportunity", opportunity_id, changes)
        values.pop("statecode", None)
        values.pop("statuscode", None)
        values.setdefault("subject", f"Opportunity Close - {opportunity.get('name') or opportunity_id}")
        values["actualend"] = close_date
        if revenue is not None:
            values.setdefault("actualrevenue", revenue)
        values["opportunityid"] = Ref("opportunity", opportunity_id)
        created = tenant.create("opportunityclose", values)
        # Created open, then completed: activities do not take statecode on create.
        tenant.update("opportunityclose", created["activityid"], {
            "statecode": int(ActivityState.COMPLETED), "statuscode": int(ActivityStatus.COMPLETED),
            "opportunitystatecode": int(target), "opportunitystatuscode": status,
        })
        if settings_of(tenant).close_finishes_process_flow:
            _end_process_flow(tenant, opportunity_id, target)
    return OperationResult(status=204)


def _end_process_flow(tenant: Tenant, opportunity_id: str, target: OpportunityState) -> None:
    """Finish (Won) or abort (Lost) the opportunity's active process instances."""
    status = ProcessFlowStatus.FINISHED if target == OpportunityState.WON else ProcessFlowStatus.ABORTED
    for instance in tenant.find(FLOW_TABLE, opportunityid=Ref("opportunity", opportunity_id)):
        if instance.get("statecode") == ProcessFlowState.ACTIVE:
            tenant.update(FLOW_TABLE, instance[FLOW_KEY], {
                "statecode": int(ProcessFlowState.INACTIVE), "statuscode": int(status)})
