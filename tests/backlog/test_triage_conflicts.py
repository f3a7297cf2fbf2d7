"""Triage never overwrites another user's work: every action is conditional on the planned state.

Real CLI processes against one served mock tenant: a lead another user qualified, disqualified
or edited while a run was killed is recorded as skipped with the state found, and left as it
is; two concurrent runs from different journals never both act on a lead, and each one's
results CSV matches the tenant.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.models.enums import LeadState, LeadStatus

from .conftest import Served, StartCli
from .crashkit import CLI, cli_env, journal_progress, prepare_triage, run_and_kill, wait_for_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL / SIGSTOP")

DISQUALIFY_ALL_LOST = """
rules:
  - name: qualify companies
    when: {has_company: true}
    action: qualify
    create: [account, contact, opportunity]
  - name: everything else lost
    action: disqualify
    reason: lost
"""


def _results(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["leadid"]: row for row in csv.DictReader(handle)}


def _pending(journal: Path) -> list[str]:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT leadid FROM items WHERE state = 'pending' ORDER BY seq")]
    finally:
        db.close()


def _leads(served: Served) -> dict[str, dict[str, Any]]:
    with DataverseClient(served.base_url, StaticTokenProvider(served.token)) as client:
        return {r["leadid"]: r for r in client.records.list(
            "lead", select=["leadid", "statecode", "statuscode", "_qualifyingopportunityid_value"])}


def test_resume_after_kill_skips_leads_other_users_closed_or_changed(served: Served, tmp_path: Path) -> None:
    setup = prepare_triage(served.base_url, served.token, tmp_path, 60)
    env, rules, journal, expected = setup.env, setup.rules, setup.journal, setup.expected
    code, _ = run_and_kill(["backlog", "triage", str(rules), "--no-progress", "--max-workers", "1"],
                           env, tmp_path, journal, kill_at_done=5)
    assert code is None, "the run ended before the kill"
    pending = _pending(journal)
    to_disqualify = [lid for lid in pending if expected[lid] == "disqualify"]
    to_qualify = [lid for lid in pending if expected[lid] == "qualify"]
    # Meanwhile, other users work on leads the killed run had planned.
    with DataverseClient(served.base_url, StaticTokenProvider(served.token)) as other:
        qualified_by_other = {lid: other.leads.qualify(lid, create_account=False).opportunity_id
                              for lid in to_disqualify[:2]}
        other.leads.disqualify(to_qualify[0], reason="canceled")
        edited = [to_disqualify[2], to_qualify[1]]
        for lid in edited:
            other.records.update("lead", lid, {"jobtitle": "Edited by a colleague"})
    run_id = journal_progress(journal)[0]
    resumed = subprocess.run([sys.executable, "-c", CLI, "backlog", "triage", str(rules), "--no-progress",
                              "--resume", str(run_id)], env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    rows = _results(tmp_path / f"triage-{run_id}.csv")
    leads = _leads(served)
    for lid, opportunity_id in qualified_by_other.items():
        assert leads[lid]["statecode"] == LeadState.QUALIFIED            # not overwritten with Disqualified
        assert leads[lid]["_qualifyingopportunityid_value"] == opportunity_id
        assert rows[lid]["outcome"] == "skipped" and rows[lid]["found"] == "qualified (Qualified)"
        assert "closed by someone else" in rows[lid]["detail"]
    lead = leads[to_qualify[0]]
    assert (lead["statecode"], lead["statuscode"]) == (LeadState.DISQUALIFIED, LeadStatus.CANCELED)
    assert rows[to_qualify[0]]["outcome"] == "skipped"
    assert rows[to_qualify[0]]["found"] == "disqualified (Canceled)"
    for lid in edited:
        assert leads[lid]["statecode"] == LeadState.OPEN
        assert rows[lid]["outcome"] == "skipped" and rows[lid]["found"] == "open (New), changed"
    untouched = set(pending) - set(qualified_by_other) - {to_qualify[0], *edited}
    assert untouched and all(rows[lid]["outcome"] in ("qualified", "disqualified") for lid in untouched)
    assert all(leads[lid]["statecode"] != LeadState.OPEN for lid in untouched)
    # The summary shows the skips with the state found.
    assert "qualified (Qualified)" in resumed.stdout and "open (New), changed" in resumed.stdout


def _acting(row: dict[str, str] | None) -> bool:
    return row is not None and row["outcome"] in ("qualified", "disqualified")


def test_two_concurrent_runs_from_two_journals_never_both_act(served: Served, tmp_path: Path,
                                                              start_cli: StartCli) -> None:
    setup = prepare_triage(served.base_url, served.token, tmp_path, 80, rules_name="first.yaml")
    first_rules, second_rules = setup.rules, tmp_path / "second.yaml"   # the rest: cannot_contact / lost
    second_rules.write_text(DISQUALIFY_ALL_LOST, encoding="utf-8")
    journals = [setup.journal, tmp_path / "second.sqlite"]
    envs = [setup.env, cli_env(served.base_url, served.token, journals[1])]
    first = start_cli(["backlog", "triage", str(first_rules), "--no-progress", "--results", "first.csv"],
                   envs[0], tmp_path)
    # Hold the first run as soon as its plan is frozen, until the second run has planned too:
    # both then work on the same open leads at the same time.
    wait_for_run(journals[0], first)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = start_cli(["backlog", "triage", str(second_rules), "--no-progress", "--results", "second.csv"],
                        envs[1], tmp_path)
        wait_for_run(journals[1], second)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    outs = [proc.communicate(timeout=120) for proc in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    runs = [_results(tmp_path / "first.csv"), _results(tmp_path / "second.csv")]
    both_planned = set(runs[0]) & set(runs[1])
    assert len(both_planned) > 20, "the two runs did not overlap"
    leads = _leads(served)
    with DataverseClient(served.base_url, StaticTokenProvider(served.token)) as client:
        opportunities: dict[str, int] = {}
        for opp in client.records.list("opportunity", select=["_originatingleadid_value"]):
            origin = str(opp["_originatingleadid_value"])
            opportunities[origin] = opportunities.get(origin, 0) + 1
    reasons = [LeadStatus.CANNOT_CONTACT, LeadStatus.LOST]
    for lid in setup.expected:
        mine = [runs[0].get(lid), runs[1].get(lid)]
        actors = [i for i, row in enumerate(mine) if _acting(row)]
        assert len(actors) == 1, (lid, mine)                           # one run acted, exactly one
        other = mine[1 - actors[0]]
        if other is not None:
            assert other["outcome"] == "skipped" and other["found"], other
        row = mine[actors[0]]
        assert row is not None
        lead = leads[lid]
        if row["outcome"] == "qualified":                              # the report matches the tenant
            assert lead["statecode"] == LeadState.QUALIFIED and opportunities.get(lid) == 1
            assert row["opportunity_id"] == lead["_qualifyingopportunityid_value"]
        else:
            assert (lead["statecode"], lead["statuscode"]) == (LeadState.DISQUALIFIED, reasons[actors[0]])
            assert lid not in opportunities
