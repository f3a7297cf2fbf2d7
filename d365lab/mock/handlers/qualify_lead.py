"""QualifyLead (bound to lead): convert a lead into account, contact and opportunity.

``POST /leads(<id>)/Microsoft.Dynamics.CRM.QualifyLead`` with ``CreateAccount``,
``CreateContact``, ``CreateOpportunity`` (required booleans), ``Status`` (a statuscode of
the Qualified state) and optional ``OpportunityCustomerId``, ``OpportunityCurrencyId``,
``SourceCampaignId``, ``ProcessInstanceId``. Answers 200 with the created records as a
``crmbaseentity`` collection. Everything runs in one transaction.
"""

from __future__ import annotations

from typing import Any

from d365lab.mock.handlers.registry import OperationCall, OperationResult, bound_action, storage_row_to_ref_body
from d365lab.mock.handlers.sales_params import entity_reference, required_bool, required_int
from d365lab.mock.rules.common import is_blank, performing, settings_of
from d365lab.mock.rules.lifecycle import QUALIFY_LEAD
from d365lab.mock.rules.process_flow import FLOW_KEY, FLOW_TABLE, path_to, stage_ref
from d365lab.mock.rules.states import invalid_status
from d365lab.mock.service_errors import LEAD_CLOSED, MockError, bad_request
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.enums import LEAD_STATES, LeadState, ProcessFlowState
from d365lab.models.schema import STAGE_IDS, TABLES

_ADDRESS = ("address1_line1", "address1_line2", "address1_line3", "address1_city",
            "address1_stateorprovince", "address1_postalcode", "address1_country")

#: lead column -> account columns (Sales "lead qualification" mapping).
LEAD_TO_ACCOUNT: dict[str, tuple[str, ...]] = {
    "companyname": ("name",),
    "websiteurl": ("websiteurl",),
    "telephone1": ("telephone1", "address1_telephone1"),
    "transactioncurrencyid": ("transactioncurrencyid",),
    **{column: (column,) for column in _ADDRESS},
}
#: lead column -> contact columns.
LEAD_TO_CONTACT: dict[str, tuple[str, ...]] = {
    "firstname": ("firstname",),
    "lastname": ("lastname",),
    "jobtitle": ("jobtitle",),
    "emailaddress1": ("emailaddress1",),
    "mobilephone": ("mobilephone",),
    "telephone1": ("telephone1",),
    "transactioncurrencyid": ("transactioncurrencyid",),
    **{column: (column,) for column in _ADDRESS},
}
#: lead column -> opportunity columns.
LEAD_TO_OPPORTUNITY: dict[str, tuple[str, ...]] = {
    "subject": ("name",),
    "parentaccountid": ("parentaccountid",),
    "parentcontactid": ("parentcontactid",),
    "campaignid": ("campaignid",),
    "description": ("description",),
    "qualificationcomments": ("qualificationcomments",),
    "estimatedamount": ("estimatedvalue",),
    "estimatedclosedate": ("estimatedclosedate",),
    "budgetamount": ("budgetamount",),
    "budgetstatus": ("budgetstatus",),
    "purchasetimeframe": ("purchasetimeframe",),
    "purchaseprocess": ("purchaseprocess",),
    "need": ("need",),
    "decisionmaker": ("decisionmaker",),
    "confirminterest": ("confirminterest",),
    "evaluatefit": ("evaluatefit",),
}

LEAD_CLOSED_MESSAGE = "The lead is closed. You cannot convert or qualify a lead that is already closed."


def map_columns(source: Row, mapping: dict[str, tuple[str, ...]]) -> Row:
    """The target columns filled from ``source`` through ``mapping`` (empty values skipped)."""
    out: Row = {}
    for column, targets in mapping.items():
        value = source.get(column)
        if not is_blank(value):
            for target in targets:
                out[target] = value
    return out


def _base_currency(tenant: Tenant) -> Ref | None:
    for organization in tenant.iter_rows("organization"):
        currency = organization.get("basecurrencyid")
        if isinstance(currency, Ref):
            return currency
    return None


def _validate(tenant: Tenant, lead: Row, status: int) -> None:
    if lead.get("statecode") != LeadState.OPEN:
        raise MockError(400, LEAD_CLOSED, LEAD_CLOSED_MESSAGE)
    if not LEAD_STATES.is_valid(LeadState.QUALIFIED, status):
        raise invalid_status(LEAD_STATES, TABLES["lead"], lead, int(LeadState.QUALIFIED), status)


