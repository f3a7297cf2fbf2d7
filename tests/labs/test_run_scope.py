"""One run scope, one journal, one set of records: prefixes, foreign records, corrupt journals, locks."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from d365lab.connect import connect
from tests.labs.cli_helpers import cli, rows

LAB_TOPICS_FR = ("Prospect machine à café sans société", "Prospect machine à café avec société",
                 "Autre prospect machine à café")


def _journal_of(prefix: str, *extra: str) -> Path:
    """The journal file a scope uses, as the checker reports it."""
    doc = cli("lab", "check", "--prefix", prefix, "--format", "json", *extra).json()
    assert doc["journal"], doc
    return Path(doc["journal"])


def test_prefixes_that_slug_alike_keep_their_own_journals_and_cleanup(lab_env: Path) -> None:
    assert cli("lab", "run", "--lang", "en", "--prefix", "[QA1]", "-q").exit_code == 0
    assert cli("lab", "run", "--lang", "en", "--prefix", "QA1", "-q").exit_code == 0
    first = _journal_of("[QA1]", "--lang", "en")
    second = _journal_of("QA1", "--lang", "en")
    assert first != second
    assert cli("lab", "cleanup", "--lang", "en", "--prefix", "[QA1]").exit_code == 0
    subjects = [r["subject"] for r in rows("lead", select=("subject",))]
    assert not [s for s in subjects if s.startswith("[QA1]")]
    assert len([s for s in subjects if s.startswith("QA1 ")]) == 3
    survivor = cli("lab", "check", "--lang", "en", "--prefix", "QA1", "--format", "json")
    assert survivor.exit_code == 0 and survivor.json()["score"] == 15


def test_a_long_prefix_still_makes_a_legal_journal_name(lab_env: Path) -> None:
    prefix = "x" * 250  # the lead topic (subject) holds 300 characters
    run = cli("lab", "run", "--exercise", "1", "--prefix", prefix, "-q")
    assert run.exit_code == 0, run.stderr
    assert len(_journal_of(prefix).name) < 255
    assert cli("lab", "cleanup", "--prefix", prefix).exit_code == 0
    assert rows("lead", select=("subject",)) == []


def test_cleanup_refuses_a_journal_that_belongs_to_another_prefix(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "--prefix", "[QA1]", "-q").exit_code == 0
    assert cli("lab", "run", "--exercise", "1", "--prefix", "QA1", "-q").exit_code == 0
    # what the old file naming did: QA1's journal file holds [QA1]'s journal
    _journal_of("QA1").write_text(_journal_of("[QA1]").read_text(encoding="utf-8"), encoding="utf-8")
    result = cli("lab", "cleanup", "--prefix", "QA1")
    assert result.exit_code == 2
    assert "appartient au préfixe '[QA1]'" in result.stderr and "Traceback" not in result.stderr  # lab language
    assert len(rows("lead", select=("subject",))) == 6  # nobody's records deleted


def test_a_corrupt_journal_is_reported_and_never_overwritten(lab_env: Path) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    journal = _journal_of("")
    journal.write_text("{ not json", encoding="utf-8")
    for command in (("lab", "run", "-q"), ("lab", "check"), ("lab", "cleanup")):
        result = cli(*command)
        assert result.exit_code == 2, command
        assert str(journal) in result.stderr and "déplacez-le" in result.stderr  # "move it aside", in French
    as_json = cli("lab", "check", "--format", "json")  # a platform reading JSON gets an error document
    assert as_json.exit_code == 2 and str(journal) in as_json.json()["error"]
    assert journal.read_text(encoding="utf-8") == "{ not json"
    assert len(rows("lead", select=("subject",))) == 3  # the run did nothing
    assert cli("lab", "check", "--no-journal", "--format", "json").exit_code == 1  # still gradable without it


def test_a_fresh_run_after_an_earlier_untracked_run_ends_with_full_marks(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("lab", "run", "-q").exit_code == 0  # another machine (or a lost journal) did the lab before
    monkeypatch.setenv("D365LAB_LAB_STATE", str(lab_env / "another-machine"))
    result = cli("lab", "run", "--check")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "15/15" in result.stdout
    assert "skipped create_phonecall" not in result.stderr
    calls = rows("phonecall", select=("subject", "statecode"))
    assert len(calls) == 2 and all(c["statecode"] == 1 for c in calls)  # each run completed its own call
    won = rows("opportunity", filter="statecode eq 1", select=("name",))
    assert len(won) == 2


def test_exercise_2_without_a_journal_stops_and_leaves_foreign_leads_alone(lab_env: Path) -> None:
    with connect() as client:  # someone else's leads with the lab's topics
        for topic in LAB_TOPICS_FR:
            client.records.create("lead", {"subject": topic, "firstname": "Someone", "lastname": "Else"})
    for exercise in ("2", "3"):
        result = cli("lab", "run", "--exercise", exercise, "-q")
        assert result.exit_code == 2
        assert "lancez d'abord l'exercice 1" in result.stderr
    leads = rows("lead", select=("subject", "statecode"))
    assert len(leads) == 3 and all(lead["statecode"] == 0 for lead in leads)
    assert rows("opportunity", select=("name",)) == []


def test_a_second_run_of_the_same_scope_waits_then_refuses(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    lock_file = _journal_of("").with_name(_journal_of("").name + ".lock")
    monkeypatch.setenv("D365LAB_LAB_LOCK_WAIT", "0.3")
    with lock_file.open("a") as held:  # another `lab run` of this scope is in progress
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        for command in (("lab", "run", "-q"), ("lab", "cleanup")):
            blocked = cli(*command)
            assert blocked.exit_code == 2
            assert "une autre exécution de ce labo est en cours" in blocked.stderr  # the lab language
        other_scope = cli("lab", "run", "--exercise", "1", "--prefix", "[other]", "-q")
        assert other_scope.exit_code == 0  # the lock is per scope
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert rows("opportunity", select=("name",)) == []  # the refused run changed nothing
    done = cli("lab", "run", "-q", "--check", "--format", "json")
    assert done.exit_code == 0 and json.loads(done.stdout)["score"] == 15
