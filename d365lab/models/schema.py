"""Table definitions shared by the client and the mock tenant.

One :class:`Table` per Dataverse table d365lab knows: entity set, primary key and name,
columns (type, max length, option set, lookup targets and their navigation property
names), state machine, and collection-valued navigation properties. The mock builds its
SQLite tables, validation and ``EntityDefinitions`` metadata from this; the client uses
it for ``@odata.bind`` names and client-side validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property

from d365lab.models import enums as e

#: The out-of-box "Lead to Opportunity Sales Process" business process flow.
LEAD_TO_OPPORTUNITY_PROCESS_ID = "919e14d1-6489-4852-abd0-a63a6ecaac5d"
#: OOB stage ids of that process (resolve by name on a real org; these seed the mock).
STAGE_IDS: dict[str, str] = {
    "Qualify": "f99b4d48-7aad-456e-864a-8e7d543f7495",
    "Develop": "bfc9108c-8389-406b-9166-2c3298a2e41f",
    "Propose": "3a275c22-fc45-4e89-97fc-41e5ec578743",
    "Close": "7f5247fe-cfc3-42bc-aa77-b1d836d9b7c0",
}
TYPE_NAMESPACE = "Microsoft.Dynamics.CRM"


class ColumnType(StrEnum):
    """Dataverse attribute types d365lab distinguishes."""

    GUID = "Uniqueidentifier"
    STRING = "String"
    MEMO = "Memo"
    INTEGER = "Integer"
    BIGINT = "BigInt"
    BOOLEAN = "Boolean"
    MONEY = "Money"
    DOUBLE = "Double"
    DECIMAL = "Decimal"
    DATETIME = "DateTime"
    DATEONLY = "DateOnly"
    PICKLIST = "Picklist"
    STATE = "State"
    STATUS = "Status"
    LOOKUP = "Lookup"
    CUSTOMER = "Customer"
    OWNER = "Owner"
    ENTITYNAME = "EntityName"


#: An option-set enum class (kept as an alias: inside Column, ``type`` names a field).
OptionSet = type[IntEnum]

LOOKUP_TYPES = frozenset({ColumnType.LOOKUP, ColumnType.CUSTOMER, ColumnType.OWNER})
#: Columns holding a whole number (choices, states and statuses are numbers on the wire).
INTEGER_TYPES = frozenset({ColumnType.INTEGER, ColumnType.BIGINT, ColumnType.PICKLIST, ColumnType.STATE,
                           ColumnType.STATUS})
#: Columns holding a number with a fractional part.
REAL_TYPES = frozenset({ColumnType.MONEY, ColumnType.DOUBLE, ColumnType.DECIMAL})


@dataclass(frozen=True)
class Column:
    """One attribute of a table.

    For lookups, ``navigation`` maps each target table to the navigation property used
    in ``<nav>@odata.bind`` (``{"account": "customerid_account", ...}``). For two-option
    (boolean) columns, ``true_label``/``false_label`` are the column's own option labels
    (``"Outgoing"``/``"Incoming"`` for ``phonecall.directioncode``), what the service shows
    as the FormattedValue and in the attribute's OptionSet.
    """

    name: str
    type: ColumnType
    max_length: int | None = None
    options: OptionSet | None = None
    navigation: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    valid_for_create: bool = True
    indexed: bool = False
    min_value: float | None = None
    max_value: float | None = None
    true_label: str = "Yes"
    false_label: str = "No"

    @cached_property  # read for every value the mock checks or stores
    def is_lookup(self) -> bool:
        """True for lookup, customer and owner columns."""
        return self.type in LOOKUP_TYPES

    @property
    def targets(self) -> tuple[str, ...]:
        """Tables a lookup may point to."""
        return tuple(self.navigation)

    @property
    def value_property(self) -> str:
        """The property name used when reading: ``_x_value`` for lookups, else the name."""
        return f"_{self.name}_value" if self.is_lookup else self.name


@dataclass(frozen=True)
class CollectionNavigation:
    """A one-to-many navigation property, e.g. ``phonecall_activity_parties``."""

    name: str
    target: str
    referencing_column: str


@dataclass(frozen=True)
class Table:
    """A Dataverse table as d365lab knows it."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, Column]
    states: e.StateModel | None
    object_type_code: int
    collections: dict[str, CollectionNavigation] = field(default_factory=dict)
    supports_bulk: bool = True
    #: statecode may not be sent on create (activities).
    state_valid_for_create: bool = True

    @property
    def type_name(self) -> str:
        """Full OData type name, ``Microsoft.Dynamics.CRM.lead``."""
        return f"{TYPE_NAMESPACE}.{self.logical_name}"

    def navigation_properties(self) -> dict[str, tuple[Column, str]]:
        """Map every single-valued navigation property name to ``(column, target table)``."""
        out: dict[str, tuple[Column, str]] = {}
        for col in self.columns.values():
            for target, nav in col.navigation.items():
                out[nav] = (col, target)
        return out

    def bind_name(self, column: str, target: str) -> str:
        """The navigation property to bind ``column`` to a row of ``target``.

        >>> TABLES["opportunity"].bind_name("customerid", "account")
        'customerid_account'
        """
        col = self.columns[column]
        try:
            return col.navigation[target]
        except KeyError:
            raise KeyError(f"{self.logical_name}.{column} cannot point to {target}") from None


