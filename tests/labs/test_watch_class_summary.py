"""``lab check --watch --roster --output FILE``: the class summary of a plain roster check, kept up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.labs.cli_helpers import cli


def _class(lab_env: Path) -> Path:
    """Ann did exercise 1, Bob nothing yet, and Eve's row names an env file that is not there."""
    assert cli("lab", "seed", "--upto", "ex1", "--prefix", "A1", "-q").exit_code == 0
    roster = lab_env / "class.csv"
    roster.write_text("student,prefix,env_file\nAnn,A1,\nBob,B1,\nEve,E1,missing.env\n", encoding="utf-8")
    return roster


@pytest.mark.parametrize("name", ["class.json", "class.md"])
def test_a_one_round_watch_writes_the_summary_of_a_plain_roster_check(lab_env: Path, name: str) -> None:
    roster = _class(lab_env)
    plain = cli("lab", "check", "--roster", str(roster), "--output", f"plain-{name}", "--reports-dir", "plain", "-q")
    watched = cli("lab", "check", "--watch", "--roster", str(roster), "--max-time", "0", "--output", name,
                  "--reports-dir", "watch", "-q")
    assert plain.exit_code == watched.exit_code == 2, watched.stdout + watched.stderr  # Eve's row cannot be checked
    assert f"class summary written to {name}" in watched.stdout
    written = (lab_env / name).read_text(encoding="utf-8")
    assert written == (lab_env / f"plain-{name}").read_text(encoding="utf-8")
    assert not list(lab_env.glob(f"{name}*.tmp"))  # the temporary file was renamed, not left behind
    if name.endswith(".json"):
        rows = {row["student"]: row for row in json.loads(written)["students"]}
        assert rows["Ann"]["passed"] is False and rows["Ann"]["score"] > 0 and rows["Bob"]["score"] == 0
        assert "missing.env not found" in rows["Eve"]["error"] and rows["Eve"]["passed"] is None
    else:
        assert written.splitlines()[0].endswith("lab-2.1 — class summary") and "| Ann | " in written


def test_the_summary_file_and_the_board_cannot_be_one_file(lab_env: Path) -> None:
    (lab_env / "class.csv").write_text("student,prefix\nAnn,A1\n", encoding="utf-8")
    result = cli("lab", "check", "--watch", "--roster", "class.csv", "--output", "board.md", "--board", "board.md",
                 "--max-time", "0")
    assert result.exit_code == 2 and "--output and --board name the same file" in result.stderr
    assert not (lab_env / "board.md").exists() and not (lab_env / "journals").exists()
