"""Microsoft's unmodified Python SDK (``powerplatform-dataverse-client`` 1.1.0) against the mock.

The SDK refuses ``http://`` base URLs in its constructor, so most tests construct it with an
https placeholder and point the (lazily created) internal OData client at the loopback mock
by setting ``_base_url`` before the first call; nothing else in the SDK is touched.
``test_https_with_self_signed_certificate`` takes the other route: the mock over TLS and no
private attribute at all. Outcomes are read back from the mock over HTTP, independently of
the SDK's own parsing.
Skipped (with the reason) when the SDK is not installed: ``pip install -e ".[thirdparty]"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from thirdparty_mock import MockEndpoint

if TYPE_CHECKING:
    from tls_mock import HttpsMock

try:
    from azure.core.credentials import AccessToken
    from PowerPlatform.Dataverse import QueryResult, col
    from PowerPlatform.Dataverse.client import DataverseClient
    from PowerPlatform.Dataverse.core.errors import HttpError
except ImportError:
    pytest.skip(
        "powerplatform-dataverse-client is not installed: pip install -e '.[thirdparty]'", allow_module_level=True,
    )

pytestmark = pytest.mark.thirdparty

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLACEHOLDER_URL = "https://org.crm.dynamics.com"


class StaticTokenCredential:
    """An ``azure.core.credentials.TokenCredential`` that always returns the mock's token."""

    def __init__(self, token: str) -> None:
        self._token = token
        self.scopes_requested: set[str] = set()

    def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """Record the scope asked for and return the fixed token (valid until 2100)."""
        self.scopes_requested.update(scopes)
        return AccessToken(self._token, 4_102_444_800)


@pytest.fixture
def credential(mock_endpoint: MockEndpoint) -> StaticTokenCredential:
    """The mock's bearer token as an Azure credential."""
    return StaticTokenCredential(mock_endpoint.token)


def sdk_client(endpoint: MockEndpoint, credential: StaticTokenCredential) -> DataverseClient:
    """The SDK client, pointed at a mock over plain HTTP."""
    client = DataverseClient(PLACEHOLDER_URL, credential)
    # The constructor only accepts https; the internal client is built from _base_url on first use.
    client._base_url = endpoint.base_url
    return client


@pytest.fixture
def sdk(mock_endpoint: MockEndpoint, credential: StaticTokenCredential) -> Iterator[DataverseClient]:
    """The SDK client, talking to the loopback mock."""
    with sdk_client(mock_endpoint, credential) as client:
        yield client


def lead(subject: str, **extra: Any) -> dict[str, Any]:
    """A lead payload with the columns the lab fills."""
    return {"subject": subject, "firstname": "Ada", "lastname": "Lovelace", "companyname": "Contoso Coffee", **extra}


def test_crud_round_trip_with_picklist_labels(
    sdk: DataverseClient, mock_endpoint: MockEndpoint, credential: StaticTokenCredential,
) -> None:
    """create (labels resolved from picklist metadata) -> retrieve -> update -> delete -> None."""
    lead_id = sdk.records.create("lead", lead("SDK CRUD lead", leadsourcecode="Web", leadqualitycode="Hot"))

    assert GUID.match(lead_id), "create returns the id parsed from OData-EntityId"
    assert credential.scopes_requested == {f"{mock_endpoint.base_url}/.default"}
    stored = mock_endpoint.read(f"leads({lead_id})", {"$select": "subject,leadsourcecode,leadqualitycode,statecode"})
    assert (stored["subject"], stored["leadsourcecode"], stored["leadqualitycode"], stored["statecode"]) == (
        "SDK CRUD lead", 8, 1, 0,
    ), "the SDK turns 'Web'/'Hot' into 8/1 using the mock's PicklistAttributeMetadata"

    record = sdk.records.retrieve("lead", lead_id, select=["subject", "lastname"])
    assert record is not None
    assert (record["subject"], record["lastname"]) == ("SDK CRUD lead", "Lovelace")
    assert record.etag, "retrieve keeps @odata.etag"

    sdk.records.update("lead", lead_id, {"jobtitle": "Buyer"})
    assert mock_endpoint.read(f"leads({lead_id})", {"$select": "jobtitle"})["jobtitle"] == "Buyer"

    sdk.records.delete("lead", lead_id)
    assert mock_endpoint.get(f"leads({lead_id})").status_code == 404
    assert sdk.records.retrieve("lead", lead_id) is None, "a 404 on retrieve means 'not found' to the SDK"