# --------------------------------------------------------------------------- builders

def _s(name: str, n: int, **kw: object) -> Column:
    return Column(name, ColumnType.STRING, max_length=n, **kw)  # type: ignore[arg-type]


def _memo(name: str, n: int = 2000) -> Column:
    return Column(name, ColumnType.MEMO, max_length=n)


def _b(name: str, labels: tuple[str, str] = ("Yes", "No")) -> Column:
    """A two-option column; ``labels`` is (true label, false label), as in the out-of-box schema."""
    return Column(name, ColumnType.BOOLEAN, true_label=labels[0], false_label=labels[1])


# Out-of-box two-option labels (Dataverse table reference pages). Several Sales
# process-step columns are labelled the other way round from what their name suggests
# (confirminterest: true = "No", false = "Yes"); that is the shipped schema.
_COMPLETED = ("completed", "mark complete")
_COMPLETED_CAPITALISED = ("Completed", "Mark complete")
_NO_YES = ("No", "Yes")


def _money(name: str) -> Column:
    return Column(name, ColumnType.MONEY, min_value=0, max_value=1e12)


def _pick(name: str, options: type[IntEnum]) -> Column:
    return Column(name, ColumnType.PICKLIST, options=options)


def _lk(name: str, target: str, nav: str | None = None, indexed: bool = True) -> Column:
    return Column(name, ColumnType.LOOKUP, navigation={target: nav or name}, indexed=indexed)


def _dt(name: str, read_only: bool = False) -> Column:
    return Column(name, ColumnType.DATETIME, read_only=read_only)


def _date(name: str) -> Column:
    return Column(name, ColumnType.DATEONLY)


def _table(logical: str, entity_set: str, pk: str, primary_name: str, otc: int,
           states: e.StateModel | None, cols: list[Column], **kw: object) -> Table:
    base = [
        Column(pk, ColumnType.GUID, indexed=True),
        _dt("createdon", read_only=True),
        _dt("modifiedon", read_only=True),
        Column("versionnumber", ColumnType.BIGINT, read_only=True),
        Column("createdby", ColumnType.LOOKUP, navigation={"systemuser": "createdby"}, read_only=True),
        Column("modifiedby", ColumnType.LOOKUP, navigation={"systemuser": "modifiedby"}, read_only=True),
    ]
    if states is not None:
        base += [
            Column("statecode", ColumnType.STATE, options=states.state_enum, indexed=True),
            Column("statuscode", ColumnType.STATUS, options=states.status_enum, indexed=True),
        ]
    columns = {c.name: c for c in base + cols}
    return Table(logical, entity_set, pk, primary_name, columns, states, otc, **kw)  # type: ignore[arg-type]


