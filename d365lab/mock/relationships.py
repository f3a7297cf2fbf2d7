"""One-to-many relationships seen from the "one" side: collection-valued navigation properties.

``accounts(<id>)/lead_parent_account`` lists the leads whose ``parentaccountid`` is that
account; ``POST …/lead_parent_account/$ref {"@odata.id": ".../leads(<id>)"}`` associates
one (sets the lead's lookup), ``DELETE …/lead_parent_account(<lead id>)/$ref`` clears it.
Names are the out-of-box relationship names of the Sales tables. The schema's own
collections (``phonecall_activity_parties``) are included too.
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
        OneToMany("contact_customer_accounts", "contact", "parentcustomerid"),
        OneToMany("opportunity_customer_accounts", "opportunity", "customerid"),
        OneToMany("opportunity_parent_account", "opportunity", "parentaccountid"),
        OneToMany("Account_Phonecalls", "phonecall", "regardingobjectid"),
    ],
    "contact": [
        OneToMany("lead_parent_contact", "lead", "parentcontactid"),
        OneToMany("contact_customer_contacts", "contact", "parentcustomerid"),
        OneToMany("opportunity_customer_contacts", "opportunity", "customerid"),
        OneToMany("opportunity_parent_contact", "opportunity", "parentcontactid"),
        OneToMany("account_primary_contact", "account", "primarycontactid"),
        OneToMany("Contact_Phonecalls", "phonecall", "regardingobjectid"),
    ],
    "lead": [
        OneToMany("account_originating_lead", "account", "originatingleadid"),
        OneToMany("contact_originating_lead", "contact", "originatingleadid"),
        OneToMany("opportunity_originating_lead", "opportunity", "originatingleadid"),
        OneToMany("Lead_Phonecalls", "phonecall", "regardingobjectid"),
    ],
    "opportunity": [
        OneToMany("Opportunity_Phonecalls", "phonecall", "regardingobjectid"),
        OneToMany("Opportunity_OpportunityClose", "opportunityclose", "opportunityid"),
    ],
}


def one_to_many(table: Table) -> dict[str, OneToMany]:
    """Every collection-valued navigation of a table, by name."""
    found = {r.name: r for r in _OOB.get(table.logical_name, [])
             if r.target in TABLES and r.column in TABLES[r.target].columns}
    for nav in table.collections.values():
        found[nav.name] = OneToMany(nav.name, nav.target, nav.referencing_column)
    return found
