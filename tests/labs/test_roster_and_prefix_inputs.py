"""Roster rows, prefixes and output files as users really type them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.labs.cli_helpers import cli, rows


def _roster(lab_env: Path, text: str) -> Path:
    path = lab_env / "class.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_roster_rows_sharing_tenant_and_prefix_are_refused_naming_them(lab_env: Path) -> None:
    roster = _roster(lab_env, "student,prefix\nA,[P1]\nB,[P2]\nC,[p1]\nD,[P1] \n")
    result = cli("lab", "check", "--roster", str(roster), "--reports-dir", str(lab_env / "reports"))
    assert result.exit_code == 2
    assert "line 2 (A, prefix '[P1]')" in result.stderr and "line 4 (C, prefix '[p1]')" in result.stderr
    assert "line 5 (D" in result.stderr and "(B," not in result.stderr
    assert not (lab_env / "reports").exists() or not list((lab_env / "reports").iterdir())


def test_spaces_around_a_prefix_do_not_lose_the_journal(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "--prefix", "  spaced  ", "-q").exit_code == 0
    doc = cli("lab", "check", "--prefix", "spaced", "--upto", "ex1.t1", "--format", "json").json()
    assert doc["journal"] is not None and doc["prefix"] == "spaced" and doc["score"] == doc["max_score"]
    assert cli("lab", "cleanup", "--prefix", " spaced").exit_code == 0
    assert rows("lead") == []


def test_a_roster_summary_named_json_is_json(lab_env: Path) -> None:
    roster = _roster(lab_env, "student,prefix\nA,[a]\n")
    summary = lab_env / "sum.json"
    result = cli("lab", "check", "--roster", str(roster), "--output", str(summary), "-q",
                 "--reports-dir", str(lab_env / "reports"))
    assert result.exit_code == 1, result.stderr
    assert json.loads(summary.read_text(encoding="utf-8"))["students"][0]["student"] == "A"
    odd = cli("lab", "check", "--roster", str(roster), "--output", str(lab_env / "sum.html"))
    assert odd.exit_code == 2 and "sum.html" in odd.stderr and not (lab_env / "sum.html").exists()


@pytest.mark.parametrize("bad", [("--timezone", "Mars/X"), ("--lang", "de"), ("--upto", "ex9"),
                                 ("--exercise", "7"), ("--lab", "nolab")])
def test_input_errors_with_json_or_junit_still_print_the_error_document(lab_env: Path, bad: tuple[str, str]) -> None:
    as_json = cli("lab", "check", "--format", "json", *bad)
    assert as_json.exit_code == 2 and as_json.stderr.startswith("error: ")
    doc = as_json.json()
    assert doc["exit_code"] == 2 and bad[1] in doc["error"]
    as_junit = cli("lab", "check", "--format", "junit", *bad)
    assert as_junit.exit_code == 2 and "<error" in as_junit.stdout and bad[1] in as_junit.stdout
    assert cli("lab", "check", *bad).stdout == ""  # the table format keeps stdout empty


def test_seed_on_a_tenant_already_past_that_point_says_so(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    result = cli("lab", "seed", "--upto", "ex2", "-q", "--lang", "fr")
    assert result.exit_code == 2
    assert "ex2" in result.stderr and "ex3.t1.g" in result.stderr and "lab cleanup" in result.stderr
    assert cli("lab", "cleanup").exit_code == 0
    assert cli("lab", "seed", "--upto", "ex2", "-q").exit_code == 0