_OWNER = Column("ownerid", ColumnType.OWNER, navigation={"systemuser": "ownerid"}, indexed=True)
_ADDRESS = [
    _s("address1_line1", 250), _s("address1_line2", 250), _s("address1_line3", 250),
    _s("address1_city", 80), _s("address1_stateorprovince", 50),
    _s("address1_postalcode", 20), _s("address1_country", 80),
]
_LEAD_OPP_SHARED = [
    _money("budgetamount"), _pick("budgetstatus", e.BudgetStatus),
    _pick("purchasetimeframe", e.PurchaseTimeframe), _pick("purchaseprocess", e.PurchaseProcess),
    _pick("need", e.Need), _b("decisionmaker", _COMPLETED), _b("confirminterest", _NO_YES),
    _b("evaluatefit", _NO_YES),
    _memo("description"), _memo("qualificationcomments"),
    _pick("salesstage", e.StageCategory), _date("estimatedclosedate"),
    _lk("parentaccountid", "account"), _lk("parentcontactid", "contact"),
    _lk("transactioncurrencyid", "transactioncurrency"), _lk("campaignid", "campaign"),
    Column("processid", ColumnType.GUID), Column("stageid", ColumnType.GUID),
    _s("traversedpath", 1250), _OWNER,
]

LEAD = _table("lead", "leads", "leadid", "fullname", 4, e.LEAD_STATES, [
    _s("subject", 300, indexed=True), _s("firstname", 50), _s("lastname", 50, indexed=True),
    Column("fullname", ColumnType.STRING, max_length=160, read_only=True, indexed=True),
    _s("companyname", 100, indexed=True), _s("jobtitle", 100),
    _s("emailaddress1", 100, indexed=True), _s("telephone1", 50), _s("mobilephone", 20),
    _s("websiteurl", 200),
    _pick("leadsourcecode", e.LeadSource), _pick("leadqualitycode", e.Rating),
    _money("estimatedamount"), Column("estimatedvalue", ColumnType.DOUBLE),
    Column("customerid", ColumnType.CUSTOMER, indexed=True,
           navigation={"account": "customerid_account", "contact": "customerid_contact"}),
    _lk("qualifyingopportunityid", "opportunity"),
    *_ADDRESS, *_LEAD_OPP_SHARED,
])

CONTACT = _table("contact", "contacts", "contactid", "fullname", 2, e.ACTIVE_STATES, [
    _s("firstname", 50), _s("lastname", 50, indexed=True),
    Column("fullname", ColumnType.STRING, max_length=160, read_only=True, indexed=True),
    _s("jobtitle", 100), _s("emailaddress1", 100, indexed=True), _s("telephone1", 50),
    _s("mobilephone", 20), _s("managerphone", 50), _memo("description"),
    Column("parentcustomerid", ColumnType.CUSTOMER, indexed=True,
           navigation={"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"}),
    _lk("originatingleadid", "lead"), _lk("transactioncurrencyid", "transactioncurrency"),
    *_ADDRESS, _OWNER,
])

ACCOUNT = _table("account", "accounts", "accountid", "name", 1, e.ACTIVE_STATES, [
    _s("name", 160, indexed=True), _s("accountnumber", 20, indexed=True),
    _s("telephone1", 50), _s("address1_telephone1", 50), _s("emailaddress1", 100),
    _s("websiteurl", 200), _memo("description"),
    _lk("primarycontactid", "contact"), _lk("originatingleadid", "lead"),
    _lk("transactioncurrencyid", "transactioncurrency"), _money("revenue"),
    *_ADDRESS, _OWNER,
])

