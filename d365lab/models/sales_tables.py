"""The Sales tables: every column from the generated CDM facts, plus the Sales behaviour.

What is written here by hand is behaviour, not column facts: the option-set enums the
client's API uses (checked against the generated option lists), state machines, indexes,
and the tables CDM does not describe (the Lead to Opportunity process flow, process stages,
workflows, the organization). Column facts come from ``cdm_columns.json``
(``scripts/generate_schema.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d365lab.models import enums as e
from d365lab.models.cdm import cdm_columns, cdm_table_facts, state_model
from d365lab.models.columns import Column, ColumnType, Table

# --------------------------------------------------------------------------- builders


def indexed(*names: str) -> dict[str, dict[str, Any]]:
    """``refine`` entries marking columns as indexed (the mock's SQL indexes)."""
    return {name: {"indexed": True} for name in names}


def cdm_table(logical: str, entity_set: str, primary_name: str, otc: int, states: e.StateModel | None,
              refine: Mapping[str, Mapping[str, Any]] | None = None, extra: list[Column] | None = None,
              **kw: Any) -> Table:
    """A table whose columns are the generated CDM columns, refined by hand and completed by ``extra``.

    The primary key, statecode and statuscode are always indexed.
    """
    pk = cdm_table_facts(logical)["primary_id"]
    changes: dict[str, dict[str, Any]] = {pk: {"indexed": True}}
    if states is not None:
        changes.update(indexed("statecode", "statuscode"))
    for name, change in (refine or {}).items():
        changes[name] = {**changes.get(name, {}), **change}
    columns = cdm_columns(logical, states=states, refine=changes)
    for column in extra or []:
        columns[column.name] = column
    return Table(logical, entity_set, pk, primary_name, columns, states, otc,
                 display_name=cdm_table_facts(logical)["display_name"], **kw)


def _s(name: str, n: int, **kw: Any) -> Column:
    return Column(name, ColumnType.STRING, max_length=n, **kw)


def _memo(name: str, n: int = 2000) -> Column:
    return Column(name, ColumnType.MEMO, max_length=n)


def _b(name: str, labels: tuple[str, str] = ("Yes", "No"), default: bool = False) -> Column:
    """A two-option column; ``labels`` is (true label, false label), as in the out-of-box schema."""
    return Column(name, ColumnType.BOOLEAN, true_label=labels[0], false_label=labels[1], default=default)


def _pick(name: str, options: type[Any]) -> Column:
    return Column(name, ColumnType.PICKLIST, options=options)


def _lk(name: str, target: str, nav: str | None = None, indexed: bool = True) -> Column:
    return Column(name, ColumnType.LOOKUP, navigation={target: nav or name}, indexed=indexed)


def _dt(name: str, read_only: bool = False) -> Column:
    return Column(name, ColumnType.DATETIME, read_only=read_only)


def _table(logical: str, entity_set: str, pk: str, primary_name: str, otc: int,
           states: e.StateModel | None, cols: list[Column], **kw: Any) -> Table:
    """A table written by hand (not in CDM): the platform columns, the states, then ``cols``."""
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
    return Table(logical, entity_set, pk, primary_name, columns, states, otc, **kw)


# --------------------------------------------------------------------------- Sales tables

_LEAD_OPP_OPTIONS: dict[str, dict[str, Any]] = {
    "budgetstatus": {"options": e.BudgetStatus}, "purchasetimeframe": {"options": e.PurchaseTimeframe},
    "purchaseprocess": {"options": e.PurchaseProcess}, "need": {"options": e.Need},
}
_LEAD_OPP_INDEXED = indexed("parentaccountid", "parentcontactid", "transactioncurrencyid", "campaignid",
                            "ownerid", "customerid")

LEAD = cdm_table("lead", "leads", "fullname", 4, e.LEAD_STATES, {
    **_LEAD_OPP_OPTIONS, **_LEAD_OPP_INDEXED,
    "leadsourcecode": {"options": e.LeadSource}, "leadqualitycode": {"options": e.Rating},
    **indexed("subject", "lastname", "fullname", "companyname", "emailaddress1", "qualifyingopportunityid"),
    "customerid": {"indexed": True},
})

CONTACT = cdm_table("contact", "contacts", "fullname", 2, e.ACTIVE_STATES, {
    **indexed("lastname", "fullname", "emailaddress1", "parentcustomerid", "originatingleadid",
              "transactioncurrencyid", "ownerid"),
})

ACCOUNT = cdm_table("account", "accounts", "name", 1, e.ACTIVE_STATES, {
    **indexed("name", "accountnumber", "primarycontactid", "originatingleadid", "transactioncurrencyid",
              "ownerid", "parentaccountid"),
})

OPPORTUNITY = cdm_table("opportunity", "opportunities", "name", 3, e.OPPORTUNITY_STATES, {
    **_LEAD_OPP_OPTIONS, **_LEAD_OPP_INDEXED,
    **indexed("name", "originatingleadid"),
    "initialcommunication": {"options": e.InitialCommunication},
    "opportunityratingcode": {"options": e.Rating},
    "msdyn_forecastcategory": {"options": e.ForecastCategory},
})

CAMPAIGN = cdm_table("campaign", "campaigns", "name", 4400, state_model("campaign", "Campaign"),
                     supports_bulk=False)
COMPETITOR = cdm_table("competitor", "competitors", "name", 123, None, supports_bulk=False)

SYSTEMUSER = cdm_table("systemuser", "systemusers", "fullname", 8, None, indexed("businessunitid"),
                       supports_bulk=False)
BUSINESSUNIT = cdm_table("businessunit", "businessunits", "name", 10, None, supports_bulk=False)
TRANSACTIONCURRENCY = cdm_table("transactioncurrency", "transactioncurrencies", "currencyname", 9105,
                                e.ACTIVE_STATES, indexed("isocurrencycode"), supports_bulk=False)

# --------------------------------------------------------------------------- not in CDM (by hand)

ORGANIZATION = _table("organization", "organizations", "organizationid", "name", 1019, None, [
    _s("name", 160), _lk("basecurrencyid", "transactioncurrency"),
], supports_bulk=False)

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
