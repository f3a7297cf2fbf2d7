"""Typed views of the Sales rows d365lab works with (pydantic v2).

Build them from what the Web API returns: ``Lead.from_row(client.records.get("lead", id))``.
Lookups are read from ``_x_value`` properties, money is ``Decimal``, date-only columns are
``date``, timestamps are timezone-aware, option sets are the enums of
:mod:`d365lab.models.enums`, and a statecode/statuscode pair that does not belong together
is refused (the pairs are defined once, in ``enums.py``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from d365lab.models import enums as e
from d365lab.models.schema import TABLES


class DataverseRecord(BaseModel):
    """Common base: unknown properties are kept, ``@odata.etag`` becomes :attr:`etag`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)
    #: The logical name of the table (a key of :data:`d365lab.models.schema.TABLES`).
    table: ClassVar[str] = ""
    #: The table's state machine, taken from the schema (so it is stated once, there).
    states: ClassVar[e.StateModel | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.states = TABLES[cls.table].states if cls.table else None

    etag: str | None = Field(None, alias="@odata.etag")
    createdon: AwareDatetime | None = None
    modifiedon: AwareDatetime | None = None
    owner_id: str | None = Field(None, alias="_ownerid_value")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        """Build the model from a Web API row (annotations and unknown columns are kept as extras)."""
        return cls.model_validate(row)

    @model_validator(mode="after")
    def _state_matches_status(self) -> Self:
        states = type(self).states
        state = getattr(self, "statecode", None)
        status = getattr(self, "statuscode", None)
        if states is not None and state is not None and status is not None and not states.is_valid(state, status):
            raise ValueError(f"statuscode {int(status)} does not belong to statecode {int(state)} "
                             f"of {type(self).table}")
        return self


class Lead(DataverseRecord):
    """A lead (``leads``)."""

    table = "lead"

    leadid: str
    subject: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    fullname: str | None = None
    companyname: str | None = None
    jobtitle: str | None = None
    emailaddress1: str | None = None
    telephone1: str | None = None
    mobilephone: str | None = None
    description: str | None = None
    budgetamount: Decimal | None = None
    estimatedamount: Decimal | None = None
    budgetstatus: e.BudgetStatus | None = None
    purchasetimeframe: e.PurchaseTimeframe | None = None
    purchaseprocess: e.PurchaseProcess | None = None
    need: e.Need | None = None
    leadsourcecode: e.LeadSource | None = None
    leadqualitycode: e.Rating | None = None
    decisionmaker: bool | None = None
    estimatedclosedate: date | None = None
    statecode: e.LeadState | None = None
    statuscode: e.LeadStatus | None = None
    parent_account_id: str | None = Field(None, alias="_parentaccountid_value")
    parent_contact_id: str | None = Field(None, alias="_parentcontactid_value")
    customer_id: str | None = Field(None, alias="_customerid_value")
    qualifying_opportunity_id: str | None = Field(None, alias="_qualifyingopportunityid_value")


class Contact(DataverseRecord):
    """A contact (``contacts``)."""

    table = "contact"

    contactid: str
    firstname: str | None = None
    lastname: str | None = None
    fullname: str | None = None
    jobtitle: str | None = None
    emailaddress1: str | None = None
    telephone1: str | None = None
    mobilephone: str | None = None
    statecode: e.ActiveState | None = None
    statuscode: e.ActiveStatus | None = None
    parent_customer_id: str | None = Field(None, alias="_parentcustomerid_value")
    originating_lead_id: str | None = Field(None, alias="_originatingleadid_value")


class Account(DataverseRecord):
    """An account (``accounts``)."""

    table = "account"

    accountid: str
    name: str | None = None
    accountnumber: str | None = None
    telephone1: str | None = None
    websiteurl: str | None = None
    address1_city: str | None = None
    revenue: Decimal | None = None
    statecode: e.ActiveState | None = None
    statuscode: e.ActiveStatus | None = None
    primary_contact_id: str | None = Field(None, alias="_primarycontactid_value")
    originating_lead_id: str | None = Field(None, alias="_originatingleadid_value")


class Opportunity(DataverseRecord):
    """An opportunity (``opportunities``)."""

    table = "opportunity"

    opportunityid: str
    name: str | None = None
    description: str | None = None
    budgetamount: Decimal | None = None
    estimatedvalue: Decimal | None = None
    actualvalue: Decimal | None = None
    budgetstatus: e.BudgetStatus | None = None
    purchasetimeframe: e.PurchaseTimeframe | None = None
    purchaseprocess: e.PurchaseProcess | None = None
    need: e.Need | None = None
    opportunityratingcode: e.Rating | None = None
    initialcommunication: e.InitialCommunication | None = None
    msdyn_forecastcategory: e.ForecastCategory | None = None
    salesstage: e.StageCategory | None = None
    closeprobability: int | None = Field(None, ge=0, le=100)
    estimatedclosedate: date | None = None
    actualclosedate: date | None = None
    finaldecisiondate: date | None = None
    currentsituation: str | None = None
    customerneed: str | None = None
    proposedsolution: str | None = None
    statecode: e.OpportunityState | None = None
    statuscode: e.OpportunityStatus | None = None
    customer_id: str | None = Field(None, alias="_customerid_value")
    parent_account_id: str | None = Field(None, alias="_parentaccountid_value")
    parent_contact_id: str | None = Field(None, alias="_parentcontactid_value")
    originating_lead_id: str | None = Field(None, alias="_originatingleadid_value")


class PhoneCall(DataverseRecord):
    """A phone call activity (``phonecalls``)."""

    table = "phonecall"

    activityid: str
    subject: str | None = None
    description: str | None = None
    phonenumber: str | None = None
    directioncode: bool | None = None
    scheduledstart: AwareDatetime | None = None
    scheduledend: AwareDatetime | None = None
    actualend: AwareDatetime | None = None
    prioritycode: e.Priority | None = None
    statecode: e.PhoneCallState | None = None
    statuscode: e.PhoneCallStatus | None = None
    regarding_id: str | None = Field(None, alias="_regardingobjectid_value")


class OpportunityClose(DataverseRecord):
    """The close activity WinOpportunity / LoseOpportunity create (``opportunitycloses``)."""

    table = "opportunityclose"

    activityid: str
    subject: str | None = None
    actualrevenue: Decimal | None = None
    actualend: date | None = None
    description: str | None = None
    opportunitystatecode: e.OpportunityState | None = None
    opportunitystatuscode: e.OpportunityStatus | None = None
    statecode: e.ActivityState | None = None
    statuscode: e.ActivityStatus | None = None
    opportunity_id: str | None = Field(None, alias="_opportunityid_value")


class ProcessStage(DataverseRecord):
    """A stage of a business process flow (``processstages``)."""

    table = "processstage"

    processstageid: str
    stagename: str
    stagecategory: e.StageCategory | None = None
    primaryentitytypecode: str | None = None
    process_id: str | None = Field(None, alias="_processid_value")


class ProcessFlowInstance(DataverseRecord):
    """A Lead-to-Opportunity process flow instance (``leadtoopportunitysalesprocesses``)."""

    table = "leadtoopportunitysalesprocess"

    businessprocessflowinstanceid: str
    name: str | None = None
    traversedpath: str | None = None
    activestagestartedon: AwareDatetime | None = None
    completedon: AwareDatetime | None = None
    statecode: e.ProcessFlowState | None = None
    statuscode: e.ProcessFlowStatus | None = None
    active_stage_id: str | None = Field(None, alias="_activestageid_value")
    lead_id: str | None = Field(None, alias="_leadid_value")
    opportunity_id: str | None = Field(None, alias="_opportunityid_value")
    process_id: str | None = Field(None, alias="_processid_value")

    @property
    def id(self) -> str:
        """The instance id."""
        return self.businessprocessflowinstanceid

    @property
    def path(self) -> list[str]:
        """The visited stage ids, in order (from ``traversedpath``)."""
        return [s for s in (self.traversedpath or "").split(",") if s]

    @property
    def is_active(self) -> bool:
        """True while the instance is neither finished nor aborted."""
        return self.statecode in (None, e.ProcessFlowState.ACTIVE)


MODELS: dict[str, type[DataverseRecord]] = {m.table: m for m in (
    Lead, Contact, Account, Opportunity, PhoneCall, OpportunityClose, ProcessStage, ProcessFlowInstance)}