@bound_action("lead", "QualifyLead")
def qualify_lead(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Qualify the bound lead (see the module docstring)."""
    params = call.parameters
    create_account = required_bool(params, "CreateAccount")
    create_contact = required_bool(params, "CreateContact")
    create_opportunity = required_bool(params, "CreateOpportunity")
    status = required_int(params, "Status")
    lead_id = (call.bound_id or "").lower()
    lead = tenant.require("lead", lead_id)
    _validate(tenant, lead, status)
    customer = entity_reference(tenant, params, "OpportunityCustomerId", ("account", "contact"))
    currency = entity_reference(tenant, params, "OpportunityCurrencyId", ("transactioncurrency",))
    campaign = entity_reference(tenant, params, "SourceCampaignId", ("campaign",))
    instance = _process_instance(tenant, params, lead_id)
    settings = settings_of(tenant)
    lead_ref = Ref("lead", lead_id)
    created: list[tuple[str, Row]] = []
    with tenant.transaction(), performing(QUALIFY_LEAD):
        account = contact = opportunity = None
        if create_account:
            if is_blank(lead.get("companyname")):
                if settings.qualify_account_without_company == "error":
                    raise bad_request(
                        "CreateAccount is true but the lead has no companyname (Company); "
                        "fill it or qualify with CreateAccount=false.")
            else:
                account = tenant.create("account", {**map_columns(lead, LEAD_TO_ACCOUNT),
                                                    "originatingleadid": lead_ref})
                created.append(("account", account))
        if create_contact:
            values = {**map_columns(lead, LEAD_TO_CONTACT), "originatingleadid": lead_ref}
            if account is not None and settings.qualify_links_contact_to_account:
                values["parentcustomerid"] = Ref("account", account["accountid"])
            contact = tenant.create("contact", values)
            created.append(("contact", contact))
        if create_opportunity:
            opportunity = tenant.create("opportunity", _opportunity_values(
                tenant, lead, account, contact, customer, currency, campaign))
            created.append(("opportunity", opportunity))
        tenant.update("lead", lead_id, _lead_changes(lead, status, account, contact, opportunity))
        if opportunity is not None and instance is not None and settings.qualify_advances_process_flow:
            _advance_to_develop(tenant, instance, opportunity["opportunityid"])
    return OperationResult(status=200, body={
        "@odata.context": f"{call.base_url}/$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)",
        "value": [storage_row_to_ref_body(row, TABLES[name].primary_id, name) for name, row in created],
    })


def _opportunity_values(tenant: Tenant, lead: Row, account: Row | None, contact: Row | None,
                        customer: Ref | None, currency: Ref | None, campaign: Ref | None) -> Row:
    values: Row = {**map_columns(lead, LEAD_TO_OPPORTUNITY), "originatingleadid": Ref("lead", lead["leadid"])}
    account_ref = Ref("account", account["accountid"]) if account is not None else None
    contact_ref = Ref("contact", contact["contactid"]) if contact is not None else None
    fallbacks: list[Any] = [customer, account_ref, contact_ref, lead.get("parentaccountid"),
                            lead.get("parentcontactid"), lead.get("customerid")]
    values["customerid"] = next((ref for ref in fallbacks if isinstance(ref, Ref)), None)
    if values.get("parentaccountid") is None and account_ref is not None:
        values["parentaccountid"] = account_ref
    if values.get("parentcontactid") is None and contact_ref is not None:
        values["parentcontactid"] = contact_ref
    # The lead's amounts move in the lead's currency, so without OpportunityCurrencyId the
    # opportunity keeps it (UNVERIFIED); a lead without one falls back to the base currency.
    lead_currency = lead.get("transactioncurrencyid")
    values["transactioncurrencyid"] = currency or (lead_currency if isinstance(lead_currency, Ref) else None) \
        or _base_currency(tenant)
    if campaign is not None:
        values["campaignid"] = campaign
    return values


def _lead_changes(lead: Row, status: int, account: Row | None, contact: Row | None,
                  opportunity: Row | None) -> Row:
    changes: Row = {"statecode": int(LeadState.QUALIFIED), "statuscode": status}
    if opportunity is not None:
        changes["qualifyingopportunityid"] = Ref("opportunity", opportunity["opportunityid"])
    if account is not None and lead.get("parentaccountid") is None:
        changes["parentaccountid"] = Ref("account", account["accountid"])
    if contact is not None and lead.get("parentcontactid") is None:
        changes["parentcontactid"] = Ref("contact", contact["contactid"])
    return changes


def _process_instance(tenant: Tenant, params: dict[str, Any], lead_id: str) -> Row | None:
    """The instance to carry over: ``ProcessInstanceId`` if given, else the lead's active one."""
    given = entity_reference(tenant, params, "ProcessInstanceId", (FLOW_TABLE,))
    if given is not None:
        return tenant.require(FLOW_TABLE, given.id)
    for instance in tenant.find(FLOW_TABLE, leadid=Ref("lead", lead_id)):
        if instance.get("statecode") == ProcessFlowState.ACTIVE:
            return instance
    return None


def _advance_to_develop(tenant: Tenant, instance: Row, opportunity_id: str) -> None:
    stage = instance.get("activestageid")
    if not isinstance(stage, Ref) or stage.id != STAGE_IDS["Qualify"]:
        return  # the instance already sits on an opportunity stage; the UI would refuse, the API skips it
    tenant.update(FLOW_TABLE, instance[FLOW_KEY], {
        "opportunityid": Ref("opportunity", opportunity_id),
        "activestageid": stage_ref("Develop"),
        "traversedpath": path_to(STAGE_IDS["Develop"]),
    })
