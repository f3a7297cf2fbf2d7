"""The README snippets of Microsoft's Python SDK (``powerplatform-dataverse-client`` 1.1.0), run
unmodified against ``d365lab mock serve`` run as a user runs it.

The snippets are read from the installed package's README (its ``METADATA``), by section, and
executed as they are written. The harness supplies what the README leaves to the reader: a
``credential`` (the mock's token as an Azure ``TokenCredential``), the ``client`` the later
sections use, and the org URL: the README's placeholder ``https://yourorg.crm.dynamics.com``
is served by the mock (the SDK refuses ``http://``, so the SDK's client classes are pointed at
the loopback mock the same way ``test_ms_python_sdk.py`` does it, through ``_base_url``).
Outcomes are read back from the mock over plain HTTP. Sections outside the mock's tables
(custom tables, file columns) are listed, not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from thirdparty_mock import MockEndpoint

try:
    from azure.core.credentials import AccessToken
    from PowerPlatform.Dataverse import client as sync_module
    from PowerPlatform.Dataverse.aio import async_client as async_module
except ImportError:
    pytest.skip("powerplatform-dataverse-client[async] is not installed: pip install -e '.[thirdparty]'",
                allow_module_level=True)

from d365lab.models.schema import TABLES

pytestmark = pytest.mark.thirdparty
README_URL = "https://yourorg.crm.dynamics.com"
#: README sections outside the mock's tables: custom tables and columns, file columns.
NOT_RUN = {"Define and evolve schema": "creates custom tables and columns through the metadata API"}


def readme_snippets() -> dict[str, list[str]]:
    """The python code blocks of the installed SDK's README, by the ``###`` section holding them."""
    text = importlib.metadata.metadata("powerplatform-dataverse-client").get_payload()  # type: ignore[attr-defined]
    assert isinstance(text, str) and "## Usage" in text
    sections: dict[str, list[str]] = {}
    for match in re.finditer(r"^### (.+?)\n(.*?)(?=^##)", text, flags=re.S | re.M):
        blocks = re.findall(r"```python\n(.*?)```", match.group(2), flags=re.S)
        if blocks:
            sections[match.group(1).strip()] = blocks
    return sections


SNIPPETS = readme_snippets()


class MockCredential:
    """The mock's bearer token as an Azure ``TokenCredential``."""

    def __init__(self, token: str = "") -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The fixed token (valid until 2100)."""
        return AccessToken(self.token, 4_102_444_800)


class AsyncMockCredential(MockCredential):
    """The async flavour (``azure.identity.aio``): ``await get_token(...)``."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        """The fixed token (valid until 2100)."""
        return AccessToken(self.token, 4_102_444_800)

    async def __aenter__(self) -> AsyncMockCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def sdk_env(cli_served_endpoint: MockEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The names the README's snippets expect, with the SDK's clients pointed at the served mock."""
    endpoint = cli_served_endpoint
    credential = MockCredential(endpoint.token)

    class ServedClient(sync_module.DataverseClient):  # type: ignore[misc,name-defined]
        def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
            assert base_url == README_URL
            super().__init__(base_url, *args, **kwargs)
            self._base_url = endpoint.base_url

    class ServedAsyncClient(async_module.AsyncDataverseClient):  # type: ignore[misc,name-defined]
        def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
            assert base_url == README_URL
            super().__init__(base_url, *args, **kwargs)
            self._base_url = endpoint.base_url

    import azure.identity.aio
    import PowerPlatform.Dataverse.aio

    monkeypatch.setattr(sync_module, "DataverseClient", ServedClient)
    monkeypatch.setattr(async_module, "AsyncDataverseClient", ServedAsyncClient)
    monkeypatch.setattr(PowerPlatform.Dataverse.aio, "AsyncDataverseClient", ServedAsyncClient)
    monkeypatch.setattr(azure.identity.aio, "DefaultAzureCredential", lambda: AsyncMockCredential(endpoint.token))
    with ServedClient(README_URL, credential) as client:
        yield {"credential": credential, "client": client, "endpoint": endpoint}


def run_section(section: str, env: dict[str, Any], *, skip_lines: str | None = None,
                seed: dict[str, Any] | None = None) -> str:
    """Execute a README section's code blocks in order (lines matching ``skip_lines`` left out);
    return what they printed. ``seed`` holds names an earlier section defined."""
    names = {"credential": env["credential"], "client": env["client"], "__name__": "readme", **(seed or {})}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in SNIPPETS[section]:
            if block.lstrip().startswith("from azure.identity import InteractiveBrowserCredential"):
                continue  # the Authenticate section: the harness's credential stands in for a browser sign-in
            code = "\n".join(line for line in block.splitlines()
                             if skip_lines is None or not re.search(skip_lines, line))
            exec(compile(code, f"README: {section}", "exec"), names)  # noqa: S102 - the README's own code
    env["names"] = names
    return printed.getvalue()


