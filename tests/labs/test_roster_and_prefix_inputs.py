"""Roster rows, prefixes and output files as users really type them."""

from __future__ import annotations

from pathlib import Path

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
