"""A money value written by an update gets the base currency, as on create (the basic operations
sample's contact: created without income, updated with one, then read with
``_transactioncurrencyid_value``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]


def test_first_money_value_on_update_sets_the_base_currency(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "No money yet", "lastname": "Doe"})
    before = api.get(f"leads({lead})?$select=budgetamount").json()
    assert before["_transactioncurrencyid_value"] is None
    assert api.patch(f"leads({lead})", json={"budgetamount": 80000}).status_code == 204
    after = api.get(f"leads({lead})?$select=budgetamount", headers={"Prefer": 'odata.include-annotations="*"'}).json()
    base = api.get("transactioncurrencies?$select=isocurrencycode").json()["value"][0]["transactioncurrencyid"]
    assert after["_transactioncurrencyid_value"] == base
    assert after["_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue"] == "US Dollar"
    assert after["budgetamount@OData.Community.Display.V1.FormattedValue"] == "$80,000.00"