def test_create_multiple(sdk: DataverseClient, mock_endpoint: MockEndpoint) -> None:
    """A list create goes through CreateMultiple and returns the ids in input order."""
    subjects = [f"SDK bulk {n}" for n in range(5)]
    ids = sdk.records.create("lead", [lead(s) for s in subjects])

    assert len(ids) == 5 and len(set(ids)) == 5 and all(GUID.match(i) for i in ids)
    for lead_id, subject in zip(ids, subjects, strict=True):
        assert mock_endpoint.read(f"leads({lead_id})", {"$select": "subject"})["subject"] == subject


def test_filter_select_orderby_top(sdk: DataverseClient) -> None:
    """$filter (string and the col() builder), $select, $orderby and $top."""
    sdk.records.create("lead", [lead(f"SDK query {n}") for n in range(1, 6)] + [lead("Unrelated")])

    top_three = sdk.records.list(
        "lead", filter="statecode eq 0 and startswith(subject,'SDK query')", select=["subject"],
        orderby=["subject desc"], top=3,
    )
    assert [r["subject"] for r in top_three] == ["SDK query 5", "SDK query 4", "SDK query 3"]
    assert all("lastname" not in r for r in top_three), "$select must limit the columns"

    built = (col("statecode") == 0) & col("subject").startswith("SDK query")
    assert str(built) == "(statecode eq 0 and startswith(subject, 'SDK query'))"
    ascending = sdk.records.list("lead", filter=built, select=["subject"], orderby=["subject"])
    assert [r["subject"] for r in ascending] == [f"SDK query {n}" for n in range(1, 6)]