OPPORTUNITY = _table("opportunity", "opportunities", "opportunityid", "name", 3, e.OPPORTUNITY_STATES, [
    _s("name", 300, indexed=True),
    Column("customerid", ColumnType.CUSTOMER, indexed=True,
           navigation={"account": "customerid_account", "contact": "customerid_contact"}),
    _lk("originatingleadid", "lead"), _lk("pricelevelid", "pricelevel", indexed=False),
    _pick("initialcommunication", e.InitialCommunication),
    _pick("opportunityratingcode", e.Rating),
    _pick("msdyn_forecastcategory", e.ForecastCategory),
    _memo("currentsituation"), _memo("customerneed"), _memo("customerpainpoints"),
    _memo("proposedsolution"), _memo("quotecomments"),
    _money("estimatedvalue"), _money("actualvalue"),
    _date("actualclosedate"), _date("finaldecisiondate"),
    Column("closeprobability", ColumnType.INTEGER, min_value=0, max_value=100),
    _b("isrevenuesystemcalculated", ("System Calculated", "User Provided")),
    _b("identifycustomercontacts", _COMPLETED), _b("identifycompetitors", _COMPLETED),
    _b("identifypursuitteam", _COMPLETED), _b("developproposal", _COMPLETED_CAPITALISED),
    _b("completeinternalreview", _COMPLETED_CAPITALISED), _b("presentproposal", _COMPLETED_CAPITALISED),
    _b("completefinalproposal", _COMPLETED_CAPITALISED), _b("presentfinalproposal", _COMPLETED),
    _b("sendthankyounote", _COMPLETED_CAPITALISED), _b("filedebrief", _COMPLETED_CAPITALISED),
    _b("pursuitdecision", _NO_YES), _b("captureproposalfeedback", _NO_YES), _b("resolvefeedback", _NO_YES),
    _s("stepname", 200),
    *_LEAD_OPP_SHARED,
])

_REGARDING = Column("regardingobjectid", ColumnType.LOOKUP, indexed=True, navigation={
    t: f"regardingobjectid_{t}_phonecall" for t in ("opportunity", "lead", "account", "contact")})

PHONECALL = _table("phonecall", "phonecalls", "activityid", "subject", 4210, e.PHONECALL_STATES, [
    _s("subject", 200, indexed=True), _memo("description"), _s("phonenumber", 200),
    _b("directioncode", ("Outgoing", "Incoming")), _dt("scheduledstart"), _dt("scheduledend"),
    _dt("actualstart"), _dt("actualend"), Column("actualdurationminutes", ColumnType.INTEGER),
    _b("leftvoicemail"), _pick("prioritycode", e.Priority), _REGARDING, _OWNER,
], collections={"phonecall_activity_parties": CollectionNavigation(
    "phonecall_activity_parties", "activityparty", "activityid")},
   supports_bulk=False, state_valid_for_create=False)

ACTIVITYPARTY = _table("activityparty", "activityparties", "activitypartyid", "partyid", 135, None, [
    Column("activityid", ColumnType.LOOKUP, indexed=True,
           navigation={"phonecall": "activityid_phonecall"}),
    Column("partyid", ColumnType.LOOKUP, indexed=True, navigation={
        t: f"partyid_{t}" for t in ("systemuser", "contact", "account", "lead")}),
    _pick("participationtypemask", e.ParticipationType), _s("addressused", 200),
], supports_bulk=False)

OPPORTUNITYCLOSE = _table("opportunityclose", "opportunitycloses", "activityid", "subject", 4208,
                          e.ACTIVITY_STATES, [
    _s("subject", 200), _lk("opportunityid", "opportunity"), _money("actualrevenue"),
    _date("actualend"), _memo("description"), _lk("competitorid", "competitor", indexed=False),
    _pick("opportunitystatecode", e.OpportunityState),
    _pick("opportunitystatuscode", e.OpportunityStatus), _OWNER,
], state_valid_for_create=False)

