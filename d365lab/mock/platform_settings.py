"""Settings of the mock's auditing and time-zone emulation (``MockSettings.audit``, ``.time_zones``).

Every field is something ``audit-timezones-grading.md`` marks UNVERIFIED: the default is
our best reading of the sources, each variant is what a real tenant might do instead.
``docs/mock-tenant.md`` lists them with their sources.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

#: Tables Power Platform admin center audits once auditing is switched on there ([S4]),
#: among those the mock knows (phonecall is not in that list: UNVERIFIED).
DEFAULT_AUDITED_TABLES = ("account", "contact", "lead", "opportunity", "leadtoopportunitysalesprocess")


class AuditSettings(BaseModel):
    """How the mock tenant audits."""

    #: ``organization.isauditenabled`` of a new tenant. The column's default is False [S6];
    #: what a new trial/sandbox starts with is UNVERIFIED. ``PATCH /organizations(<id>)`` changes it.
    enabled_on_new_tenant: bool = False
    #: Table-level ``IsAuditEnabled`` of each table until changed through
    #: ``PUT EntityDefinitions(LogicalName='…')`` (defaults for lead etc. UNVERIFIED).
    audited_tables: list[str] = Field(default_factory=lambda: list(DEFAULT_AUDITED_TABLES))
    #: ``action`` of a state change made by a plain update (PATCH, UpdateMultiple, ``$batch``):
    #: ``set_state`` 41 (docs: "SetState"), ``update`` 2, ``activate_deactivate`` 4 back to
    #: state 0 else 5, ``named`` lead 25 Disqualify / 24 Qualify, opportunity 44 Win / 45 Lose,
    #: back to state 0 = 4 Activate, other tables as ``activate_deactivate``. UNVERIFIED.
    state_change_action: Literal["set_state", "update", "activate_deactivate", "named"] = "set_state"
    #: ``action`` of the lead's state change made by QualifyLead (24 Qualify; UNVERIFIED).
    qualify_lead_action: int = 24
    #: ``action`` of the opportunity's state change made by WinOpportunity / LoseOpportunity
    #: (docs: 44 Win; 45 Lose presumably).
    win_opportunity_action: int = 44
    lose_opportunity_action: int = 45
    #: Columns whose ``IsAuditEnabled`` is off, per table (``{"lead": ["statecode", "statuscode"]}``):
    #: their changes leave no value in the history, and an update changing only them writes no
    #: row. Column defaults (lead statecode/statuscode) are UNVERIFIED; by default every column audits.
    unaudited_columns: dict[str, list[str]] = Field(default_factory=dict)
    #: A column's ``IsAuditEnabled`` changed through ``PUT EntityDefinitions(…)/Attributes(…)``
    #: takes effect only once ``PublishXml`` names its table (or ``PublishAllXml``): the docs say
    #: "changes don't take effect until you publish the table customizations". False: at once.
    column_changes_need_publish: bool = True
    #: The calling user holds System Administrator or System Customizer, the roles the docs
    #: require to change audit settings. False: metadata PUTs (table and column
    #: ``IsAuditEnabled``), ``PublishXml``/``PublishAllXml`` and a PATCH of the organization's
    #: audit columns answer 403 "… is missing prv… privilege" (message and code UNVERIFIED).
    caller_can_customize: bool = True
    #: A change of statecode and statuscode writes two rows (the state change without
    #: statuscode, then statuscode alone as an Update) instead of one carrying both (UNVERIFIED).
    split_state_and_status: bool = False
    #: Seconds before an audit row shows in ``audits`` and the history functions (a real
    #: tenant's audit log can lag; no SLA is documented). 0: at once.
    visibility_delay_seconds: float = Field(default=0.0, ge=0)
    #: ``GET /audits?$select=changedata`` answers the JSON ``{"changedAttributes":[…]}``
    #: (community evidence); False: ``changedata`` is an unknown property (the documented
    #: EntityType has none). Never returned without ``$select``.
    changedata_selectable: bool = True
    #: RetrieveRecordChangeHistory/RetrieveAttributeChangeHistory without ``PagingInfo`` is
    #: a 400 (old SDK docs: "Required"); False accepts it (community code sends Target only).
    history_requires_paging_info: bool = False
    #: Order of ``AuditDetails`` in the history functions (UNVERIFIED).
    history_order: Literal["newest_first", "oldest_first"] = "newest_first"
    #: Each history item also carries ``AuditRecord`` (the audit row: who, when, action) as
    #: ``Xrm.WebApi.online.execute`` shows; the documented Web API omits it.
    history_includes_audit_record: bool = False


class TimeZoneSettings(BaseModel):
    """User settings and time-zone functions."""

    #: The mock user's time zone: a ``timezonecode`` (``"105"``) or an IANA name
    #: (``"Europe/Paris"``). None: a new tenant's user gets ``default_user_timezone`` and an
    #: existing tenant keeps what its user chose; set, it is applied at every start.
    user_timezone: str | None = None
    #: A new user's zone (a new trial user's default is region-dependent: UNVERIFIED).
    default_user_timezone: str = "Europe/Paris"
    #: A new user's ``localeid`` and ``uilanguageid`` (1033 English, 1036 French).
    default_localeid: int = 1033
    default_uilanguageid: int = 1033
    #: How ``LocalTimeFromUtcTime`` writes ``LocalTime`` (UNVERIFIED): ``z`` the local wall
    #: time with a ``Z`` suffix (``2025-07-15T16:30:00Z``), ``offset`` with the zone's offset
    #: (``2025-07-15T16:30:00+02:00``).
    local_time_suffix: Literal["z", "offset"] = "z"

    @field_validator("user_timezone", "default_user_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        """A zone the mock's ``timezonedefinitions`` hold (code, IANA or Windows name)."""
        if value is not None:
            from d365lab.mock.timezones import resolve

            resolve(value)
        return value
