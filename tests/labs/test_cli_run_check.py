"""`d365lab lab run` / `check` / `seed` / `cleanup` against the embedded mock tenant."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from d365lab.connect import connect
from tests.labs.cli_helpers import cli, rows

TASKS = ["ex1.t1", "ex2.t1", "ex2.t2", "ex2.t3", "ex2.t4", "ex3.t1.a", "ex3.t1.b", "ex3.t1.c", "ex3.t1.d",
         "ex3.t1.e", "ex3.t1.f", "ex3.t1.g"]


def test_run_then_check_scores_full_marks_in_french(lab_env: Path) -> None:
    result = cli("lab", "run", "--check")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "15/15" in result.stdout
    assert "réussie" in result.stdout
    assert "Requêtes HTTP :" in result.stdout  # the French lab reports in French
    check = cli("lab", "check", "--format", "json")
    assert check.exit_code == 0
    doc = check.json()
    assert (doc["score"], doc["max_score"], doc["language"]) == (15, 15, "fr")


def test_run_then_check_scores_full_marks_in_english_json_document(lab_env: Path) -> None:
    assert cli("lab", "run", "--lang", "en", "-q").exit_code == 0
    result = cli("lab", "check", "--lang", "en", "--format", "json")
    assert result.exit_code == 0, result.stdout
    doc = result.json()
    assert doc["schema"] == "d365lab.lab-report/1"
    assert doc["lab_id"] == "MB-280T02/lab-2.1"
    assert doc["language"] == "en" and doc["tenant"].startswith("mock tenant")
    assert doc["score"] == doc["max_score"] == 15 and doc["passed"] is True and doc["exit_code"] == 0
    assert [t["id"] for t in doc["tasks"]] == TASKS
    for task in doc["tasks"]:
        assert {"id", "title", "passed", "points", "max_points", "status", "checks"} <= set(task)
        assert task["passed"] is True
        for check in task["checks"]:
            assert {"id", "status", "expected", "actual", "expected_label", "actual_label", "record_id"} <= set(check)
    subject = doc["tasks"][0]["checks"][0]
    assert subject["expected"] == "Coffee Machine Lead Without Company" == subject["actual"]
    assert doc["records"]["opp_b"]["how"].startswith("originatingleadid -> lead_b")


def test_rerun_is_idempotent_and_skips_finished_steps(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    again = cli("lab", "run")
    assert again.exit_code == 0
    assert "0 étape(s) faite(s)" in again.stderr
    leads = rows("lead", select=("subject",))
    assert sorted(r["subject"] for r in leads) == sorted(
        ["Prospect machine à café sans société", "Prospect machine à café avec société",
         "Autre prospect machine à café"])
    assert len(rows("opportunity", select=("name",))) == 2
    assert len(rows("phonecall", select=("subject",))) == 1
    assert cli("lab", "check").exit_code == 0


def test_exercises_run_one_at_a_time_and_check_per_exercise(lab_env: Path) -> None:
    for number in ("1", "2", "3"):
        assert cli("lab", "run", "--exercise", number, "-q").exit_code == 0
    result = cli("lab", "check", "--exercise", "2", "--format", "json")
    assert result.exit_code == 0
    assert [t["id"] for t in result.json()["tasks"]] == ["ex2.t1", "ex2.t2", "ex2.t3", "ex2.t4"]


def test_exercise_3_before_2_says_what_to_run_first(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    result = cli("lab", "run", "--exercise", "3", "-q")
    assert result.exit_code == 2
    assert "opp_b" in result.stderr and "lancez d'abord l'exercice 2" in result.stderr  # in the lab language


def test_seed_upto_exercise_2_then_check(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex2", "-q").exit_code == 0
    assert cli("lab", "check", "--upto", "ex2").exit_code == 0
    full = cli("lab", "check", "--format", "json")
    assert full.exit_code == 1
    failed = {t["id"] for t in full.json()["tasks"] if t["status"] == "failed"}
    assert failed == {t for t in TASKS if t.startswith("ex3")}


def test_seed_upto_the_disqualify_is_graded_there(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex2.t3", "-q").exit_code == 0
    result = cli("lab", "check", "--upto", "ex2.t3", "--format", "json")
    assert result.exit_code == 0
    doc = result.json()
    assert [t["id"] for t in doc["tasks"]] == TASKS[:4]
    assert doc["tasks"][3]["checks"][0]["actual"] == 2


def test_cleanup_deletes_exactly_the_tracked_records(lab_env: Path) -> None:
    with connect() as client:
        kept = client.records.create("lead", {"subject": "Autre prospect machine à café", "lastname": "Unrelated"})
    before = {table: len(rows(table)) for table in ("lead", "contact", "account", "opportunity", "phonecall",
                                                     "opportunityclose")}
    assert cli("lab", "run", "-q").exit_code == 0
    result = cli("lab", "cleanup")
    assert result.exit_code == 0
    after = {table: len(rows(table)) for table in before}
    assert after == before
    assert [r["leadid"] for r in rows("lead", select=("subject",))] == [kept]
    assert cli("lab", "cleanup").exit_code == 0  # nothing tracked any more: a no-op


@pytest.mark.parametrize("failing", [False, True])
def test_junit_output_is_valid_for_ci(lab_env: Path, failing: bool) -> None:
    assert cli("lab", "seed" if failing else "run", *(["--upto", "ex2"] if failing else []), "-q").exit_code == 0
    out = lab_env / "report.xml"
    result = cli("lab", "check", "--format", "junit", "--output", str(out))
    assert result.exit_code == (1 if failing else 0)
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "-1")) == 12
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == int(suite.get("failures", "-1")) == int(root.get("failures", "-1"))
    assert len(failures) == (7 if failing else 0)
    assert suite.get("errors") == "0" and suite.get("skipped") == "0"
    for case in cases:
        assert case.get("classname", "").startswith("MB-280T02/lab-2.1.ex") and case.get("name")
    for case in failures:
        failure = case.find("failure")
        assert failure is not None and failure.get("message") and failure.text


def test_markdown_report_names_the_failures(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex3.t1.f", "--lang", "en", "-q").exit_code == 0
    out = lab_env / "report.md"
    assert cli("lab", "check", "--lang", "en", "--format", "markdown", "--output", str(out)).exit_code == 1
    text = out.read_text(encoding="utf-8")
    assert "| ex3.t1.g |" in text and "FAILED" in text
    assert "opp_b.statecode" in text and "Close as won" in text


def test_could_not_check_is_exit_code_2(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("D365LAB_AUTH", "client_secret")  # ... but no tenant, client id or secret
    result = cli("lab", "check", "--format", "json")
    assert result.exit_code == 2
    doc = result.json()
    assert doc["exit_code"] == 2 and doc["error"]


def test_unknown_task_is_exit_code_2(lab_env: Path) -> None:
    result = cli("lab", "check", "--upto", "ex9")
    assert result.exit_code == 2 and "ex2.t3" in result.stderr


def test_name_collisions_pick_the_run_records(lab_env: Path) -> None:
    with connect() as client:  # an earlier, wrong attempt with the same topic
        client.records.create("lead", {"subject": "Prospect machine à café avec société", "lastname": "Old"})
    time.sleep(1.05)  # createdon has one-second precision: the old attempt is not the newest by chance
    assert cli("lab", "run", "-q").exit_code == 0
    result = cli("lab", "check", "--format", "json")
    assert result.exit_code == 0
    lead_b = result.json()["records"]["lead_b"]
    assert lead_b["candidates"] == 2 and "journal d'exécution" in lead_b["how"]
    no_journal = cli("lab", "check", "--format", "json", "--no-journal")
    # the qualified lead, not the old attempt
    assert "correspond le mieux" in no_journal.json()["records"]["lead_b"]["how"]
    failed = {t["id"] for t in no_journal.json()["tasks"] if t["status"] == "failed"}
    assert failed == set()


def test_prefix_scopes_the_lab_on_a_shared_tenant(lab_env: Path) -> None:
    assert cli("lab", "run", "--prefix", "[ana]", "-q").exit_code == 0
    assert cli("lab", "check", "--prefix", "[ana]").exit_code == 0
    other = cli("lab", "check", "--prefix", "[ben]", "--format", "json")
    assert other.exit_code == 1 and other.json()["score"] < 15
    subjects = {r["subject"] for r in rows("lead", select=("subject",))}
    assert "[ana] Prospect machine à café sans société" in subjects


def test_check_upto_a_task_the_lab_undid_later_uses_the_journal(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    doc = cli("lab", "check", "--upto", "ex2.t3", "--format", "json").json()
    task = doc["tasks"][3]
    assert task["id"] == "ex2.t3" and task["passed"] and "journal d'exécution" in task["how_known"]
    without = cli("lab", "check", "--upto", "ex2.t3", "--format", "json", "--no-journal")
    assert without.exit_code == 1
    assert without.json()["tasks"][3]["status"] == "failed"


def test_a_reset_tenant_with_an_old_journal_starts_afresh(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    for path in lab_env.glob("tenant.sqlite*"):
        path.unlink()  # the mock tenant is reset; the journal on this machine is now stale
    empty = cli("lab", "check", "--format", "json").json()
    assert empty["journal"] is None and empty["score"] == 0
    assert cli("lab", "run", "-q").exit_code == 0
    assert cli("lab", "check").exit_code == 0
    assert len(rows("lead", select=("subject",))) == 3


def test_run_one_exercise_with_check_grades_up_to_that_exercise(lab_env: Path) -> None:
    first = cli("lab", "run", "--exercise", "1", "--check", "--format", "json", "-q")
    assert first.exit_code == 0
    assert [t["id"] for t in first.json()["tasks"]] == ["ex1.t1"]
    second = cli("lab", "run", "--exercise", "2", "--check", "--format", "json", "-q")
    assert second.exit_code == 0 and second.json()["score"] == second.json()["max_score"] == 7


def test_the_lab_time_zone_decides_what_1630_means(lab_env: Path) -> None:
    assert cli("lab", "run", "--timezone", "America/New_York", "-q").exit_code == 0
    same = cli("lab", "check", "--format", "json").json()  # the journal remembers the zone
    assert same["time_zone"] == "America/New_York" and same["passed"]
    call = rows("phonecall", select=("scheduledend",))[0]["scheduledend"]
    assert call.endswith(("21:30:00Z", "20:30:00Z"))  # 16:30 in New York (EST / EDT)
    other = cli("lab", "check", "--timezone", "Asia/Tokyo", "--format", "json").json()
    failed = {t["id"] for t in other["tasks"] if t["status"] == "failed"}
    assert failed == {"ex3.t1.b"}
    assert cli("lab", "check", "--timezone", "Mars/Olympus").exit_code == 2


def test_the_close_date_is_the_lab_user_s_today_not_utc_s(lab_env: Path) -> None:
    # Facts sheet section 4 (WinOpportunity): actualclosedate is the OpportunityClose's actualend,
    # a DateOnly value the app's close dialog fills with the user's today.
    # A zone whose calendar day is not UTC's right now (UTC+14 from 10:00 UTC on, UTC-12 before
    # 12:00 UTC): closing as won must record the student's day, as the app's close dialog does.
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Etc/GMT+12"
    local_day = datetime.now(ZoneInfo(zone)).date()
    assert local_day != now.date()
    result = cli("lab", "run", "--check", "--timezone", zone, "--format", "json", "-q")
    assert result.exit_code == 0, result.stdout + result.stderr
    won = next(t for t in result.json()["tasks"] if t["id"] == "ex3.t1.g")
    close_date = next(c for c in won["checks"] if c["field"] == "actualclosedate")
    assert close_date["status"] == "pass", close_date
    assert close_date["actual"] == local_day.isoformat()
