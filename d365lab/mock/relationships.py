"""One-to-many relationships seen from the "one" side: collection-valued navigation properties.

``accounts(<id>)/lead_parent_account`` lists the leads whose ``parentaccountid`` is that
account; ``POST …/lead_parent_account/$ref {"@odata.id": ".../leads(<id>)"}`` associates
one (sets the lead's lookup), ``DELETE …/lead_parent_account(<lead id>)/$ref`` clears it.
Names are the out-of-box collection-valued navigation properties (case-sensitive), each
checked against Microsoft's Web API EntityType reference (the "Collection-valued navigation
properties" table of account, contact, lead, opportunity, campaign, competitor and
transactioncurrency, and the partners listed for activityparty's ``partyid_*``). The
schema's own collections (``phonecall_activity_parties``) are included too.
"""

from __future__ import annotations

from dataclasses import dataclass

from d365lab.models.activity_tables import REGARDING_PARENTS, REGARDING_SUFFIX
from d365lab.models.schema import TABLES, CollectionNavigation, Table

#: A collection-valued navigation: declared once, as the schema's :class:`CollectionNavigation`
#: (``column`` reads its ``referencing_column``; ``intersect`` is set for a many-to-many one).
OneToMany = CollectionNavigation


@dataclass(frozen=True)
class ManyToMany:
    """An N:N relationship stored in an intersect table (``opportunitycompetitors``)."""

    name: str
    intersect: str
    table1: str
    column1: str
    table2: str
    column2: str


#: The out-of-box N:N relationships between the mock's tables. The navigation property has
#: the relationship's name on both sides, as in Microsoft's Web API EntityType reference.
MANY_TO_MANY = (
    ManyToMany("opportunitycompetitors_association", "opportunitycompetitors",
               "opportunity", "opportunityid", "competitor", "competitorid"),
)
_LINK_PREFIX = "\x00nn:"


def intersect_link(intersect: str, parent_column: str, child_column: str) -> str:
    """The synthetic ``column`` of a many-to-many :class:`OneToMany`."""
    return f"{_LINK_PREFIX}{intersect}:{parent_column}:{child_column}"


def parse_intersect_link(column: str) -> tuple[str, str, str] | None:
    """``(intersect, parent column, child column)`` of a synthetic column, None for a real lookup."""
    if not column.startswith(_LINK_PREFIX):
        return None
    intersect, parent_column, child_column = column[len(_LINK_PREFIX):].split(":")
    return intersect, parent_column, child_column


def _many_to_many(table: Table) -> list[OneToMany]:
    found: list[OneToMany] = []
    for rel in MANY_TO_MANY:
        for this, this_col, other, other_col in ((rel.table1, rel.column1, rel.table2, rel.column2),
                                                 (rel.table2, rel.column2, rel.table1, rel.column1)):
            if this == table.logical_name and other in TABLES:
                found.append(OneToMany(rel.name, other, intersect_link(rel.intersect, this_col, other_col),
                                       rel.intersect))
    return found


_OOB: dict[str, list[OneToMany]] = {
    "account": [
        OneToMany("lead_parent_account", "lead", "parentaccountid"),
        OneToMany("lead_customer_accounts", "lead", "customerid"),
        OneToMany("contact_customer_accounts", "contact", "parentcustomerid"),
        OneToMany("opportunity_customer_accounts", "opportunity", "customerid"),
        OneToMany("opportunity_parent_account", "opportunity", "parentaccountid"),
        OneToMany("Account_Phonecalls", "phonecall", "regardingobjectid"),
        OneToMany("account_activity_parties", "activityparty", "partyid"),
    ],
    "contact": [
        OneToMany("lead_parent_contact", "lead", "parentcontactid"),
        OneToMany("lead_customer_contacts", "lead", "customerid"),
        OneToMany("contact_customer_contacts", "contact", "parentcustomerid"),
        OneToMany("opportunity_customer_contacts", "opportunity", "customerid"),
        OneToMany("opportunity_parent_contact", "opportunity", "parentcontactid"),
        OneToMany("account_primary_contact", "account", "primarycontactid"),
        OneToMany("Contact_Phonecalls", "phonecall", "regardingobjectid"),
        OneToMany("contact_activity_parties", "activityparty", "partyid"),
    ],
    "lead": [
        OneToMany("account_originating_lead", "account", "originatingleadid"),
        OneToMany("contact_originating_lead", "contact", "originatingleadid"),
        OneToMany("opportunity_originating_lead", "opportunity", "originatingleadid"),
        OneToMany("Lead_Phonecalls", "phonecall", "regardingobjectid"),
        OneToMany("lead_activity_parties", "activityparty", "partyid"),
        OneToMany("lead_leadtoopportunitysalesprocess", "leadtoopportunitysalesprocess", "leadid"),
    ],
    "opportunity": [
        OneToMany("Opportunity_Phonecalls", "phonecall", "regardingobjectid"),
        OneToMany("Opportunity_OpportunityClose", "opportunityclose", "opportunityid"),
        OneToMany("lead_qualifying_opportunity", "lead", "qualifyingopportunityid"),
        OneToMany("opportunity_leadtoopportunitysalesprocess", "leadtoopportunitysalesprocess", "opportunityid"),
    ],
    "campaign": [
        OneToMany("campaign_leads", "lead", "campaignid"),
        OneToMany("campaign_opportunities", "opportunity", "campaignid"),
    ],
    "competitor": [
        OneToMany("competitor_opportunity_activities", "opportunityclose", "competitorid"),
    ],
    "systemuser": [
        OneToMany("system_user_activity_parties", "activityparty", "partyid"),
        OneToMany("lk_audit_userid", "audit", "userid"),
        OneToMany("lk_audit_callinguserid", "audit", "callinguserid"),
    ],
    "transactioncurrency": [
        OneToMany("transactioncurrency_account", "account", "transactioncurrencyid"),
        OneToMany("transactioncurrency_contact", "contact", "transactioncurrencyid"),
        OneToMany("transactioncurrency_lead", "lead", "transactioncurrencyid"),
        OneToMany("transactioncurrency_opportunity", "opportunity", "transactioncurrencyid"),
    ],
}

# The regarding navigations of the other activity tables (Account_Tasks, Lead_Emails,
# Opportunity_Appointments, Contact_ActivityPointers...), named like Account_Phonecalls.
for _parent, _prefix in REGARDING_PARENTS.items():
    for _activity in ("task", "email", "appointment", "activitypointer"):
        _OOB[_parent].append(OneToMany(f"{_prefix}_{REGARDING_SUFFIX[_activity]}", _activity, "regardingobjectid"))

_CACHE: dict[int, tuple[Table, dict[str, OneToMany]]] = {}


def one_to_many(table: Table) -> dict[str, OneToMany]:
    """Every collection-valued navigation of a table, by name (computed once per table; do not modify)."""
    cached = _CACHE.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    found = {r.name: r for r in _OOB.get(table.logical_name, [])
             if r.target in TABLES and r.column in TABLES[r.target].columns}
    found.update({nav.name: nav for nav in table.collections.values()})
    for relation in _many_to_many(table):
        found[relation.name] = relation
    _CACHE[id(table)] = (table, found)
    return found
