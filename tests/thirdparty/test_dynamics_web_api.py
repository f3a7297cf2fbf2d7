"""The unmodified npm ``dynamics-web-api`` 2.5 library against the mock tenant.

Each test runs one scenario of ``js/scenarios.js`` with node against a fresh loopback mock,
checks what the library returned, then reads the outcome back from the mock over plain
HTTP. Skipped (with the reason) when node or ``js/node_modules`` is missing; CI installs
them with ``cd tests/thirdparty/js && npm ci``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from thirdparty_mock import REPO_ROOT, MockEndpoint, served_by_cli

if TYPE_CHECKING:
    from tls_mock import HttpsMock

JS_DIR = Path(__file__).parent / "js"
SCENARIOS = JS_DIR / "scenarios.js"
LAB_2_1 = JS_DIR / "lab21.js"
NODE = shutil.which("node")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

pytestmark = [
    pytest.mark.thirdparty,
    pytest.mark.skipif(NODE is None, reason="node is not installed: the dynamics-web-api tests need Node.js >= 18"),
    pytest.mark.skipif(
        not (JS_DIR / "node_modules" / "dynamics-web-api" / "package.json").is_file(),
        reason="dynamics-web-api is not installed: run `cd tests/thirdparty/js && npm ci`",
    ),
]


def run_scenario(endpoint: MockEndpoint, name: str, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one JS scenario against ``endpoint`` and return the JSON document it prints."""
    return run_node(endpoint, [str(SCENARIOS), name], extra_env)


