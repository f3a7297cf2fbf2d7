"""Microsoft's unmodified Python SDK reading aggregates and joins from the mock.

The SDK has no ``$apply`` helper; it exposes FetchXML (``client.query.fetchxml(xml)``, which
pages with the documented paging cookie and warns when none comes back) and the ``?sql=``
endpoint (``client.query.sql``, JOIN/COUNT/GROUP BY allowed by its guardrails). Outcomes
are compared with what was created over the SDK itself.
Skipped (with the reason) when the SDK is not installed: ``pip install -e ".[thirdparty]"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from thirdparty_mock import MockEndpoint

try:
    from PowerPlatform.Dataverse.client import DataverseClient
    from test_ms_python_sdk import StaticTokenCredential, sdk_client
except ImportError:
    pytest.skip(
        "powerplatform-dataverse-client is not installed: pip install -e '.[thirdparty]'", allow_module_level=True,
    )

pytestmark = pytest.mark.thirdparty


@pytest.fixture
def sdk(mock_endpoint: MockEndpoint) -> Iterator[DataverseClient]:
    """The SDK client, talking to the loopback mock."""
    with sdk_client(mock_endpoint, StaticTokenCredential(mock_endpoint.token)) as client:
        yield client


@pytest.fixture
def accounts(sdk: DataverseClient) -> dict[str, Any]:
    """Three accounts (two in Redmond) and three contacts, two of them at Contoso."""
    names = {"Contoso": ("Redmond", 500), "Fabrikam": ("Redmond", 300), "Litware": ("Dallas", None)}
    ids = dict(zip(names, sdk.records.create("account", [
        {"name": name, "address1_city": city, "revenue": revenue} for name, (city, revenue) in names.items()]),
        strict=True))
    for first, account in (("Ana", "Contoso"), ("Bo", "Contoso"), ("Cy", "Fabrikam")):
        sdk.records.create("contact", {"firstname": first, "lastname": "Test",
                                       "parentcustomerid_account@odata.bind": f"/accounts({ids[account]})"})
    return ids


def test_fetchxml_aggregate_grouped(sdk: DataverseClient, accounts: dict[str, Any]) -> None:
    rows = sdk.query.fetchxml("""
        <fetch aggregate='true'>
          <entity name='account'>
            <attribute name='address1_city' alias='city' groupby='true'/>
            <attribute name='accountid' alias='accounts' aggregate='count'/>
            <attribute name='revenue' alias='total' aggregate='sum'/>
            <order alias='city'/>
          </entity>
        </fetch>""").execute()
    assert [(r["city"], r["accounts"], r["total"]) for r in rows] == [("Dallas", 1, None), ("Redmond", 2, 800)]


def test_fetchxml_link_entity(sdk: DataverseClient, accounts: dict[str, Any]) -> None:
    rows = sdk.query.fetchxml("""
        <fetch>
          <entity name='account'>
            <attribute name='name'/>
            <order attribute='name'/>
            <link-entity name='contact' from='parentcustomerid' to='accountid' alias='c' link-type='outer'>
              <attribute name='firstname'/>
              <order attribute='firstname'/>
            </link-entity>
          </entity>
        </fetch>""").execute()
    assert [(r["name"], r.get("c.firstname")) for r in rows] == [
        ("Contoso", "Ana"), ("Contoso", "Bo"), ("Fabrikam", "Cy"), ("Litware", None)]


def test_fetchxml_pages_with_the_paging_cookie(sdk: DataverseClient) -> None:
    created = sdk.records.create("lead", [{"subject": f"Paged {n:02d}", "lastname": "Page"} for n in range(11)])
    query = sdk.query.fetchxml("""
        <fetch count='4'>
          <entity name='lead'>
            <attribute name='subject'/>
            <filter><condition attribute='lastname' operator='eq' value='Page'/></filter>
            <order attribute='subject' descending='true'/>
          </entity>
        </fetch>""")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns when it has to fall back to page numbers
        pages = list(query.execute_pages())
    assert [len(page) for page in pages] == [4, 4, 3]
    subjects = [record["subject"] for page in pages for record in page]
    assert subjects == [f"Paged {n:02d}" for n in range(10, -1, -1)]
    assert len(created) == 11


def test_sql_join_count_group_by(sdk: DataverseClient, accounts: dict[str, Any]) -> None:
    rows = sdk.query.sql("SELECT a.name, COUNT(c.contactid) AS people FROM account a "
                         "INNER JOIN contact c ON c.parentcustomerid = a.accountid "
                         "GROUP BY a.name ORDER BY a.name")
    assert [(r["name"], r["people"]) for r in rows] == [("Contoso", 2), ("Fabrikam", 1)]
    [total] = sdk.query.sql("SELECT COUNT(*) AS n, SUM(revenue) AS revenue FROM account")
    assert (total["n"], total["revenue"]) == (3, 800)
