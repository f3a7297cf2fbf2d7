"""dynamics-web-api's documented usage examples (``js/readme.js``), unmodified library, against
``d365lab mock serve`` run as a user runs it (one server process for the module).

Each test runs one example with node, checks what the library returned, and reads the
outcome back from the mock over plain HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from test_dynamics_web_api import GUID, JS_DIR, NODE
from test_dynamics_web_api import pytestmark as _requirements
from thirdparty_mock import MockEndpoint, served_by_cli

pytestmark = _requirements
README = JS_DIR / "readme.js"


@pytest.fixture(scope="module")
def served() -> Iterator[MockEndpoint]:
    """One ``d365lab mock serve --db :memory:`` process for the module's examples."""
    previous = {name: os.environ.get(name) for name in ("no_proxy", "NO_PROXY")}
    os.environ.update({"no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"})
    try:
        with served_by_cli(":memory:") as endpoint:
            yield endpoint
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def example(endpoint: MockEndpoint, name: str) -> dict[str, Any]:
    """Run one README example and return the JSON document it prints."""
    assert NODE is not None
    env = {k: v for k, v in os.environ.items() if k.lower() != "http_proxy"}
    env |= {"D365LAB_MOCK_URL": endpoint.base_url, "D365LAB_MOCK_TOKEN": endpoint.token}
    done = subprocess.run([NODE, str(README), name], cwd=JS_DIR, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"node readme.js {name} failed (exit {done.returncode}): {done.stderr.strip()[:2000]}")
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def test_create(served: MockEndpoint) -> None:
    out = example(served, "create")
    assert GUID.match(out["id"])
    assert served.read(f"leads({out['id']})", {"$select": "subject,fullname"})["fullname"] == "Test WebAPI"
    assert (out["returned"]["subject"], out["returned"]["fullname"]) == ("Test WebAPI 2", "Test WebAPI")


def test_update_basic_and_with_representation(served: MockEndpoint) -> None:
    out = example(served, "update")
    assert out["basic"] is True
    assert out["advanced"]["subject"] == "Test update 2" and out["advanced"]["leadid"] == out["leadId"]
    assert served.read(f"leads({out['leadId']})", {"$select": "jobtitle"})["jobtitle"] == "Senior Developer"


def test_update_single_property(served: MockEndpoint) -> None:
    out = example(served, "update_single_property")
    assert served.read(f"leads({out['leadId']})", {"$select": "subject"})["subject"] == "Update Single"


def test_upsert_create_only_then_update_only(served: MockEndpoint) -> None:
    out = example(served, "upsert")
    assert out["created"] == out["leadId"]
    assert out["createAgain"] == {"ok": True, "value": None}  # 412 on If-None-Match: * -> the library's null
    assert served.read(f"leads({out['leadId']})", {"$select": "subject"})["subject"] == "Test Upsert updated"


def test_delete_a_property_then_the_row(served: MockEndpoint) -> None:
    out = example(served, "delete_record")
    assert out["afterProperty"]["jobtitle"] is None
    assert out["deleted"] is True
    assert served.get(f"leads({out['leadId']})").status_code == 404


def test_retrieve_conditional_annotated_reference_and_alternate_key(served: MockEndpoint) -> None:
    out = example(served, "retrieve")
    assert out["record"]["subject"] == "Test WebAPI"
    assert "unchanged" not in out  # 304 Not Modified: the library resolves to nothing
    assert out["annotated"]["statuscode_Formatted"] == "New"
    who = served.read("WhoAmI")["UserId"]
    assert (out["owner"]["id"], out["owner"]["collection"]) == (who, "systemusers")
    assert out["byKey"]["leadid"] == out["leadId"]


def test_retrieve_multiple_all_and_counts(served: MockEndpoint) -> None:
    out = example(served, "retrieve_multiple")
    open_leads = len(served.rows("leads", "statecode eq 0", "leadid"))
    assert out["page"] == {"count": open_leads, "size": 5, "hasNextLink": True}
    assert out["all"] == out["count"] == out["countAll"] == open_leads


def test_associate_and_disassociate(served: MockEndpoint) -> None:
    out = example(served, "associate")
    assert out["associated"]["_parentaccountid_value"] == out["accountId"]
    assert out["disassociated"]["_parentaccountid_value"] is None
    assert out["single"]["_parentaccountid_value"] == out["accountId"]
    assert out["singleGone"]["_parentaccountid_value"] is None
    assert out["competitors"] == ["Readme Competitor"]


def test_change_tracking_delta(served: MockEndpoint) -> None:
    out = example(served, "change_tracking")
    assert "$deltatoken=" in out["deltaLink"]
    changed = [row for row in out["delta"] if row.get("accountid") == out["keptId"]]
    deleted = [row for row in out["delta"] if row.get("reason") == "deleted"]
    assert [row["name"] for row in changed] == ["Tracked changed"]
    assert [row["id"] for row in deleted] == [out["goneId"]]


def test_functions(served: MockEndpoint) -> None:
    out = example(served, "functions")
    assert GUID.match(out["whoAmI"]["UserId"])
    collection = out["counts"]["EntityRecordCountCollection"]
    assert collection["Keys"] == ["account", "contact"]
    assert collection["Values"][0] == len(served.read("accounts", {"$select": "accountid"})["value"])
    assert out["address"]["Address"] == "123 Maple St.\r\nSeattle, WA 98007\r\nUSA"


def test_metadata_definitions(served: MockEndpoint) -> None:
    out = example(served, "metadata")
    assert out["entity"]["EntitySetName"] == "accounts"
    assert "account" in out["userOwned"] and "systemuser" not in out["userOwned"]
    assert out["attributes"] > 10
    assert "contact_customer_accounts" in out["oneToMany"]
    assert out["manyToMany"] == {"SchemaName": "opportunitycompetitors_association",
                                 "IntersectEntityName": "opportunitycompetitors"}
