"""``exchangerate`` and the ``*_base`` money columns, through every write path, over plain HTTP.

Source: Microsoft Learn, "Transaction Currency (currency) table": for each money column the
platform keeps a read-only base column, ``creditlimit_base = creditlimit / exchangerate``;
the exchange rate is the value of the transaction currency equal to one base currency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.seed import USD_CURRENCY_ID
from d365lab.mock.settings import MockSettings
from tests.mock.test_batch import change_set, part, send

Create = Callable[[str, dict[str, Any]], str]
REPRESENTATION = {"Prefer": "return=representation"}
OPPORTUNITY_TYPE = "Microsoft.Dynamics.CRM.opportunity"


def add_currency(api: ServiceRootSession, rate: float, code: str = "EUR", precision: int = 2) -> str:
    """Create a transaction currency with ``rate`` units per base unit; return its id."""
    response = api.post("transactioncurrencies", headers=REPRESENTATION, json={
        "currencyname": code, "isocurrencycode": code, "currencysymbol": code[0],
        "exchangerate": rate, "currencyprecision": precision})
    assert response.status_code == 201, response.text
    return str(response.json()["transactioncurrencyid"])


def in_currency(currency_id: str) -> dict[str, str]:
    """The bind that puts a row in a currency."""
    return {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency_id})"}


def read(api: ServiceRootSession, path: str, columns: str) -> dict[str, Any]:
    response = api.get(f"{path}?$select={columns}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def eur(api: ServiceRootSession) -> str:
    return add_currency(api, 2)


def test_create_in_another_currency_divides_by_its_rate(api: ServiceRootSession, eur: str) -> None:
    created = api.post("leads", headers=REPRESENTATION, json={
        "lastname": "Doe", "budgetamount": 100.555, "revenue": 10, "estimatedamount": 3, **in_currency(eur)})
    assert created.status_code == 201, created.text
    lead = created.json()
    assert (lead["exchangerate"], lead["budgetamount_base"], lead["revenue_base"], lead["estimatedamount_base"]) == (
        2.0, 50.28, 5.0, 1.5)
    again = read(api, f"leads({lead['leadid']})", "budgetamount_base,revenue_base,exchangerate")
    assert (again["budgetamount_base"], again["revenue_base"], again["exchangerate"]) == (50.28, 5.0, 2.0)
    assert again["_transactioncurrencyid_value"] == eur  # a money column selected adds the currency


def test_money_without_currency_takes_the_base_currency_at_rate_one(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"lastname": "Doe", "budgetamount": 100.555})
    row = read(api, f"leads({lead})", "budgetamount,budgetamount_base,exchangerate")
    assert row["_transactioncurrencyid_value"] == USD_CURRENCY_ID
    assert (row["budgetamount"], row["budgetamount_base"], row["exchangerate"]) == (100.555, 100.56, 1.0)
    bare = create("leads", {"lastname": "Roe"})
    row = read(api, f"leads({bare})", "budgetamount_base,exchangerate")
    assert (row["budgetamount_base"], row["exchangerate"], row["_transactioncurrencyid_value"]) == (None, None, None)


def test_updates_recompute_and_take_the_new_rate_only_with_money_or_currency(
        api: ServiceRootSession, create: Create, eur: str) -> None:
    opportunity = create("opportunities", {"name": "Deal", "budgetamount": 100, **in_currency(eur)})
    assert api.patch(f"transactioncurrencies({eur})", json={"exchangerate": 4}).status_code == 204
    assert api.patch(f"opportunities({opportunity})", json={"description": "x"}).status_code == 204
    row = read(api, f"opportunities({opportunity})", "budgetamount_base,exchangerate")
    assert (row["budgetamount_base"], row["exchangerate"]) == (50.0, 2.0)  # no money written: old rate kept
    assert api.patch(f"opportunities({opportunity})", json={"estimatedvalue": 8}).status_code == 204
    row = read(api, f"opportunities({opportunity})", "budgetamount_base,estimatedvalue_base,exchangerate")
    assert (row["budgetamount_base"], row["estimatedvalue_base"], row["exchangerate"]) == (25.0, 2.0, 4.0)
    assert api.patch(f"opportunities({opportunity})", json=in_currency(USD_CURRENCY_ID)).status_code == 204
    row = read(api, f"opportunities({opportunity})", "budgetamount_base,estimatedvalue_base,exchangerate")
    assert (row["budgetamount_base"], row["estimatedvalue_base"], row["exchangerate"]) == (100.0, 8.0, 1.0)
    assert api.patch(f"opportunities({opportunity})", json={"budgetamount": None}).status_code == 204
    assert read(api, f"opportunities({opportunity})", "budgetamount_base")["budgetamount_base"] is None


def test_every_write_refresh_is_a_setting(mock_settings: MockSettings, api: ServiceRootSession, create: Create,
                                          eur: str) -> None:
    mock_settings.computed.exchange_rate_refresh = "every_write"
    lead = create("leads", {"lastname": "Doe", "revenue": 100, **in_currency(eur)})
    assert api.patch(f"transactioncurrencies({eur})", json={"exchangerate": 5}).status_code == 204
    assert api.patch(f"leads({lead})", json={"jobtitle": "Buyer"}).status_code == 204
    row = read(api, f"leads({lead})", "revenue_base,exchangerate")
    assert (row["revenue_base"], row["exchangerate"]) == (20.0, 5.0)


def test_rounding_follows_the_base_currency_or_the_money_setting(mock_settings: MockSettings, api: ServiceRootSession,
                                                                 create: Create) -> None:
    thirds = add_currency(api, 3, "GBP")
    lead = create("leads", {"lastname": "Doe", "revenue": 10, "budgetamount": 0.125, **in_currency(thirds)})
    row = read(api, f"leads({lead})", "revenue_base,budgetamount_base")
    assert (row["revenue_base"], row["budgetamount_base"]) == (3.33, 0.04)
    mock_settings.computed.base_rounding = "money"
    assert api.patch(f"leads({lead})", json={"revenue": 10}).status_code == 204
    assert read(api, f"leads({lead})", "revenue_base")["revenue_base"] == 3.3333


def test_computed_columns_are_refused_when_written(api: ServiceRootSession, create: Create) -> None:
    for column, value in (("budgetamount_base", 5), ("exchangerate", 2)):
        answer = api.post("leads", json={"lastname": "Doe", "budgetamount": 10, column: value})
        assert answer.status_code == 400
        assert f"'{column}' attribute of the 'lead' entity is read-only" in answer.json()["error"]["message"]
    lead = create("leads", {"lastname": "Doe", "budgetamount": 10})
    assert api.patch(f"leads({lead})", json={"budgetamount_base": 1}).status_code == 400
    assert read(api, f"leads({lead})", "budgetamount_base")["budgetamount_base"] == 10.0


def test_the_base_currency_keeps_rate_one(api: ServiceRootSession, eur: str) -> None:
    refused = api.patch(f"transactioncurrencies({USD_CURRENCY_ID})", json={"exchangerate": 2})
    assert refused.status_code == 400
    assert "base currency" in refused.json()["error"]["message"]
    assert api.patch(f"transactioncurrencies({USD_CURRENCY_ID})", json={"currencysymbol": "US$"}).status_code == 204
    currency = read(api, f"transactioncurrencies({eur})", "_organizationid_value")
    assert currency["_organizationid_value"] is not None  # a new currency belongs to the organization


def test_a_base_value_past_the_money_range_is_a_400(api: ServiceRootSession) -> None:
    tiny = add_currency(api, 0.0001, "XXX")
    answer = api.post("leads", json={"lastname": "Doe", "budgetamount": 1_000_000_000_000, **in_currency(tiny)})
    assert answer.status_code == 400
    assert "budgetamount_base" in answer.json()["error"]["message"]


def test_upsert_and_deep_insert_compute_every_row(api: ServiceRootSession, eur: str) -> None:
    account = "0b6e9a55-1c4b-4e55-9a10-000000000a01"
    upserted = api.patch(f"accounts({account})", json={"name": "Fabrikam", "revenue": 30, **in_currency(eur)})
    assert upserted.status_code == 204, upserted.text
    assert read(api, f"accounts({account})", "revenue_base")["revenue_base"] == 15.0
    deep = api.post("accounts", headers=REPRESENTATION, json={
        "name": "Contoso", "creditlimit": 50, **in_currency(eur),
        "opportunity_customer_accounts": [{"name": "In euros", "budgetamount": 40, **in_currency(eur)},
                                          {"name": "In dollars", "budgetamount": 40}]})
    assert deep.status_code == 201, deep.text
    assert deep.json()["creditlimit_base"] == 25.0
    rows = api.get(f"opportunities?$select=name,budgetamount_base,exchangerate"
                   f"&$filter=_customerid_value eq {deep.json()['accountid']}&$orderby=name").json()["value"]
    assert [(r["name"], r["budgetamount_base"], r["exchangerate"]) for r in rows] == [
        ("In dollars", 40.0, 1.0), ("In euros", 20.0, 2.0)]


def test_bulk_messages_compute_every_target(api: ServiceRootSession, eur: str) -> None:
    targets = [{"@odata.type": OPPORTUNITY_TYPE, "name": f"O{i}", "budgetamount": 10 * (i + 1), **in_currency(eur)}
               for i in range(3)]
    created = api.post("opportunities/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert created.status_code == 200, created.text
    ids = created.json()["Ids"]
    updates = [{"@odata.type": OPPORTUNITY_TYPE, "opportunityid": i, "budgetamount": 100} for i in ids[:2]]
    assert api.post("opportunities/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": updates}).status_code == 204
    upserts = [{"@odata.type": OPPORTUNITY_TYPE, "opportunityid": ids[2], "estimatedvalue": 6},
               {"@odata.type": OPPORTUNITY_TYPE, "opportunityid": "0b6e9a55-1c4b-4e55-9a10-000000000b01",
                "name": "New", "budgetamount": 7, **in_currency(eur)}]
    upserted = api.post("opportunities/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": upserts})
    assert upserted.status_code in (200, 204), upserted.text
    rows = api.get("opportunities?$select=name,budgetamount_base,estimatedvalue_base&$orderby=name").json()["value"]
    assert [(r["name"], r["budgetamount_base"], r["estimatedvalue_base"]) for r in rows] == [
        ("New", 3.5, None), ("O0", 50.0, None), ("O1", 50.0, None), ("O2", 15.0, 3.0)]


def test_batch_change_set_computes_and_rolls_back_with_it(api: ServiceRootSession, eur: str) -> None:
    bind = f"/transactioncurrencies({eur})"
    ok = change_set("changeset_1", [
        part("POST", "leads", {"lastname": "Doe", "budgetamount": 12, "transactioncurrencyid@odata.bind": bind}, "1"),
        part("PATCH", "$1", {"budgetamount": 18}, "2"),
    ])
    assert send(api, [ok]).status_code == 200
    rows = api.get("leads?$select=budgetamount_base,exchangerate&$filter=lastname eq 'Doe'").json()["value"]
    assert [(r["budgetamount_base"], r["exchangerate"]) for r in rows] == [(9.0, 2.0)]


def test_qualify_lead_creates_the_opportunity_in_the_leads_currency(api: ServiceRootSession, create: Create,
                                                                     eur: str) -> None:
    lead = create("leads", {"subject": "Coffee", "lastname": "Doe", "firstname": "Jon", "companyname": "Fabrikam",
                            "budgetamount": 200, "estimatedamount": 300, **in_currency(eur)})
    answer = api.post(f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json={
        "CreateAccount": True, "CreateContact": True, "CreateOpportunity": True, "Status": 3})
    assert answer.status_code == 200, answer.text
    opportunity_id = next(r["opportunityid"] for r in answer.json()["value"] if "opportunityid" in r)
    row = read(api, f"opportunities({opportunity_id})", "budgetamount_base,estimatedvalue_base,exchangerate")
    assert (row["budgetamount_base"], row["estimatedvalue_base"], row["exchangerate"]) == (100.0, 150.0, 2.0)
    assert row["_transactioncurrencyid_value"] == eur


def test_filter_orderby_and_select_on_base_columns(api: ServiceRootSession, create: Create, eur: str) -> None:
    create("leads", {"lastname": "A", "budgetamount": 100, **in_currency(eur)})  # base 50
    create("leads", {"lastname": "B", "budgetamount": 80})  # base 80
    create("leads", {"lastname": "C", "budgetamount": 30})  # base 30
    rows = api.get("leads?$select=lastname,budgetamount_base&$filter=budgetamount_base ge 50"
                   "&$orderby=budgetamount_base desc").json()["value"]
    assert [(r["lastname"], r["budgetamount_base"]) for r in rows] == [("B", 80.0), ("A", 50.0)]
    fetch = ("<fetch><entity name='lead'><attribute name='lastname'/><order attribute='budgetamount_base'/>"
             "<filter><condition attribute='budgetamount_base' operator='lt' value='60'/></filter></entity></fetch>")
    rows = api.get("leads", params={"fetchXml": fetch}).json()["value"]
    assert [r["lastname"] for r in rows] == ["C", "A"]
    total = api.get("leads?$apply=aggregate(budgetamount_base with sum as total)").json()["value"]
    assert total == [{"total": 160.0}]


def test_win_opportunity_closes_in_the_opportunitys_currency(api: ServiceRootSession, create: Create,
                                                              eur: str) -> None:
    opportunity = create("opportunities", {"name": "Deal", "estimatedvalue": 500, **in_currency(eur)})
    other = add_currency(api, 4, "CHF")
    refused = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})", "actualrevenue": 400,
        **in_currency(other)}})
    assert refused.status_code == 400
    assert "currency of the opportunity" in refused.json()["error"]["message"]
    won = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})", "actualrevenue": 400}})
    assert won.status_code == 204, won.text
    row = read(api, f"opportunities({opportunity})", "actualvalue_base,estimatedvalue_base,statecode")
    assert (row["actualvalue_base"], row["estimatedvalue_base"], row["statecode"]) == (200.0, 250.0, 1)
    closes = api.get(f"opportunitycloses?$select=actualrevenue_base,exchangerate"
                     f"&$filter=_opportunityid_value eq {opportunity}").json()["value"]
    assert [(c["actualrevenue_base"], c["exchangerate"], c["_transactioncurrencyid_value"]) for c in closes] == [
        (200.0, 2.0, eur)]


def test_metadata_tells_base_currency_attributes_apart(api: ServiceRootSession) -> None:
    attributes = api.get("EntityDefinitions(LogicalName='opportunity')/Attributes/"
                         "Microsoft.Dynamics.CRM.MoneyAttributeMetadata?$select=LogicalName,IsBaseCurrency").json()
    flags = {a["LogicalName"]: a["IsBaseCurrency"] for a in attributes["value"]}
    assert flags["budgetamount_base"] is True and flags["budgetamount"] is False
    assert sum(flags.values()) == 11 == len(flags) - 11
