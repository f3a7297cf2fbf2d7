"""QualifyLead through the Web API of the mock: the lab's two shapes, effects and every validation error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.seed import USD_CURRENCY_ID
from d365lab.mock.settings import MockSettings
from d365lab.models.schema import STAGE_IDS

Create = Callable[[str, dict[str, Any]], str]
FLOWS = "leadtoopportunitysalesprocesses"
ALL_THREE = {"CreateAccount": True, "CreateContact": True, "CreateOpportunity": True, "Status": 3}
CONTACT_AND_OPPORTUNITY = {"CreateAccount": False, "CreateContact": True, "CreateOpportunity": True, "Status": 3}
LEAD = {
    "subject": "Coffee machines for HQ", "firstname": "Jon", "lastname": "Doe", "jobtitle": "Buyer",
    "emailaddress1": "jon@fabrikam.example", "telephone1": "555-0100", "websiteurl": "https://fabrikam.example",
    "address1_city": "Redmond", "budgetamount": 17000, "purchasetimeframe": 1, "purchaseprocess": 1,
    "description": "Wants 12 machines",
}


def qualify(api: ServiceRootSession, lead: str, body: dict[str, Any]) -> Any:
    return api.post(f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json=body)


def created(response: Any) -> dict[str, str]:
    """``{logical name: id}`` of the crmbaseentity collection."""
    assert response.status_code == 200, response.text
    out: dict[str, str] = {}
    for item in response.json()["value"]:
        logical = item["@odata.type"].rsplit(".", 1)[1]
        out[logical] = item[f"{logical}id"]
    return out


def get(api: ServiceRootSession, path: str) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def count(api: ServiceRootSession, entity_set: str) -> int:
    return int(api.get(f"{entity_set}/$count").text.lstrip("\ufeff"))


def test_company_lead_creates_account_contact_and_opportunity(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {**LEAD, "companyname": "Fabrikam"})
    response = qualify(api, lead, ALL_THREE)
    body = response.json()
    assert body["@odata.context"] == f"{api.service_root}$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)"
    assert [item["@odata.type"] for item in body["value"]] == [
        "#Microsoft.Dynamics.CRM.account", "#Microsoft.Dynamics.CRM.contact", "#Microsoft.Dynamics.CRM.opportunity"]
    ids = created(response)

    account = get(api, f"accounts({ids['account']})?$select=name,websiteurl,telephone1,address1_city,"
                       "_originatingleadid_value")
    assert (account["name"], account["websiteurl"], account["address1_city"]) == (
        "Fabrikam", "https://fabrikam.example", "Redmond")
    assert account["_originatingleadid_value"] == lead

    contact = get(api, f"contacts({ids['contact']})?$select=fullname,jobtitle,emailaddress1,"
                       "_parentcustomerid_value,_originatingleadid_value")
    assert (contact["fullname"], contact["jobtitle"], contact["emailaddress1"]) == (
        "Jon Doe", "Buyer", "jon@fabrikam.example")
    assert contact["_parentcustomerid_value"] == ids["account"]
    assert contact["_originatingleadid_value"] == lead

    opportunity = get(api, f"opportunities({ids['opportunity']})?$select=name,budgetamount,purchasetimeframe,"
                           "description,_customerid_value,_parentaccountid_value,_parentcontactid_value,"
                           "_originatingleadid_value,_transactioncurrencyid_value,statecode")
    assert opportunity["name"] == "Coffee machines for HQ"
    assert (opportunity["budgetamount"], opportunity["purchasetimeframe"]) == (17000, 1)
    assert opportunity["description"] == "Wants 12 machines"
    assert opportunity["_customerid_value"] == ids["account"]
    assert opportunity["_parentaccountid_value"] == ids["account"]
    assert opportunity["_parentcontactid_value"] == ids["contact"]
    assert opportunity["_originatingleadid_value"] == lead
    assert opportunity["_transactioncurrencyid_value"] == USD_CURRENCY_ID
    assert opportunity["statecode"] == 0

    row = get(api, f"leads({lead})?$select=statecode,statuscode,_qualifyingopportunityid_value,"
                   "_parentaccountid_value,_parentcontactid_value")
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    assert row["_qualifyingopportunityid_value"] == ids["opportunity"]
    assert (row["_parentaccountid_value"], row["_parentcontactid_value"]) == (ids["account"], ids["contact"])


def test_lead_without_company_creates_contact_and_opportunity(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    ids = created(qualify(api, lead, CONTACT_AND_OPPORTUNITY))
    assert set(ids) == {"contact", "opportunity"}
    opportunity = get(api, f"opportunities({ids['opportunity']})?$select=_customerid_value,_parentaccountid_value")
    assert opportunity["_customerid_value"] == ids["contact"]
    assert opportunity["_parentaccountid_value"] is None
    assert count(api, "accounts") == 0


def test_create_account_without_company_is_skipped_by_default(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    ids = created(qualify(api, lead, ALL_THREE))
    assert set(ids) == {"contact", "opportunity"}
    assert count(api, "accounts") == 0


class TestAccountWithoutCompanyIsAnError:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"qualify_account_without_company": "error"})

    def test_refused_and_nothing_changes(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", LEAD)
        response = qualify(api, lead, ALL_THREE)
        assert response.status_code == 400
        assert "companyname" in response.json()["error"]["message"]
        assert get(api, f"leads({lead})?$select=statecode")["statecode"] == 0
        assert count(api, "contacts") == count(api, "opportunities") == 0


class TestContactNotLinked:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"qualify_links_contact_to_account": False})

    def test_contact_has_no_parent(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", {**LEAD, "companyname": "Fabrikam"})
        ids = created(qualify(api, lead, ALL_THREE))
        assert get(api, f"contacts({ids['contact']})?$select=_parentcustomerid_value")[
            "_parentcustomerid_value"] is None


def test_qualify_moves_the_process_to_develop(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    ids = created(qualify(api, lead, CONTACT_AND_OPPORTUNITY))
    (instance,) = api.get(f"{FLOWS}?$filter=_leadid_value eq {lead}").json()["value"]
    assert instance["_activestageid_value"] == STAGE_IDS["Develop"]
    assert instance["_opportunityid_value"] == ids["opportunity"]
    assert instance["traversedpath"] == f"{STAGE_IDS['Qualify']},{STAGE_IDS['Develop']}"


def test_qualify_without_opportunity_leaves_the_process_at_qualify(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    ids = created(qualify(api, lead, {"CreateAccount": False, "CreateContact": True,
                                      "CreateOpportunity": False, "Status": 3}))
    assert set(ids) == {"contact"}
    (instance,) = api.get(f"{FLOWS}?$filter=_leadid_value eq {lead}").json()["value"]
    assert instance["_activestageid_value"] == STAGE_IDS["Qualify"]


class TestProcessNotAdvanced:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"qualify_advances_process_flow": False})

    def test_instance_stays_at_qualify(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", LEAD)
        created(qualify(api, lead, CONTACT_AND_OPPORTUNITY))
        (instance,) = api.get(f"{FLOWS}?$filter=_leadid_value eq {lead}").json()["value"]
        assert instance["_activestageid_value"] == STAGE_IDS["Qualify"]


def test_all_flags_false_returns_an_empty_collection(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    response = qualify(api, lead, {"CreateAccount": False, "CreateContact": False,
                                   "CreateOpportunity": False, "Status": 3})
    assert response.status_code == 200
    assert response.json()["value"] == []
    assert get(api, f"leads({lead})?$select=statecode")["statecode"] == 1


def test_existing_customer_and_currency_are_used(api: ServiceRootSession, create: Create) -> None:
    customer = create("contacts", {"lastname": "Existing"})
    lead = create("leads", {**LEAD, "companyname": "Fabrikam"})
    ids = created(qualify(api, lead, {
        **ALL_THREE,
        "OpportunityCustomerId": {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": customer},
        "OpportunityCurrencyId": {"@odata.type": "Microsoft.Dynamics.CRM.transactioncurrency",
                                  "transactioncurrencyid": USD_CURRENCY_ID},
    }))
    opportunity = get(api, f"opportunities({ids['opportunity']})?$select=_customerid_value")
    assert opportunity["_customerid_value"] == customer


# ----------------------------------------------------------------------------- errors

def test_missing_lead_is_404(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-0000000000aa"
    response = qualify(api, missing, ALL_THREE)
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "0x80040217", "message": f"lead With Id = {missing} Does Not Exist"}


@pytest.mark.parametrize("close", [{"statecode": 1, "statuscode": 3}, {"statecode": 2, "statuscode": 6}])
def test_closed_lead_cannot_be_qualified(api: ServiceRootSession, create: Create, close: dict[str, int]) -> None:
    lead = create("leads", LEAD)
    assert api.patch(f"leads({lead})", json=close).status_code == 204
    response = qualify(api, lead, CONTACT_AND_OPPORTUNITY)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "The lead is closed. You cannot convert or qualify a lead that is already closed.")
    assert count(api, "contacts") == count(api, "opportunities") == 0


def test_qualifying_twice_is_refused(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    created(qualify(api, lead, CONTACT_AND_OPPORTUNITY))
    assert qualify(api, lead, CONTACT_AND_OPPORTUNITY).status_code == 400
    assert count(api, "opportunities") == 1


def test_status_must_belong_to_qualified(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    response = qualify(api, lead, {**CONTACT_AND_OPPORTUNITY, "Status": 4})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"4 is not a valid status code for state code LeadState.Qualified on lead with Id {lead}.")


@pytest.mark.parametrize("missing", ["CreateAccount", "CreateContact", "CreateOpportunity", "Status"])
def test_required_parameters(api: ServiceRootSession, create: Create, missing: str) -> None:
    lead = create("leads", LEAD)
    body = {k: v for k, v in ALL_THREE.items() if k != missing}
    response = qualify(api, lead, body)
    assert response.status_code == 400
    assert missing in response.json()["error"]["message"]


def test_boolean_parameters_must_be_booleans(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    assert qualify(api, lead, {**ALL_THREE, "CreateContact": "yes"}).status_code == 400


def test_opportunity_customer_must_be_account_or_contact(api: ServiceRootSession, create: Create) -> None:
    other = create("leads", {"subject": "other"})
    lead = create("leads", LEAD)
    response = qualify(api, lead, {**CONTACT_AND_OPPORTUNITY, "OpportunityCustomerId": {
        "@odata.type": "Microsoft.Dynamics.CRM.lead", "leadid": other}})
    assert response.status_code == 400
    assert "OpportunityCustomerId" in response.json()["error"]["message"]


def test_missing_opportunity_customer_is_404(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", LEAD)
    response = qualify(api, lead, {**CONTACT_AND_OPPORTUNITY, "OpportunityCustomerId": {
        "@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": "00000000-0000-0000-0000-0000000000bb"}})
    assert response.status_code == 404


def test_a_late_failure_rolls_everything_back(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {**LEAD, "companyname": "Fabrikam"})
    (instance,) = api.get(f"{FLOWS}?$filter=_leadid_value eq {lead}").json()["value"]
    flow_id = instance["businessprocessflowinstanceid"]
    assert api.patch(f"{FLOWS}({flow_id})", json={"statecode": 1, "statuscode": 3}).status_code == 204
    # The aborted instance cannot move to Develop: the failure comes after the three creates.
    response = qualify(api, lead, {**ALL_THREE, "ProcessInstanceId": {
        "@odata.type": "Microsoft.Dynamics.CRM.leadtoopportunitysalesprocess",
        "businessprocessflowinstanceid": flow_id}})
    assert response.status_code == 400
    assert count(api, "accounts") == count(api, "contacts") == count(api, "opportunities") == 0
    row = get(api, f"leads({lead})?$select=statecode,_qualifyingopportunityid_value")
    assert (row["statecode"], row["_qualifyingopportunityid_value"]) == (0, None)
