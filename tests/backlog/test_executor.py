"""The executor's decisions about leads that changed between planning and execution."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from d365lab.backlog import triage
from d365lab.backlog.executor import ExecutorSettings
from d365lab.backlog.triage_journal import Journal
from d365lab.client import DataverseClient

from .crashkit import RULES, seed_leads


def test_leads_closed_or_deleted_by_someone_else_are_skipped_not_forced(d365_server_client: DataverseClient,
                                                                        tmp_path: Path) -> None:
    client = d365_server_client
    expected = seed_leads(client, 6)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    with Journal(tmp_path / "journal.sqlite") as journal:
        run_id = triage.start_run(journal, client, rules, triage.plan_triage(client, rules))
        to_qualify = [lead for lead, action in expected.items() if action == "qualify"]
        client.leads.disqualify(to_qualify[0], reason="lost")          # a colleague got there first
        client.records.delete("lead", to_qualify[1])
        triage.execute(client, journal, run_id, ExecutorSettings(), Console(quiet=True), show_progress=False)
        outcomes = {item.leadid: (item.outcome, item.detail or "") for item in journal.items(run_id)}
    assert outcomes[to_qualify[0]][0] == "skipped" and "someone else" in outcomes[to_qualify[0]][1]
    assert outcomes[to_qualify[1]][0] == "skipped" and "no longer exists" in outcomes[to_qualify[1]][1]
    assert outcomes[to_qualify[2]][0] == "qualified"
    row = client.records.get("lead", to_qualify[0], select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (2, 4)              # left as the colleague set it
    assert client.records.count("opportunity") == 1
