"""Every bad input or environment: one line ``error: ...`` naming it, exit code 2, before any request."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.labs.cli_helpers import cli, rows

ROOT = Path(__file__).resolve().parents[2]


def _one_error_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, (needle, stderr)


def test_an_unwritable_output_is_refused_before_any_request(lab_env: Path) -> None:
    missing = lab_env / "nowhere" / "r.json"
    check = cli("lab", "check", "--format", "json", "--output", str(missing))
    assert check.exit_code == 2
    _one_error_line(check.stderr, f"cannot write --output {missing}", "does not exist")
    run = cli("lab", "run", "--check", "--format", "markdown", "--output", str(lab_env / "nowhere" / "x.md"))
    assert run.exit_code == 2
    _one_error_line(run.stderr, "cannot write --output")
    assert rows("lead", select=("subject",)) == []  # the lab was not run


def test_roster_outputs_that_cannot_be_written_are_refused_first(lab_env: Path) -> None:
    roster = lab_env / "ro.csv"
    roster.write_text("student,prefix\nAna,[a]\n", encoding="utf-8")
    (lab_env / "blocker").write_text("a file, not a folder", encoding="utf-8")
    bad_dir = cli("lab", "check", "--roster", str(roster), "--reports-dir", str(lab_env / "blocker" / "sub"))
    assert bad_dir.exit_code == 2
    _one_error_line(bad_dir.stderr, "cannot write --reports-dir")
    bad_summary = cli("lab", "check", "--roster", str(roster), "--output", str(lab_env / "nowhere" / "c.md"))
    assert bad_summary.exit_code == 2
    _one_error_line(bad_summary.stderr, "cannot write --output")


def test_an_unknown_time_zone_in_the_environment_is_exit_code_2_for_check(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365LAB_TIMEZONE", "Mars/X")
    result = cli("lab", "check")
    assert result.exit_code == 2
    _one_error_line(result.stderr, "unknown time zone 'Mars/X'")


def test_roster_rows_naming_a_missing_env_file_or_unknown_column_are_errors(lab_env: Path) -> None:
    roster = lab_env / "ro.csv"
    roster.write_text("student,prefix,env_file,dataverse_ur\nZed,[z],nope/zed.env,\n"
                      "Amy,[a],,https://x.crm.dynamics.com\nBo,[b],,\n", encoding="utf-8")
    result = cli("lab", "check", "--roster", str(roster), "--format", "json", "--reports-dir",
                 str(lab_env / "reports"))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert f"{roster}:2: env_file nope/zed.env not found" in result.stderr
    assert f"{roster}:3: unknown column 'dataverse_ur'" in result.stderr
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (lab_env / "reports").iterdir()}
    assert "env_file nope/zed.env not found" in reports["Zed"]["error"]
    assert "dataverse_ur" in reports["Amy"]["error"]
    assert reports["Bo"]["error"] is None  # the other rows are graded normally


def test_a_roster_that_is_not_utf8_says_how_to_save_it(lab_env: Path) -> None:
    roster = lab_env / "ro.csv"
    roster.write_bytes(b"student,prefix\nChlo\xe9,[c]\n")
    result = cli("lab", "check", "--roster", str(roster))
    assert result.exit_code == 2
    _one_error_line(result.stderr, str(roster), "CSV UTF-8")


def test_a_semicolon_separated_roster_is_read(lab_env: Path) -> None:
    assert cli("lab", "run", "--prefix", "[a]", "-q").exit_code == 0
    roster = lab_env / "ro.csv"
    roster.write_text("student;prefix;language\nAna;[a];fr\nBen;[b];en\n", encoding="utf-8")
    result = cli("lab", "check", "--roster", str(roster), "--format", "json", "--reports-dir",
                 str(lab_env / "reports"))
    assert result.exit_code == 1  # Ben has not done the lab
    ana = json.loads((lab_env / "reports" / "Ana.json").read_text(encoding="utf-8"))
    ben = json.loads((lab_env / "reports" / "Ben.json").read_text(encoding="utf-8"))
    assert (ana["score"], ana["prefix"]) == (15, "[a]") and ben["language"] == "en"


def test_a_header_only_roster_is_an_error(lab_env: Path) -> None:
    roster = lab_env / "ro.csv"
    roster.write_text("student,prefix\n", encoding="utf-8")
    result = cli("lab", "check", "--roster", str(roster))
    assert result.exit_code == 2
    _one_error_line(result.stderr, "no student rows")


def test_students_whose_names_slug_alike_get_their_own_report_files(lab_env: Path) -> None:
    roster = lab_env / "ro.csv"
    roster.write_text("student,prefix\nA/B,[a]\nA B,[x]\nA-B,[y]\n", encoding="utf-8")
    result = cli("lab", "check", "--roster", str(roster), "--format", "json", "--reports-dir",
                 str(lab_env / "rep"))
    assert result.exit_code == 1
    files = sorted((lab_env / "rep").iterdir())
    assert [p.name for p in files] == ["A-B-2.json", "A-B-3.json", "A-B.json"]
    students = {json.loads(p.read_text(encoding="utf-8"))["student"] for p in files}
    assert students == {"A/B", "A B", "A-B"}


@pytest.mark.parametrize(("suffix", "starts"), [(".json", "{"), (".xml", "<?xml"), (".md", "# ")])
def test_the_output_suffix_picks_the_format(lab_env: Path, suffix: str, starts: str) -> None:
    target = lab_env / f"report{suffix}"
    assert cli("lab", "check", "-q", "--output", str(target)).exit_code == 1  # nothing done yet
    assert target.read_text(encoding="utf-8").startswith(starts)
    if suffix == ".json":
        assert json.loads(target.read_text(encoding="utf-8"))["schema"] == "d365lab.lab-report/1"


def test_output_options_that_would_be_ignored_are_refused(lab_env: Path) -> None:
    unknown = cli("lab", "check", "--output", str(lab_env / "report.bin"))
    assert unknown.exit_code == 2
    _one_error_line(unknown.stderr, "pass --format")
    without_check = cli("lab", "run", "--format", "json", "--output", str(lab_env / "x.json"))
    assert without_check.exit_code == 2
    _one_error_line(without_check.stderr, "add --check")
    assert rows("lead", select=("subject",)) == []


def test_output_that_is_not_a_terminal_is_not_wrapped(lab_env: Path) -> None:
    prefix = "[" + "long-prefix-" * 6 + "]"
    run = cli("lab", "run", "--exercise", "1", "--prefix", prefix)
    assert run.exit_code == 0
    journal = json.loads(cli("lab", "check", "--prefix", prefix, "--format", "json").stdout)["journal"]
    assert len(journal) > 80 and journal in run.stderr  # the path on one line, whole
    lead_ids = [r["leadid"] for r in rows("lead", select=("leadid",))]
    assert all(lead_id in run.stderr for lead_id in lead_ids)


def test_a_french_report_is_french(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    result = cli("lab", "check", "--format", "markdown")
    assert result.exit_code == 1
    text = result.stdout
    for french in ("Langue", "Vérifié le", "| Tâche | Intitulé | Résultat | Points |", "## Détails", "conseil",
                   "non observable"):
        assert french in text, french
    for english in ("Checked at", "Language:", "not observable", "expected", "hint:"):
        assert english not in text, english
    # a missing record still says what was expected
    assert "attendu 'premier appel de Jon'" in text


def test_reactivation_fails_when_the_journal_shows_the_disqualify_never_happened(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    doc = cli("lab", "check", "-q", "--format", "json").json()
    reactivate = next(t for t in doc["tasks"] if t["id"] == "ex2.t4")
    c05 = next(c for c in reactivate["checks"] if c["id"] == "c05")
    assert (c05["status"], c05["strict"]) == ("fail", True)
    assert not reactivate["passed"] and reactivate["points"] < 1
    assert "ex2.t3" in c05["message"]


def test_lab_files_are_found_under_sys_prefix_and_the_error_names_the_variable(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = lab_env / "venv" / "share" / "d365lab" / "labs"
    installed.mkdir(parents=True)
    shutil.copy(ROOT / "fixtures" / "labs" / "lab-2.1.yaml", installed / "lab-installed.yaml")
    monkeypatch.setattr(sys, "prefix", str(lab_env / "venv"))
    found = cli("lab", "check", "--lab", "lab-installed", "--format", "json")
    assert found.exit_code == 1 and found.json()["lab_id"] == "MB-280T02/lab-2.1"
    monkeypatch.setenv("D365LAB_LABS_DIR", str(lab_env / "empty"))
    missing = cli("lab", "check")
    assert missing.exit_code == 2
    _one_error_line(missing.stderr, "D365LAB_LABS_DIR", "not found")


def test_an_active_stage_hint_names_the_active_stage_not_the_visited_ones(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex3.t1.d", "-q").exit_code == 0
    doc = cli("lab", "check", "--format", "json").json()
    close = next(t for t in doc["tasks"] if t["id"] == "ex3.t1.f")
    active = next(c for c in close["checks"] if c["id"] == "c06")
    assert active["status"] == "fail" and active["actual_label"] == "Proposer"
    assert "phase active : Proposer" in active["hint"] and "parcourues" not in active["hint"]


def test_an_exercise_script_without_lab_files_says_where_it_looked(lab_env: Path) -> None:
    import os
    import subprocess

    env = {**os.environ, "D365LAB_LABS_DIR": str(lab_env / "empty"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "ex1_manage_leads.py"), "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    _one_error_line(done.stderr, "D365LAB_LABS_DIR")