def test_paging_with_maxpagesize(sdk: DataverseClient) -> None:
    """``page_size`` sends ``Prefer: odata.maxpagesize``; the SDK follows @odata.nextLink."""
    ids = sdk.records.create("lead", [lead(f"SDK page {n}") for n in range(7)])

    page_filter = "startswith(subject,'SDK page')"
    pages = list(sdk.records.list_pages("lead", filter=page_filter, select=["subject"], page_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [r["leadid"] for p in pages for r in p]
    assert sorted(seen) == sorted(ids)

    everything = sdk.records.list("lead", filter=page_filter, select=["subject"], page_size=5)
    assert sorted(r["leadid"] for r in everything) == sorted(ids)


def test_batch_change_set_with_content_id_references(sdk: DataverseClient, mock_endpoint: MockEndpoint) -> None:
    """A change set (create lead, PATCH $1, create account bound to $1) plus a GET outside it."""
    existing = sdk.records.create("lead", lead("SDK existing lead"))
    batch = sdk.batch.new()
    with batch.changeset() as change_set:
        lead_ref = change_set.records.create("lead", lead("SDK batch lead"))
        change_set.records.update("lead", lead_ref, {"jobtitle": "Batch buyer"})
        change_set.records.create("account", {"name": "SDK batch account", "originatingleadid@odata.bind": lead_ref})
    batch.records.retrieve("lead", existing, select=["subject"])
    result = batch.execute()

    assert not result.has_errors, [(r.status_code, r.error_message) for r in result.failed]
    assert [r.status_code for r in result.responses] == [204, 204, 204, 200]
    assert [r.content_id for r in result.responses[:3]] == ["1", "2", "3"]
    lead_id, account_id = result.responses[0].entity_id, result.responses[2].entity_id
    assert lead_id and account_id and GUID.match(lead_id) and GUID.match(account_id)
    fetched = result.responses[3].data
    assert fetched is not None and fetched["subject"] == "SDK existing lead"

    assert mock_endpoint.read(f"leads({lead_id})", {"$select": "jobtitle"})["jobtitle"] == "Batch buyer"
    account = mock_endpoint.read(f"accounts({account_id})", {"$select": "name,_originatingleadid_value"})
    assert (account["name"], account["_originatingleadid_value"]) == ("SDK batch account", lead_id)


def test_batch_with_bulk_and_paged_list_parts(sdk: DataverseClient, mock_endpoint: MockEndpoint) -> None:
    """Plain batch parts: CreateMultiple (its Ids in the part's JSON), a single create, a list with
    ``Prefer: odata.maxpagesize`` inside the part, and UpdateMultiple."""
    ids = sdk.records.create("lead", [lead("SDK part 1"), lead("SDK part 2")])
    batch = sdk.batch.new()
    batch.records.create("lead", [lead("SDK part 3"), lead("SDK part 4")])
    batch.records.create("lead", lead("SDK part 5"))
    # No space in this filter: the SDK writes it unencoded into the part's request line (see below).
    batch.records.list("lead", filter="startswith(subject,'SDK')", select=["subject"], page_size=2)
    batch.records.update("lead", ids, {"jobtitle": "Batch bulk"})
    result = batch.execute()

    assert not result.has_errors, [(r.status_code, r.error_message) for r in result.failed]
    bulk, single, listed, updated = result.responses
    assert bulk.status_code == 200 and bulk.data is not None and len(bulk.data["Ids"]) == 2
    assert single.status_code == 204 and single.entity_id is not None and GUID.match(single.entity_id)
    assert listed.data is not None and len(listed.data["value"]) == 2 and "@odata.nextLink" in listed.data
    assert updated.status_code == 204
    stored = mock_endpoint.rows("leads", "startswith(subject,'SDK part')", "subject,jobtitle")
    assert len(stored) == 5
    assert sorted(r["jobtitle"] or "" for r in stored) == ["", "", "", "Batch bulk", "Batch bulk"]


def test_batch_list_with_spaces_in_the_filter(sdk: DataverseClient) -> None:
    """``batch.records.list(filter="statecode eq 0")`` puts raw spaces into the part's request line."""
    sdk.records.create("lead", [lead("SDK spaced 1"), lead("SDK spaced 2")])
    batch = sdk.batch.new()
    batch.records.list("lead", filter="statecode eq 0", select=["subject"])
    result = batch.execute()

    assert not result.has_errors
    listed = result.responses[0].data
    assert listed is not None
    assert sorted(r["subject"] for r in listed["value"]) == ["SDK spaced 1", "SDK spaced 2"]


def test_failed_change_set_rolls_back_with_continue_on_error(sdk: DataverseClient, mock_endpoint: MockEndpoint) -> None:
    """A change set whose update misses rolls back its create; the GET after it still runs."""
    existing = sdk.records.create("lead", lead("SDK survivor"))
    batch = sdk.batch.new()
    with batch.changeset() as change_set:
        change_set.records.create("lead", lead("SDK rolled back"))
        change_set.records.update("lead", "00000000-0000-0000-0000-00000000beef", {"jobtitle": "Nobody"})
    batch.records.retrieve("lead", existing, select=["subject"])
    result = batch.execute(continue_on_error=True)

    assert result.has_errors
    assert result.failed[0].status_code == 404
    assert result.failed[0].error_code == "0x80040217"
    assert result.responses[-1].status_code == 200
    assert result.responses[-1].data is not None and result.responses[-1].data["subject"] == "SDK survivor"
    assert mock_endpoint.rows("leads", "subject eq 'SDK rolled back'", "subject") == []


def test_against_d365lab_mock_serve(cli_served_endpoint: MockEndpoint) -> None:
    """CreateMultiple, a paged query and a change set against ``d365lab mock serve`` run as a user runs it."""
    with sdk_client(cli_served_endpoint, StaticTokenCredential(cli_served_endpoint.token)) as client:
        ids = client.records.create("lead", [lead(f"Served {n}", leadsourcecode="Trade Show") for n in range(4)])
        pages = list(client.records.list_pages("lead", filter="startswith(subject,'Served')", page_size=3))
        batch = client.batch.new()
        with batch.changeset() as change_set:
            change_set.records.update("lead", ids[0], {"jobtitle": "Served buyer"})
            change_set.records.delete("lead", ids[1])
        result = batch.execute()

    assert [len(p) for p in pages] == [3, 1]
    assert not result.has_errors and [r.status_code for r in result.responses] == [204, 204]
    first = cli_served_endpoint.read(f"leads({ids[0]})", {"$select": "jobtitle,leadsourcecode"})
    assert (first["jobtitle"], first["leadsourcecode"]) == ("Served buyer", 7)
    assert cli_served_endpoint.get(f"leads({ids[1]})").status_code == 404


def test_update_multiple_expand_annotations_and_query_builder(
    sdk: DataverseClient, mock_endpoint: MockEndpoint,
) -> None:
    """UpdateMultiple (broadcast and paired), $expand with formatted values, and the fluent builder."""
    account_id = sdk.records.create("account", {"name": "Contoso Coffee"})
    bind = {"parentaccountid@odata.bind": f"/accounts({account_id})"}
    ids = sdk.records.create("lead", [lead(f"SDK multi {n}", **bind) for n in range(3)])
    sdk.records.update("lead", ids, {"jobtitle": "Bulk"})
    sdk.records.update("lead", ids[:2], [{"jobtitle": "First"}, {"jobtitle": "Second"}])
    stored = mock_endpoint.rows("leads", "startswith(subject,'SDK multi')", "subject,jobtitle")
    assert sorted((r["subject"], r["jobtitle"]) for r in stored) == [
        ("SDK multi 0", "First"), ("SDK multi 1", "Second"), ("SDK multi 2", "Bulk"),
    ]

    record = sdk.records.retrieve(
        "lead", ids[0], select=["statuscode"], expand=["parentaccountid($select=name)"],
        include_annotations="OData.Community.Display.V1.FormattedValue",
    )
    assert record is not None
    assert (record["statuscode"], record["statuscode@OData.Community.Display.V1.FormattedValue"]) == (1, "New")
    assert record["parentaccountid"]["accountid"] == account_id
    assert record["parentaccountid"]["name"] == "Contoso Coffee"

    built = (
        sdk.query.builder("lead").select("subject", "jobtitle")
        .where((col("jobtitle") == "Bulk") | (col("jobtitle") == "Second"))
        .order_by("subject", descending=True).top(5).execute()
    )
    assert isinstance(built, QueryResult)
    assert [(r["subject"], r["jobtitle"]) for r in built] == [("SDK multi 2", "Bulk"), ("SDK multi 1", "Second")]


def test_in_filter_with_single_quoted_values(sdk: DataverseClient) -> None:
    """``Microsoft.Dynamics.CRM.In`` written by hand with single-quoted values."""
    sdk.records.create("lead", [lead(s) for s in ("In A", "In B", "In C")])
    rows = sdk.records.list(
        "lead", filter="Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=['In A','In C'])",
        select=["subject"], orderby=["subject"],
    )
    assert [r["subject"] for r in rows] == ["In A", "In C"]


def test_in_filter_from_col_builder(sdk: DataverseClient) -> None:
    """``col(x).in_([...])`` writes PropertyValues as a JSON array with double quotes, which the
    service accepts (Microsoft Learn, "Filter rows", section "Manage single quotes")."""
    sdk.records.create("lead", [lead(s) for s in ("In A", "In B", "In C")])
    built = col("subject").in_(["In A", "In C"])
    assert str(built) == """Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=["In A","In C"])"""
    rows = sdk.records.list("lead", filter=built, select=["subject"], orderby=["subject"])
    assert [r["subject"] for r in rows] == ["In A", "In C"]


def test_tables_list(sdk: DataverseClient) -> None:
    """``tables.list()`` lists the tables from EntityDefinitions."""
    names = {t["LogicalName"] for t in sdk.tables.list()}
    assert {"lead", "opportunity", "account", "contact"} <= names


def test_delete_list_uses_bulk_delete(sdk: DataverseClient) -> None:
    """``records.delete(table, [ids])`` submits a BulkDelete job and returns its id."""
    ids = sdk.records.create("lead", [lead("SDK bulk delete 1"), lead("SDK bulk delete 2")])
    job_id = sdk.records.delete("lead", ids)
    assert job_id is not None and GUID.match(job_id)


def test_top_is_ignored_when_page_size_is_sent(sdk: DataverseClient) -> None:
    """The SDK sends both ``$top`` and ``Prefer: odata.maxpagesize`` when given both; the service pages."""
    sdk.records.create("lead", [lead(f"SDK top {n}") for n in range(7)])
    pages = list(sdk.records.list_pages("lead", filter="startswith(subject,'SDK top')", top=4, page_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]


def test_https_with_self_signed_certificate(https_mock: HttpsMock) -> None:
    """No SDK internals touched: the mock app served over TLS, the certificate trusted via
    REQUESTS_CA_BUNDLE; created ids, nextLinks and $batch references all stay on https."""
    endpoint = https_mock.endpoint
    credential = StaticTokenCredential(endpoint.token)
    with DataverseClient(endpoint.base_url, credential) as client:
        lead_id = client.records.create("lead", lead("SDK https lead", leadsourcecode="Web"))
        client.records.create("lead", [lead(f"SDK https {n}") for n in range(4)])
        pages = list(client.records.list_pages("lead", filter="startswith(subject,'SDK https')", page_size=2))
        batch = client.batch.new()
        with batch.changeset() as change_set:
            change_set.records.update("lead", lead_id, {"jobtitle": "Secure buyer"})
        result = batch.execute()

    assert credential.scopes_requested == {f"{endpoint.base_url}/.default"}
    assert [len(p) for p in pages] == [2, 2, 1]
    assert not result.has_errors
    stored = endpoint.read(f"leads({lead_id})", {"$select": "jobtitle,leadsourcecode"})
    assert (stored["jobtitle"], stored["leadsourcecode"]) == ("Secure buyer", 8)


def test_sql_query(sdk: DataverseClient) -> None:
    """``query.sql`` sends ``GET /leads?sql=<SELECT>``; only the matching row and column come back."""
    sdk.records.create("lead", [lead("SQL A"), lead("SQL B")])
    rows = sdk.query.sql("SELECT subject FROM lead WHERE subject = 'SQL A'")
    assert [r["subject"] for r in rows] == ["SQL A"]
    assert "lastname" not in rows[0]


def test_service_protection_429_reaches_the_sdk() -> None:
    """With the mock's request limit on (5 per window), the SDK's sixth request fails with the
    service's 429: transient, integer Retry-After, the 0x80072322 code and the service's message."""
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import MockSettings

    settings = MockSettings.model_validate({"throttle": {"enabled": True, "requests_per_window": 5}})
    running = start_background(":memory:", settings)
    try:
        endpoint = MockEndpoint(base_url=running.base_url, token=running.token)
        with sdk_client(endpoint, StaticTokenCredential(endpoint.token)) as client:
            created = []
            with pytest.raises(HttpError) as throttled:
                for n in range(10):  # EntityDefinitions + picklist metadata + 3 creates = 5 requests
                    created.append(client.records.create("lead", lead(f"SDK throttled {n}")))
    finally:
        running.stop()

    error = throttled.value
    assert len(created) == 3
    assert (error.status_code, error.is_transient) == (429, True)
    assert error.details["service_error_code"] == "0x80072322"
    assert isinstance(error.details["retry_after"], int) and error.details["retry_after"] >= 1
    assert "Number of requests exceeded the limit of 5 over time window of 300 seconds" in error.message
