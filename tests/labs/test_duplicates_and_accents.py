"""The checker finds what the student did: duplicate leads, topics typed without accents."""

from __future__ import annotations

import time
from pathlib import Path

from d365lab.connect import connect
from tests.labs.cli_helpers import cli


def _check(*args: str) -> dict:  # type: ignore[type-arg]
    result = cli("lab", "check", "--format", "json", *args)
    assert result.exit_code in (0, 1), result.stderr
    return result.json()  # type: ignore[no-any-return]


def test_a_duplicate_lead_after_the_lab_does_not_take_the_grade(lab_env: Path) -> None:
    assert cli("lab", "run", "-q", "--prefix", "[D]", "--lang", "en").exit_code == 0
    before = _check("--prefix", "[D]", "--lang", "en", "--no-journal")
    qualified_id = before["records"]["lead_b"]["id"]
    time.sleep(1.05)  # createdon has one-second precision: the duplicate is strictly the newest
    with connect() as client:  # the student saves the lead form a second time
        duplicate_id = client.records.create("lead", {"subject": "[D] Coffee Machine Lead with Company",
                                                      "firstname": "Jon", "lastname": "Doe",
                                                      "companyname": "Doe Inc."})
    after = _check("--prefix", "[D]", "--lang", "en", "--no-journal")
    assert after["score"] == before["score"] == 14
    lead_b = after["records"]["lead_b"]
    assert lead_b["id"] == qualified_id and lead_b["candidates"] == 2
    assert "2 candidates" in lead_b["how"] and duplicate_id in lead_b["how"]
    assert f"chose {qualified_id}" in lead_b["how"] and "fits best" in lead_b["how"]


def test_equal_duplicates_are_chosen_the_same_way_every_time(lab_env: Path) -> None:
    with connect() as client:
        for _ in range(2):
            client.records.create("lead", {"subject": "Autre prospect machine à café", "firstname": "Jack",
                                           "lastname": "Rogers", "companyname": "Test Coffee Shop, Inc."})
    first = _check("--upto", "ex1.t1")["records"]["lead_c"]
    assert first["candidates"] == 2 and "tous correspondent autant" in first["how"]  # French: the lab's language
    assert [_check("--upto", "ex1.t1")["records"]["lead_c"]["id"] for _ in range(2)] == [first["id"]] * 2


def test_a_topic_typed_without_accents_is_found_and_noted(lab_env: Path) -> None:
    with connect() as client:
        client.records.create("lead", {"subject": "[F1] Prospect machine a cafe sans societe",
                                       "firstname": "Jane", "lastname": "Doe",
                                       "jobtitle": "Responsable de la cafeteria"})
    doc = _check("--prefix", "[F1]", "--upto", "ex1.t1")
    assert doc["records"]["lead_a"]["id"] is not None
    checks = {c["id"]: c for c in doc["tasks"][0]["checks"]}
    assert checks["c01"]["status"] == "pass" and checks["c01"]["inexact"] and "accents" in checks["c01"]["message"]
    assert checks["c02"]["status"] == "pass" and checks["c04"]["status"] == "pass"
    table = cli("lab", "check", "--prefix", "[F1]", "--upto", "ex1.t1", "--lang", "fr").stdout
    assert "c01 avertissement : lead_a.subject" in table  # the spec: exact mismatches are warnings