def test_the_readme_sections_are_all_run_or_listed() -> None:
    run_here = {"Authenticate", "Create, read, update, delete", "Query records", "Work in bulk",
                "Upload files and group requests", "Use the async client", "Handle errors"}
    assert set(SNIPPETS) == run_here | set(NOT_RUN)


def test_create_read_update_delete(sdk_env: dict[str, Any]) -> None:
    printed = run_section("Create, read, update, delete", sdk_env)
    assert printed == "Contoso Ltd\n"
    endpoint: MockEndpoint = sdk_env["endpoint"]
    account_id = sdk_env["names"]["account_id"]
    assert endpoint.get(f"accounts({account_id})").status_code == 404  # the snippet deletes it at the end


def test_query_records(sdk_env: dict[str, Any]) -> None:
    endpoint: MockEndpoint = sdk_env["endpoint"]
    client = sdk_env["client"]
    for name, revenue in (("Big", 5_000_000), ("Bigger", 9_000_000), ("Small", 500)):
        client.records.create("account", {"name": name, "revenue": revenue})
    printed = run_section("Query records", sdk_env)
    assert printed.splitlines() == ["Bigger 9000000.0", "Big 5000000.0"]
    frame = sdk_env["names"]["df"]
    assert list(frame["name"]) == ["Bigger", "Big"]
    assert len(endpoint.read("accounts", {"$select": "name"})["value"]) == 3


@pytest.mark.skipif("industrycode" not in TABLES["account"].columns,
                    reason="the mock's schema lacks account.industrycode (the README updates it)")
def test_work_in_bulk(sdk_env: dict[str, Any]) -> None:
    endpoint: MockEndpoint = sdk_env["endpoint"]
    run_section("Work in bulk", sdk_env)
    names = sdk_env["names"]
    for created in names["ids"]:
        assert endpoint.get(f"accounts({created})").status_code == 404  # BulkDelete removed them
    upserted = endpoint.rows("accounts", "accountnumber eq 'ACC-001'", "name,telephone1")
    assert [(r["name"], r["telephone1"]) for r in upserted] == [("Contoso Ltd", "555-0100")]


def test_group_requests_in_a_batch(sdk_env: dict[str, Any]) -> None:
    """The section's batch; its first line uploads to a custom file column (new_Attachment), not run."""
    endpoint: MockEndpoint = sdk_env["endpoint"]
    account_id = sdk_env["client"].records.create("account", {"name": "Batch target"})
    run_section("Upload files and group requests", sdk_env, skip_lines=r"files\.upload",
                seed={"account_id": account_id})
    assert endpoint.read(f"accounts({account_id})", {"$select": "telephone1"})["telephone1"] == "555-0199"
    assert len(endpoint.rows("accounts", "name eq 'Company A'", "accountid")) == 1


def test_async_client(sdk_env: dict[str, Any]) -> None:
    endpoint: MockEndpoint = sdk_env["endpoint"]
    code = SNIPPETS["Use the async client"][0]
    names: dict[str, Any] = {"__name__": "readme"}
    assert "asyncio.run(main())" in code
    exec(compile(code, "README: Use the async client", "exec"), names)  # noqa: S102 - runs main()
    created = endpoint.read("accounts", {"$select": "name", "$orderby": "name"})["value"]
    assert [row["name"] for row in created] == ["Company A", "Company B"]
    assert asyncio.iscoroutinefunction(names["main"])


def test_handle_errors(sdk_env: dict[str, Any]) -> None:
    endpoint: MockEndpoint = sdk_env["endpoint"]
    printed = run_section("Handle errors", sdk_env)
    assert printed == ""  # the create succeeds: no handler prints
    assert len(endpoint.rows("accounts", "name eq 'Contoso Ltd'", "accountid")) == 1


def test_upsert_several_items_by_alternate_key(sdk_env: dict[str, Any]) -> None:
    """The bulk section's upsert with more than one item: the SDK sends UpsertMultiple with
    ``"@odata.id": "accounts(accountnumber='…')"`` targets."""
    from PowerPlatform.Dataverse.models import UpsertItem

    endpoint: MockEndpoint = sdk_env["endpoint"]
    client = sdk_env["client"]
    items = [UpsertItem(alternate_key={"accountnumber": "ACC-001"}, record={"name": "Contoso Ltd"}),
             UpsertItem(alternate_key={"accountnumber": "ACC-002"}, record={"name": "Fabrikam"})]
    client.records.upsert("account", items)
    client.records.upsert("account", [UpsertItem(alternate_key={"accountnumber": "ACC-001"},
                                                 record={"name": "Contoso Renamed"}), items[1]])
    rows = endpoint.read("accounts", {"$select": "name,accountnumber", "$orderby": "accountnumber"})["value"]
    assert [(r["accountnumber"], r["name"]) for r in rows] == [("ACC-001", "Contoso Renamed"), ("ACC-002", "Fabrikam")]
