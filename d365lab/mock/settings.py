"""Settings of a mock tenant.

Every behaviour that ``dataverse-web-api.md`` marks UNVERIFIED is a setting here, with
the default we believe a real org shows, so a test can flip it and a newer finding is
a one-line change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from d365lab.mock.computed_settings import ComputedSettings
from d365lab.mock.cost_settings import CostSettings
from d365lab.mock.platform_settings import AuditSettings, TimeZoneSettings


class ThrottleSettings(BaseModel):
    """Service-protection limits (per user). Off by default."""

    enabled: bool = False
    requests_per_window: int = Field(default=6000, ge=1)
    window_seconds: float = Field(default=300.0, gt=0)
    execution_ms_per_window: int = Field(default=1_200_000, ge=1)
    max_concurrent: int = Field(default=52, ge=1)
    #: Retry-After (seconds, integer on the wire) when a window limit trips; None = time
    #: until the oldest request leaves the window.
    retry_after_seconds: int | None = None


class FaultSettings(BaseModel):
    """Seeded random fault injection. Off by default."""

    seed: int = 0
    #: Probability of answering 503 Service Unavailable instead of handling a request.
    error_rate: float = Field(default=0.0, ge=0, le=1)
    #: Probability of closing the connection without an answer (after the request ran or not).
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    #: Added latency per request, milliseconds.
    latency_ms: float = Field(default=0.0, ge=0)


class MockSettings(BaseModel):
    """How a mock tenant behaves."""

    #: Bearer token required; None accepts any bearer token (said loudly at start).
    token: str | None = None
    organization_name: str = "Contoso Coffee (mock)"
    version: str = "9.2.26113.155"
    dop_hint: int = Field(default=4, ge=1)
    max_page_size: int = Field(default=5000, ge=1, le=5000)
    #: Rows an aggregate query ($apply, FetchXML aggregate="true", ?sql= GROUP BY/COUNT) may
    #: evaluate before it fails with AggregateQueryRecordLimit (documented: 50,000).
    aggregate_record_limit: int = Field(default=50_000, ge=1)
    #: When FetchXML answers carry ``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` (UNVERIFIED):
    #: "always" (like ``morerecords``; what dynamics-web-api's README ``fetchAll``, which asks for
    #: no annotation, needs to page through) or "when_asked" (only when ``Prefer:
    #: odata.include-annotations`` covers it, as Microsoft's paging page words it).
    fetch_paging_cookie: Literal["always", "when_asked"] = "always"

    # --- UNVERIFIED behaviours, as settings -----------------------------------------
    #: Create a Lead-to-Opportunity process instance when a lead is created through the API.
    auto_create_process_flow: bool = True
    #: QualifyLead moves the lead's process instance to Develop when it creates an opportunity.
    qualify_advances_process_flow: bool = True
    #: QualifyLead with CreateAccount=true on a lead without companyname: "skip" creates no
    #: account and succeeds; "error" fails with 400.
    qualify_account_without_company: Literal["skip", "error"] = "skip"
    #: The contact created by QualifyLead gets parentcustomerid = the account created with it.
    qualify_links_contact_to_account: bool = True
    #: Field updates on closed leads/opportunities/completed calls: "allow" or "reject".
    closed_record_updates: Literal["allow", "reject"] = "allow"
    #: A plain PATCH of opportunity statecode to Won/Lost: "reject" points to the messages.
    opportunity_close_by_patch: Literal["allow", "reject"] = "reject"
    #: A plain PATCH of lead statecode to Qualified (SetState, creates nothing).
    lead_qualify_by_patch: Literal["allow", "reject"] = "allow"
    #: statecode sent when creating an activity: "ignore" or "reject" (400).
    activity_state_on_create: Literal["ignore", "reject"] = "ignore"
    #: Only statuscode sent: infer its statecode.
    infer_state_from_status: bool = True
    #: WinOpportunity/LoseOpportunity also finish the opportunity's process instance.
    close_finishes_process_flow: bool = False
    #: Deleting a lead, opportunity, account or contact deletes the activities regarding it
    #: (phone calls) and, for an opportunity, its close records — the "parental" cascade of
    #: the Regarding relationships. False: their lookups are only cleared.
    delete_cascades_to_activities: bool = True
    #: Declared alternate keys per table logical name, each key a list of column names:
    #: ``{"account": [["accountnumber"]], "contact": [["firstname", "emailaddress1"]]}``.
    #: None (lenient): any non-lookup column works as a key in a URL. A dict (strict, like an
    #: org): only a declared key (same columns, any order) is accepted, anything else is 400
    #: "The key in the request URI is not valid for resource …" (the message is Microsoft's;
    #: the status and the code 0x80060888 are not), and ``EntityDefinitions(…)/Keys`` lists them.
    alternate_keys: dict[str, list[list[str]]] | None = None
    #: Tables with change tracking on (``Prefer: odata.track-changes`` answers an
    #: ``@odata.deltaLink``; other tables refuse it with 400). UNVERIFIED which out-of-box
    #: tables have it on in a given org: account, contact, lead and opportunity usually do.
    change_tracking: list[str] = Field(default_factory=lambda: ["account", "contact", "lead", "opportunity"])

    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    #: Server cost model (``d365lab.mock.cost_settings``): off by default (today's speed).
    cost: CostSettings = Field(default_factory=CostSettings)
    #: Auditing (``audits``, history functions) and user time zones (``usersettingscollection``).
    audit: AuditSettings = Field(default_factory=AuditSettings)
    time_zones: TimeZoneSettings = Field(default_factory=TimeZoneSettings)
    #: Computed columns (``*_base`` money, ``exchangerate``, full names): UNVERIFIED details.
    computed: ComputedSettings = Field(default_factory=ComputedSettings)