PROCESS_FLOW = _table("leadtoopportunitysalesprocess", "leadtoopportunitysalesprocesses",
                      "businessprocessflowinstanceid", "name", 954, e.PROCESS_FLOW_STATES, [
    _s("name", 200),
    _lk("leadid", "lead", nav="leadId"), _lk("opportunityid", "opportunity", nav="opportunityId"),
    _lk("activestageid", "processstage"), _lk("processid", "workflow"),
    _s("traversedpath", 1250), _dt("activestagestartedon"), _dt("completedon"),
    Column("duration", ColumnType.INTEGER, read_only=True),
], supports_bulk=False)

PROCESSSTAGE = _table("processstage", "processstages", "processstageid", "stagename", 4724, None, [
    _s("stagename", 100), _pick("stagecategory", e.StageCategory),
    Column("primaryentitytypecode", ColumnType.ENTITYNAME), _lk("processid", "workflow"),
    _memo("clientdata", 1073741823),
], supports_bulk=False)

WORKFLOW = _table("workflow", "workflows", "workflowid", "name", 4703, None, [
    _s("name", 100), Column("primaryentity", ColumnType.ENTITYNAME),
    Column("category", ColumnType.INTEGER), Column("uniquename", ColumnType.STRING, max_length=256),
], supports_bulk=False)

SYSTEMUSER = _table("systemuser", "systemusers", "systemuserid", "fullname", 8, None, [
    _s("fullname", 200), _s("firstname", 64), _s("lastname", 64),
    _s("domainname", 1024), _s("internalemailaddress", 100),
    _lk("businessunitid", "businessunit"), Column("azureactivedirectoryobjectid", ColumnType.GUID),
    _b("isdisabled", ("Disabled", "Enabled")),
], supports_bulk=False)

BUSINESSUNIT = _table("businessunit", "businessunits", "businessunitid", "name", 10, None, [
    _s("name", 160),
], supports_bulk=False)

ORGANIZATION = _table("organization", "organizations", "organizationid", "name", 1019, None, [
    _s("name", 160), _lk("basecurrencyid", "transactioncurrency"),
], supports_bulk=False)

TRANSACTIONCURRENCY = _table("transactioncurrency", "transactioncurrencies", "transactioncurrencyid",
                             "currencyname", 9105, e.ACTIVE_STATES, [
    _s("currencyname", 100), _s("isocurrencycode", 5, indexed=True), _s("currencysymbol", 10),
    Column("exchangerate", ColumnType.DECIMAL), Column("currencyprecision", ColumnType.INTEGER),
], supports_bulk=False)

CAMPAIGN = _table("campaign", "campaigns", "campaignid", "name", 4400, None, [_s("name", 128)],
                  supports_bulk=False)
COMPETITOR = _table("competitor", "competitors", "competitorid", "name", 123, None, [_s("name", 100)],
                    supports_bulk=False)

#: Every table, by logical name.
TABLES: dict[str, Table] = {t.logical_name: t for t in (
    LEAD, CONTACT, ACCOUNT, OPPORTUNITY, PHONECALL, ACTIVITYPARTY, OPPORTUNITYCLOSE,
    PROCESS_FLOW, PROCESSSTAGE, WORKFLOW, SYSTEMUSER, BUSINESSUNIT, ORGANIZATION,
    TRANSACTIONCURRENCY, CAMPAIGN, COMPETITOR,
)}
#: Every table, by entity set name.
BY_ENTITY_SET: dict[str, Table] = {t.entity_set: t for t in TABLES.values()}


def table(name: str) -> Table:
    """Look a table up by logical name or entity set name.

    Raises ``KeyError`` naming the unknown table.
    """
    found = TABLES.get(name) or BY_ENTITY_SET.get(name)
    if found is None:
        raise KeyError(f"unknown table {name!r}")
    return found

# Platform tables (audit, usersettings, timezonedefinition) and the organization's audit columns.
from d365lab.models.schema_platform import add_platform_tables  # noqa: E402 - needs the classes above

add_platform_tables(TABLES, BY_ENTITY_SET)
