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

from d365lab.models.schema import TABLES, Table


@dataclass(frozen=True)
class OneToMany:
    """A collection-valued navigation: rows of ``target`` whose ``column`` points to the parent."""

    name: str
    target: str
    column: str


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


def one_to_many(table: Table) -> dict[str, OneToMany]:
    """Every collection-valued navigation of a table, by name."""
    found = {r.name: r for r in _OOB.get(table.logical_name, [])
             if r.target in TABLES and r.column in TABLES[r.target].columns}
    for nav in table.collections.values():
        found[nav.name] = OneToMany(nav.name, nav.target, nav.referencing_column)
    return found
