"""A tenant file written before the mock computed these columns gets them when it opens, once.

The old file is made as an older mock left it: rows whose ``*_base``, ``exchangerate``,
composite and ``yomifullname`` columns are null (set with sqlite3 on the closed file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from d365lab.mock.app import create_app
from d365lab.mock.inprocess import ServiceRootSession, route_requests

BASE_URL = "https://mock.d365lab.test"
COMPUTED = ("budgetamount_base", "revenue_base", "exchangerate", "address1_composite", "yomifullname")
SELECT = ",".join((*COMPUTED, "modifiedon"))


@contextmanager
def tenant_at(path: Path) -> Iterator[ServiceRootSession]:
    app = create_app(str(path))
    try:
        with route_requests(app, BASE_URL), ServiceRootSession(BASE_URL, "t") as api:
            yield api
    finally:
        app.close()


def read_lead(api: ServiceRootSession, lead: str) -> dict[str, Any]:
    response = api.get(f"leads({lead})?$select={SELECT}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def forget_computed(path: Path, *, marker: bool) -> None:
    """Make the file look written by a mock that did not compute the columns."""
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE lead SET {', '.join(f'{c} = NULL' for c in COMPUTED)}")
        if marker:
            conn.execute("DELETE FROM _meta WHERE key = 'computed_columns'")
    conn.close()


def test_an_old_file_gets_its_computed_columns_once(tmp_path: Path) -> None:
    path = tmp_path / "tenant.sqlite"
    with tenant_at(path) as api:
        eur = api.post("transactioncurrencies", headers={"Prefer": "return=representation"}, json={
            "currencyname": "Euro", "isocurrencycode": "EUR", "currencysymbol": "€", "exchangerate": 2,
            "currencyprecision": 2}).json()["transactioncurrencyid"]
        created = api.post("leads", json={
            "lastname": "Doe", "budgetamount": 100, "revenue": 7, "address1_city": "Austin",
            "yomilastname": "ドウ", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({eur})"})
        lead = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
        computed = read_lead(api, lead)
    forget_computed(path, marker=True)

    with tenant_at(path) as api:
        filled = read_lead(api, lead)
    assert filled == computed  # same values, same etag and modifiedon: no one wrote the row
    assert (filled["budgetamount_base"], filled["revenue_base"], filled["exchangerate"]) == (50.0, 3.5, 2.0)
    assert (filled["address1_composite"], filled["yomifullname"]) == ("Austin", "ドウ")

    forget_computed(path, marker=False)  # the file is marked done: a later open changes nothing
    with tenant_at(path) as api:
        assert all(read_lead(api, lead)[column] is None for column in COMPUTED)
