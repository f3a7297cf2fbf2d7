"""Computed columns read through d365lab's client and through plain ``requests`` over loopback HTTP.

A third-party client (a report, an export) reads ``*_base`` and the composite addresses the
server computed; these tests drive a real mock server as such clients do.
Sources: Microsoft Learn, "Transaction Currency (currency) table" (``X_base = X / exchangerate``)
and the FormatAddress function (composite addresses), as in test_computed_money.py / test_computed_names.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from d365lab import DataverseClient
from d365lab.errors import DataverseError

ADDRESS = {"address1_line1": "1 Main St", "address1_city": "Austin", "address1_stateorprovince": "TX",
           "address1_postalcode": "78701", "address1_country": "United States"}


@pytest.fixture
def eur(d365_server_client: DataverseClient) -> str:
    return d365_server_client.records.create("transactioncurrency", {
        "currencyname": "Euro", "isocurrencycode": "EUR", "currencysymbol": "€",
        "exchangerate": Decimal(2), "currencyprecision": 2})


def test_client_write_paths_and_reads(d365_server_client: DataverseClient, eur: str) -> None:
    client = d365_server_client
    euros = {"transactioncurrencyid@odata.bind": client.bind("transactioncurrency", eur)}
    lead = client.records.create("lead", {"subject": "Coffee", "firstname": "Jon", "lastname": "Doe",
                                          "companyname": "Fabrikam", "budgetamount": Decimal("17000"),
                                          **euros, **ADDRESS})
    row = client.records.get("lead", lead, select=["budgetamount_base", "exchangerate", "address1_composite",
                                                   "fullname"])
    assert (row["budgetamount_base"], row["exchangerate"], row["fullname"]) == (8500, 2, "Jon Doe")
    assert row["address1_composite"] == "1 Main St\r\nAustin, TX 78701\r\nUnited States"

    ids = client.records.create_multiple("opportunity", [
        {"name": f"O{i}", "estimatedvalue": Decimal(10 * (i + 1)), **euros} for i in range(3)])
    client.records.update_multiple("opportunity", [{"opportunityid": ids[0], "estimatedvalue": Decimal(50)}])
    with client.batch() as batch:
        with batch.changeset() as changes:
            changes.update("opportunity", ids[1], {"estimatedvalue": Decimal(90)})
    result = client.leads.qualify(lead, create_account=True, create_contact=True, create_opportunity=True)
    assert result.opportunity_id is not None
    rows = list(client.records.list("opportunity", select=["name", "estimatedvalue_base", "budgetamount_base"],
                                    filter="estimatedvalue_base ge 15 or budgetamount_base ne null",
                                    orderby="estimatedvalue_base desc"))
    assert [(r["name"], r["estimatedvalue_base"], r["budgetamount_base"]) for r in rows] == [
        ("O1", 45, None), ("O0", 25, None), ("O2", 15, None), ("Coffee", None, 8500)]
    account = client.records.get("account", str(result.account_id), select=["address1_composite"])
    assert account["address1_composite"] == row["address1_composite"]


def test_client_writing_a_base_column_is_refused(d365_server_client: DataverseClient) -> None:
    with pytest.raises(DataverseError) as refused:
        d365_server_client.records.create("lead", {"lastname": "Doe", "budgetamount_base": Decimal(1)})
    assert "budgetamount_base" in str(refused.value)
    assert d365_server_client.records.count("lead") == 0


def test_plain_requests_as_a_third_party_client(d365_server: Any) -> None:
    root = d365_server.base_url + "/api/data/v9.2/"
    with requests.Session() as http:
        http.headers.update({"Authorization": f"Bearer {d365_server.token}", "Accept": "application/json",
                             "OData-Version": "4.0", "OData-MaxVersion": "4.0"})
        currency = http.post(root + "transactioncurrencies", headers={"Prefer": "return=representation"}, json={
            "currencyname": "Pound", "isocurrencycode": "GBP", "currencysymbol": "£", "exchangerate": 0.8,
            "currencyprecision": 2}).json()["transactioncurrencyid"]
        created = http.post(root + "accounts?$select=name,revenue_base,exchangerate,address1_composite",
                            headers={"Prefer": "return=representation"}, json={
                                "name": "Fabrikam", "revenue": 1000, **ADDRESS,
                                "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["revenue_base"], body["exchangerate"]) == (1250.0, 0.8)
        assert body["address1_composite"] == "1 Main St\r\nAustin, TX 78701\r\nUnited States"
        changed = http.patch(root + f"accounts({body['accountid']})", json={"revenue": 2000, "address1_line1": None},
                             headers={"Prefer": "return=representation"})
        assert changed.status_code == 200, changed.text
        assert (changed.json()["revenue_base"], changed.json()["address1_composite"]) == (
            2500.0, "Austin, TX 78701\r\nUnited States")
        listed = http.get(root + "accounts", params={
            "$select": "revenue_base", "$filter": "revenue_base gt 2000",
            "$orderby": "revenue_base"}).json()["value"]
        assert [r["revenue_base"] for r in listed] == [2500.0]
        refused = http.patch(root + f"accounts({body['accountid']})", json={"address1_composite": "x"})
        assert refused.status_code == 400
        assert refused.json()["error"]["message"].endswith("is read-only and cannot be set.")
