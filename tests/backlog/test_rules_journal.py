"""Rules files and the journal (no tenant involved)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from d365lab.backlog.rules import Action, RulesError, load_rules, matches
from d365lab.backlog.triage_journal import DONE, PENDING, STARTED, Journal, PlannedItem, TriageJournalError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"


def test_example_rules_load_with_labels_resolved() -> None:
    rules = load_rules(FIXTURES / "rules-example.yaml")
    assert [r.action for r in rules.rules] == [Action.QUALIFY, Action.DISQUALIFY, Action.DISQUALIFY,
                                              Action.DISQUALIFY, Action.LEAVE]
    assert rules.rules[0].when.rating == [1]
    assert rules.rules[2].when.source == [8]
    assert rules.rules[1].reason == "cannot_contact"


@pytest.mark.parametrize(("text", "message"), [
    ("rules:\n  - name: a\n    action: disqualify\n", "needs reason"),
    ("rules:\n  - name: a\n    action: promote\n", "action"),
    ("rules:\n  - name: a\n    when: {source: Carrier pigeon}\n    action: leave\n", "not a value of leadsourcecode"),
    ("rules:\n  - name: a\n    action: qualify\n    create: [invoice]\n", "create may list"),
    ("rules:\n  - name: a\n    action: leave\n  - name: a\n    action: leave\n", "unique"),
    ("rules: [\n", "cannot read"),
    ("rules: []\n", "at least 1"),
])
def test_bad_rules_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_rules(path)


def test_conditions_match_lead_columns() -> None:
    rules = load_rules(FIXTURES / "rules-example.yaml")
    hot = {"leadqualitycode": 1, "companyname": "Contoso", "emailaddress1": "a@b.example"}
    assert matches(rules.rules[0].when, hot, in_filter=False)
    assert not matches(rules.rules[0].when, {**hot, "emailaddress1": None}, in_filter=False)
    web = {"leadsourcecode": 8, "companyname": "X"}
    assert not matches(rules.rules[2].when, web, in_filter=False)   # the OData filter did not select it
    assert matches(rules.rules[2].when, web, in_filter=True)
    old = {"createdon": "2020-01-01T00:00:00Z"}
    assert matches(rules.rules[3].when, old, in_filter=False)
    assert not matches(rules.rules[3].when, {"createdon": "2999-01-01T00:00:00Z"}, in_filter=False)


def test_journal_freezes_the_plan_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    items = [PlannedItem(f"id-{i}", f"Lead {i}", "r", "qualify", {"create": ["contact"]}) for i in range(3)]
    with Journal(path) as journal:
        run_id = journal.create_run("rules.yaml", "http://tenant", "org-1", items)
        journal.mark_started(run_id, "id-0")
        journal.mark_finished(run_id, "id-1", DONE, "qualified", None, "opp-1")
    with Journal(path) as journal:
        states = {it.leadid: (it.state, it.attempts) for it in journal.items(run_id)}
        assert states == {"id-0": (STARTED, 1), "id-1": (DONE, 0), "id-2": (PENDING, 0)}
        assert journal.run(run_id).base_url == "http://tenant"
        with pytest.raises(TriageJournalError):
            journal.run("nope")
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
