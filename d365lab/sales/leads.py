"""Lead verbs: qualify, disqualify, reactivate.

>>> result = client.leads.qualify(lead_id)                    # doctest: +SKIP
>>> result.opportunity_id                                      # doctest: +SKIP
>>> client.leads.disqualify(other_id, reason="cannot_contact")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from d365lab.errors import ClientValidationError, TransportError
from d365lab.models.enums import DISQUALIFY_REASONS, LEAD_STATES, LeadState, LeadStatus
from d365lab.models.schema import TABLES
from d365lab.odata import guid
from d365lab.sales.status import require_status, set_state
from d365lab.webapi.messages import operation_path
from d365lab.webapi.request import Answer, Request, Sender
from d365lab.webapi.rows import get_row

#: ``@odata.type`` of each row QualifyLead may create -> its primary key.
_CREATED_KEYS = {f"#{TABLES[name].type_name}": TABLES[name].primary_id
                 for name in ("account", "contact", "opportunity")}


def _entity_reference(table: str, record_id: str) -> dict[str, str]:
    """An entity-typed action parameter: the row's type and its primary key."""
    return {"@odata.type": TABLES[table].type_name, TABLES[table].primary_id: guid(record_id)}


@dataclass(frozen=True)
class QualifyResult:
    """Ids of the rows QualifyLead created (None for what it did not create)."""

    account_id: str | None
    contact_id: str | None
    opportunity_id: str | None


def disqualify_status(reason: str | LeadStatus | int) -> LeadStatus:
    """The Disqualified statuscode for a reason (``"lost"``, ``"Cannot Contact"``, ``LeadStatus.CANCELED``...)."""
    if isinstance(reason, str):
        key = reason.strip().lower().replace(" ", "_").replace("-", "_")
        if key in DISQUALIFY_REASONS:
            return DISQUALIFY_REASONS[key]
    else:
        try:
            status = LeadStatus(int(reason))
        except ValueError:
            status = None
        if status is not None and LEAD_STATES.state_of(status) == LeadState.DISQUALIFIED:
            return status
    allowed = ", ".join(DISQUALIFY_REASONS)
    raise ClientValidationError(f"{reason!r} is not a disqualification reason; use one of {allowed}",
                                table="lead", field="statuscode")


def qualify_request(lead_id: str, *, create_account: bool, create_contact: bool = True,
                    create_opportunity: bool = True, status: LeadStatus = LeadStatus.QUALIFIED,
                    currency_id: str | None = None, customer: tuple[str, str] | None = None,
                    campaign_id: str | None = None, process_instance_id: str | None = None) -> Request[QualifyResult]:
    """The QualifyLead request; decodes to the ids of the created account, contact and opportunity.

    ``customer=("account", id)`` makes an existing account or contact the opportunity's customer.
    """
    require_status(LEAD_STATES, LeadState.QUALIFIED, status, table="lead")
    params: dict[str, Any] = {
        "CreateAccount": create_account,
        "CreateContact": create_contact,
        "CreateOpportunity": create_opportunity,
        "Status": int(status),
    }
    if currency_id:
        params["OpportunityCurrencyId"] = _entity_reference("transactioncurrency", currency_id)
    if customer:
        table, customer_id = customer
        if table not in ("account", "contact"):
            raise ClientValidationError("the opportunity customer must be an account or a contact",
                                        table="lead", field="OpportunityCustomerId")
        params["OpportunityCustomerId"] = _entity_reference(table, customer_id)
    if campaign_id:
        params["SourceCampaignId"] = _entity_reference("campaign", campaign_id)
    if process_instance_id:
        params["ProcessInstanceId"] = _entity_reference("leadtoopportunitysalesprocess", process_instance_id)
    def decode(answer: Answer) -> QualifyResult:
        result = answer.json()
        created: dict[str, str] = {}
        for item in (result if isinstance(result, dict) else {}).get("value", []):
            key = _CREATED_KEYS.get(str(item.get("@odata.type", "")))
            if key is None:  # no type annotation: recognise the row by its primary key
                key = next((k for k in _CREATED_KEYS.values() if item.get(k)), None)
            if key and item.get(key):
                created[key] = str(item[key])
        if create_opportunity and "opportunityid" not in created:
            raise TransportError("QualifyLead returned no opportunity although one was requested")
        return QualifyResult(created.get("accountid"), created.get("contactid"), created.get("opportunityid"))

    return Request("POST", operation_path("QualifyLead", ("lead", guid(lead_id))), decode, body=params,
                   idempotent=False)


def disqualify_request(lead_id: str, reason: str | LeadStatus | int = "lost") -> Request[None]:
    """Disqualify a lead: Lost, Cannot Contact, No Longer Interested or Canceled (anything else is refused)."""
    return set_state("lead", lead_id, LeadState.DISQUALIFIED, disqualify_status(reason))


def reactivate_request(lead_id: str, *, status: LeadStatus = LeadStatus.NEW) -> Request[None]:
    """Reopen a qualified or disqualified lead (Open / New by default)."""
    require_status(LEAD_STATES, LeadState.OPEN, status, table="lead")
    return set_state("lead", lead_id, LeadState.OPEN, status)


class Leads:
    """Verbs on leads (each sends one of the requests above through a :class:`Sender`)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def qualify(self, lead_id: str, *, create_account: bool | None = None, create_contact: bool = True,
                create_opportunity: bool = True, status: LeadStatus = LeadStatus.QUALIFIED,
                currency_id: str | None = None, customer: tuple[str, str] | None = None,
                campaign_id: str | None = None, process_instance_id: str | None = None) -> QualifyResult:
        """Qualify a lead (QualifyLead) and return the ids of the created account, contact and opportunity.

        ``create_account=None`` does what the app does: an account only when the lead has a
        company name (that costs one GET). ``customer=("account", id)`` makes an existing
        account or contact the opportunity's customer.
        """
        lead_id = guid(lead_id)
        require_status(LEAD_STATES, LeadState.QUALIFIED, status, table="lead")
        if create_account is None:
            row = self._sender.send(get_row("lead", lead_id, select=["companyname"]))
            create_account = bool((row.get("companyname") or "").strip())
        return self._sender.send(qualify_request(
            lead_id, create_account=create_account, create_contact=create_contact,
            create_opportunity=create_opportunity, status=status, currency_id=currency_id, customer=customer,
            campaign_id=campaign_id, process_instance_id=process_instance_id))

    def disqualify(self, lead_id: str, reason: str | LeadStatus | int = "lost") -> None:
        """Disqualify a lead: Lost, Cannot Contact, No Longer Interested or Canceled (anything else is refused)."""
        self._sender.send(disqualify_request(lead_id, reason))

    def reactivate(self, lead_id: str, *, status: LeadStatus = LeadStatus.NEW) -> None:
        """Reopen a qualified or disqualified lead (Open / New by default)."""
        self._sender.send(reactivate_request(lead_id, status=status))
