"""What a student reads: missing records, French reports, hints that can be followed."""

from __future__ import annotations

from pathlib import Path

from d365lab.connect import connect
from tests.labs.cli_helpers import cli


def test_missing_records_show_what_was_expected_never_empty_versus_empty(lab_env: Path) -> None:
    result = cli("lab", "check", "--lang", "en", "--format", "markdown", "--no-journal")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert not [line for line in lines if "expected (empty), actual (empty)" in line]
    assert not [line for line in lines if "expected 0, actual 0" in line]

    def line_of(task_check: str) -> str:
        return next(line for line in lines if task_check in line)

    assert "actual (record not found)" in line_of("c05 fail: lead_a.companyname")  # is_null
    assert "the subject of lead_a" in line_of("c08 fail: opp_a.name")  # equals_field
    assert "expected the contact Jane Doe" in line_of("c09 fail: opp_a.parentcontactid")  # ref
    # relative date-time, in the lab user's own zone (the mock user's default, Europe/Paris)
    assert "16:30 Europe/Paris" in line_of("c04 fail: call_jon.scheduledend")
    assert "actual (not checked)" in line_of("c13 fail: account")  # none_exists


def test_a_french_report_has_no_english_status_words(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    table = cli("lab", "check", "--no-journal", "--lang", "fr").stdout
    assert "not_observable" not in table and "not found" not in table and "non observable" in table
    empty = cli("lab", "check", "--no-journal", "--lang", "fr", "--prefix", "[nobody]").stdout
    assert "not found" not in empty and "not searched" not in empty and "introuvable" in empty


def test_a_wrongly_qualified_lead_gets_a_hint_that_can_be_followed(lab_env: Path) -> None:
    with connect() as client:
        ids = [client.records.create("lead", {"subject": subject, "firstname": "Jack", "lastname": "Rogers"})
               for subject in ("Coffee Machine Lead Without Company", "Coffee Machine Lead with Company",
                               "Another Coffee Machine Lead")]
        client.leads.qualify(ids[2], create_account=False, create_contact=True, create_opportunity=True)
    doc = cli("lab", "check", "--lang", "en", "--upto", "ex2.t3", "--format", "json").json()
    task = next(t for t in doc["tasks"] if t["id"] == "ex2.t3")
    hints = [c["hint"] for c in task["checks"] if c["status"] == "fail"]
    assert hints and all("Reactivate" in h and "delete the contact and opportunity" in h for h in hints)