def run_node(endpoint: MockEndpoint, arguments: list[str], extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run node with ``arguments`` against ``endpoint`` and return the JSON document it prints."""
    assert NODE is not None
    # dynamics-web-api sends even loopback requests through $http_proxy (it ignores no_proxy).
    env = {k: v for k, v in os.environ.items() if k.lower() != "http_proxy"}
    env |= {"D365LAB_MOCK_URL": endpoint.base_url, "D365LAB_MOCK_TOKEN": endpoint.token, **(extra_env or {})}
    done = subprocess.run(
        [NODE, *arguments], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"node {' '.join(arguments[1:]) or arguments[0]} failed (exit {done.returncode}): "
                    f"{done.stderr.strip()[:2000]}")
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


def test_crud_round_trip(mock_endpoint: MockEndpoint) -> None:
    """create -> retrieve -> update (If-Match: *) -> delete, then a 404 the library surfaces."""
    out = run_scenario(mock_endpoint, "crud")

    assert GUID.match(out["id"]), "create must return the id parsed from OData-EntityId"
    created = out["created"]
    assert (created["subject"], created["lastname"], created["jobtitle"], created["statecode"]) == (
        "JS CRUD lead", "Lovelace", "Clerk", 0,
    )
    assert created["leadid"] == out["id"]
    assert out["updated"] is True
    assert out["afterUpdate"]["jobtitle"] == "Buyer"
    assert out["deleted"] is True
    missing = out["retrieveDeleted"]
    assert missing["failed"] is True
    assert missing["reason"]["status"] == 404
    assert missing["reason"]["code"] == "0x80040217"
    assert mock_endpoint.get(f"leads({out['id']})").status_code == 404


def test_create_with_return_representation(mock_endpoint: MockEndpoint) -> None:
    """``returnRepresentation`` sends ``Prefer: return=representation`` and parses the 201 body."""
    row = run_scenario(mock_endpoint, "create_with_representation")["row"]

    assert row["subject"] == "JS representation lead"
    assert row["statecode"] == 0
    assert GUID.match(row["leadid"])
    assert mock_endpoint.read(f"leads({row['leadid']})", {"$select": "subject"})["subject"] == row["subject"]


def test_query_filter_select_orderby_top_and_paging(mock_endpoint: MockEndpoint) -> None:
    """CreateMultiple through callAction, then $filter/$select/$orderby/$top and maxPageSize paging."""
    out = run_scenario(mock_endpoint, "query")

    assert len(out["createdIds"]) == 7 and all(GUID.match(i) for i in out["createdIds"])
    assert [r["subject"] for r in out["topThree"]] == ["JSQ 7", "JSQ 6", "JSQ 5"]
    assert all("lastname" not in r for r in out["topThree"]), "$select must limit the columns"
    assert out["firstPage"] == {"count": 3, "hasNextLink": True}
    assert sorted(r["subject"] for r in out["all"]) == [f"JSQ {n}" for n in range(1, 8)]
    assert sorted(r["leadid"] for r in out["all"]) == sorted(out["createdIds"])


def test_bound_qualify_lead_via_call_action(mock_endpoint: MockEndpoint) -> None:
    """QualifyLead creates account, contact and opportunity that point back to the lead."""
    check_qualify_outcome(mock_endpoint, run_scenario(mock_endpoint, "qualify"))


def test_qualify_against_d365lab_mock_serve(cli_served_endpoint: MockEndpoint) -> None:
    """The same QualifyLead scenario against ``d365lab mock serve`` started as a user starts it."""
    check_qualify_outcome(cli_served_endpoint, run_scenario(cli_served_endpoint, "qualify"))


def check_qualify_outcome(endpoint: MockEndpoint, out: dict[str, Any]) -> None:
    """What the ``qualify`` scenario must have seen and left behind."""
    lead_id = out["leadId"]
    by_type = {item["@odata.type"]: item for item in out["created"]}
    assert set(by_type) == {
        "#Microsoft.Dynamics.CRM.account", "#Microsoft.Dynamics.CRM.contact", "#Microsoft.Dynamics.CRM.opportunity",
    }
    opportunity_id = by_type["#Microsoft.Dynamics.CRM.opportunity"]["opportunityid"]
    account_id = by_type["#Microsoft.Dynamics.CRM.account"]["accountid"]
    contact_id = by_type["#Microsoft.Dynamics.CRM.contact"]["contactid"]

    assert out["lead"]["statecode"] == 1 and out["lead"]["statuscode"] == 3
    assert out["lead"]["_qualifyingopportunityid_value"] == opportunity_id
    assert out["qualifyAgain"]["failed"] is True, "a qualified lead is closed and cannot be qualified again"
    assert out["qualifyAgain"]["reason"]["status"] == 400

    opportunity = endpoint.read(f"opportunities({opportunity_id})", {"$select": "name,_originatingleadid_value"})
    assert opportunity["_originatingleadid_value"] == lead_id
    assert opportunity["name"] == "JS qualify lead"
    account = endpoint.read(f"accounts({account_id})", {"$select": "name,_originatingleadid_value"})
    assert (account["name"], account["_originatingleadid_value"]) == ("Contoso Coffee", lead_id)
    contact = endpoint.read(f"contacts({contact_id})", {"$select": "lastname,_originatingleadid_value"})
    assert (contact["lastname"], contact["_originatingleadid_value"]) == ("Lovelace", lead_id)


def test_unbound_win_opportunity(mock_endpoint: MockEndpoint) -> None:
    """WinOpportunity closes the opportunity as Won and records a completed opportunityclose."""
    out = run_scenario(mock_endpoint, "win")
    opportunity_id = out["opportunityId"]

    assert out["winResult"] is None, "WinOpportunity answers 204 without a body"
    assert (out["opportunity"]["statecode"], out["opportunity"]["statuscode"]) == (1, 3)
    assert [(c["subject"], c["statecode"]) for c in out["closes"]] == [("Won by the JS library", 1)]
    assert out["winAgain"]["failed"] is True, "a won opportunity is closed and cannot be won again"
    assert out["winAgain"]["reason"]["status"] == 400

    opportunity = mock_endpoint.read(f"opportunities({opportunity_id})", {"$select": "statecode,statuscode"})
    assert (opportunity["statecode"], opportunity["statuscode"]) == (1, 3)
    closes = mock_endpoint.rows("opportunitycloses", f"_opportunityid_value eq {opportunity_id}", "subject")
    assert len(closes) == 1


def test_batch_with_change_set_and_content_id_reference(mock_endpoint: MockEndpoint) -> None:
    """One change set (create, PATCH $1, bound QualifyLead) plus a GET, parsed by the strict JS parser."""
    out = run_scenario(mock_endpoint, "batch")
    created_id, patched, qualified, listed = out["results"]

    assert isinstance(created_id, str) and GUID.match(created_id), f"create part: {created_id!r}"
    assert patched is True, f"PATCH $1 part: {patched!r}"
    opportunity = next(i for i in qualified["value"] if i["@odata.type"] == "#Microsoft.Dynamics.CRM.opportunity")
    assert [(r["leadid"], r["jobtitle"]) for r in listed["value"]] == [(created_id, "Batch buyer")]

    assert mock_endpoint.read(f"leads({created_id})", {"$select": "jobtitle"})["jobtitle"] == "Batch buyer"
    qualified_lead = mock_endpoint.read(f"leads({out['toQualify']})", {"$select": "statecode"})
    assert qualified_lead["statecode"] == 1
    opportunity_path = f"opportunities({opportunity['opportunityid']})"
    origin = mock_endpoint.read(opportunity_path, {"$select": "_originatingleadid_value"})
    assert origin["_originatingleadid_value"] == out["toQualify"]


def test_failed_change_set_rolls_back_and_rejects(mock_endpoint: MockEndpoint) -> None:
    """A change set whose second request fails leaves nothing behind; the library rejects the batch."""
    out = run_scenario(mock_endpoint, "batch_rollback")
    outcome = out["outcome"]

    assert outcome["failed"] is True
    errors = [r for r in outcome["reason"] if isinstance(r, dict) and r.get("error")]
    assert errors and errors[0]["status"] == 404
    assert errors[0]["code"] == "0x80040217", "the failed part carries the service error envelope"
    assert mock_endpoint.rows("leads", "subject eq 'JS rolled back lead'", "subject") == []


def test_formatted_values_expand_and_count(mock_endpoint: MockEndpoint) -> None:
    """``includeAnnotations`` (``_Formatted`` keys), a single-valued ``$expand``, ``$count`` both ways."""
    out = run_scenario(mock_endpoint, "annotations_expand_count")

    annotated = out["annotated"]
    assert (annotated["statuscode"], annotated["statuscode_Formatted"]) == (1, "New")
    assert (annotated["leadsourcecode"], annotated["leadsourcecode_Formatted"]) == (8, "Web")
    assert annotated["_parentaccountid_value"] == out["accountId"]
    assert annotated["_parentaccountid_value_Formatted"] == "Contoso Coffee"
    expanded_account = out["expanded"]["parentaccountid"]
    assert (expanded_account["accountid"], expanded_account["name"]) == (out["accountId"], "Contoso Coffee")
    assert (out["filteredCount"], out["plainCount"]) == (1, 1), "$count=true with a filter, and /leads/$count"


def test_lookup_annotations_with_include_annotations_star(mock_endpoint: MockEndpoint) -> None:
    """``includeAnnotations: "*"`` on a polymorphic lookup: the library's ``_LogicalName``,
    ``_NavigationProperty`` and ``_Formatted`` keys, and a formatted money value."""
    out = run_scenario(mock_endpoint, "lookup_annotations")
    row = out["row"]

    assert row["_customerid_value"] == out["accountId"]
    assert row["_customerid_value_LogicalName"] == "account"
    assert row["_customerid_value_NavigationProperty"] == "customerid_account"
    assert row["_customerid_value_Formatted"] == "Contoso Coffee"
    assert (row["budgetamount"], row["budgetamount_Formatted"]) == (1234.5, "$1,234.50")


def test_etag_concurrency_state_changes_and_functions(mock_endpoint: MockEndpoint) -> None:
    """If-Match with a stale etag (the library turns the 412 into ``false``), an invalid state/status
    pair, a disqualifying PATCH, unbound LoseOpportunity and the WhoAmI function."""
    out = run_scenario(mock_endpoint, "etag_and_states")

    assert (out["withFreshEtag"], out["withStaleEtag"]) == (True, False)
    invalid = out["invalidPair"]
    assert invalid["failed"] is True and invalid["reason"]["status"] == 400
    assert "6 is not a valid status code for state code LeadState.Open" in invalid["reason"]["message"]
    assert out["disqualified"] is True
    lead = out["lead"]
    assert (lead["jobtitle"], lead["statecode"], lead["statuscode"]) == ("First", 2, 6)
    assert out["lost"] is None, "LoseOpportunity answers 204 without a body"
    assert (out["opportunity"]["statecode"], out["opportunity"]["statuscode"]) == (2, 4)
    user_id = out["whoAmI"]["UserId"]
    assert GUID.match(user_id) and GUID.match(out["whoAmI"]["BusinessUnitId"])
    assert mock_endpoint.read(f"systemusers({user_id})", {"$select": "fullname"})["systemuserid"] == user_id


def test_batch_continue_on_error_keeps_going_past_a_failed_part(mock_endpoint: MockEndpoint) -> None:
    """Plain (non-change-set) parts with ``Prefer: odata.continue-on-error``: the failed part comes
    back as an error in place and the parts after it still run."""
    created_1, failed, created_2, listed = run_scenario(mock_endpoint, "batch_continue_on_error")["results"]

    assert GUID.match(created_1) and GUID.match(created_2)
    assert (failed["error"], failed["status"], failed["code"]) == (True, 404, "0x80040217")
    assert sorted(r["leadid"] for r in listed["value"]) == sorted([created_1, created_2])


def test_batch_get_with_a_space_in_orderby(mock_endpoint: MockEndpoint) -> None:
    """A GET part whose ``$orderby=subject desc`` carries a raw space."""
    out = run_scenario(mock_endpoint, "batch_spaced_orderby")

    assert out["subjects"] == ["JS order B", "JS order A"]


def test_use_entity_names_reads_entity_definitions(mock_endpoint: MockEndpoint) -> None:
    """With ``useEntityNames`` the library maps ``lead`` to ``leads`` from EntityDefinitions."""
    out = run_scenario(mock_endpoint, "entity_names")

    assert out["row"]["subject"] == "JS entity-name lead"
    assert mock_endpoint.read(f"leads({out['id']})", {"$select": "subject"})["subject"] == "JS entity-name lead"


def test_fetch_xml(mock_endpoint: MockEndpoint) -> None:
    """``fetch`` sends ``?fetchXml=``; only the matching row and the listed attribute come back."""
    rows = run_scenario(mock_endpoint, "fetch_xml")["rows"]

    assert [r["subject"] for r in rows] == ["JS fetch match"]
    assert "lastname" not in rows[0]


def test_associate_and_disassociate(mock_endpoint: MockEndpoint) -> None:
    """``associate`` (POST ``$ref`` on the account's ``lead_parent_account`` collection), then
    ``disassociateSingleValued`` and ``associateSingleValued`` (DELETE/PUT ``parentaccountid/$ref``)."""
    out = run_scenario(mock_endpoint, "associate_collection")

    assert out["afterAssociate"] == out["accountId"]
    assert out["afterDisassociate"] is None
    lead = mock_endpoint.read(f"leads({out['leadId']})", {"$select": "_parentaccountid_value"})
    assert lead["_parentaccountid_value"] == out["accountId"]


def test_upsert_creates_then_updates(mock_endpoint: MockEndpoint) -> None:
    """``upsert`` is a PATCH without If-Match: it creates the row with the client's id, then
    updates it; with ``If-None-Match: *`` on an existing row the library turns the 412 into null."""
    out = run_scenario(mock_endpoint, "upsert")

    assert out["created"] == out["leadId"] and out["updated"] == out["leadId"]
    assert out["createOnly"] is None
    lead = mock_endpoint.read(f"leads({out['leadId']})", {"$select": "subject,jobtitle"})
    assert (lead["subject"], lead["jobtitle"]) == ("JS upserted lead", "Upserted")


def test_query_and_paging_over_https(https_mock: HttpsMock) -> None:
    """The same query scenario over TLS (certificate trusted via NODE_EXTRA_CA_CERTS): the
    nextLinks the library follows must carry the https service root."""
    out = run_scenario(https_mock.endpoint, "query", {"NODE_EXTRA_CA_CERTS": str(https_mock.ca_file)})

    assert out["firstPage"] == {"count": 3, "hasNextLink": True}
    assert sorted(r["leadid"] for r in out["all"]) == sorted(out["createdIds"])


def test_lab_2_1_done_with_the_library_is_graded_complete(tmp_path: Path) -> None:
    """The whole of Lab 2.1 done through dynamics-web-api against ``d365lab mock serve --db FILE``;
    then ``d365lab lab check`` (the embedded mock on the same file) passes every observable task
    and finds exactly the records the library made."""
    tenant_file = tmp_path / "tenant.sqlite"
    # The script types its times in UTC, so its Dataverse user's zone is UTC (the grader reads
    # "today 16:30" in the zone of the user who owns the records, as a student types it).
    with served_by_cli(str(tenant_file), "--user-timezone", "UTC") as endpoint:
        made = run_node(endpoint, [str(LAB_2_1)])

    env = {k: v for k, v in os.environ.items() if k not in ("DATAVERSE_URL", "D365LAB_TIMEZONE")}
    env |= {"D365LAB_MOCK_DB": str(tenant_file), "D365LAB_LAB_STATE": str(tmp_path / "journals")}
    checked = subprocess.run(
        [sys.executable, "-c", "from d365lab.cli import main; main()",
         "lab", "check", "--lang", "en", "--format", "json", "--no-journal"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert checked.stdout, checked.stderr[-2000:]
    report = json.loads(checked.stdout)
    failed = [
        (task["id"], check["id"], check["message"])
        for task in report["tasks"] for check in task["checks"]
        if check["strict"] and check["status"] == "fail"
    ]
    assert failed == []
    assert checked.returncode == 0
    statuses = {task["id"]: task["status"] for task in report["tasks"]}
    # Disqualify-then-reactivate leaves no trace in the tenant; without the run journal only
    # the checker's "not observable" verdict is honest for it.
    assert statuses.pop("ex2.t3") == "not_observable"
    assert set(statuses.values()) == {"passed"}, statuses
    # A task nobody can observe is left out of the maximum, not counted as a failure.
    assert (report["score"], report["max_score"]) == (14, 14)
    found = {alias: record.get("id") for alias, record in report["records"].items()}
    assert (found["lead_a"], found["lead_b"], found["lead_c"]) == (made["leadA"], made["leadB"], made["leadC"])
    assert (found["opp_a"], found["opp_b"], found["call_jon"]) == (
        made["opportunityA"], made["opportunityB"], made["callId"],
    )
