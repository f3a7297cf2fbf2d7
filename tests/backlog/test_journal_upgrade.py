"""A journal written before ETags and leases were recorded still lists and resumes its runs.

An admin who upgrades d365lab in the middle of an interrupted triage must be able to finish it:
the journal gains the new columns on open, and its items (planned without an ETag) are sent
with ``If-Match: *`` as before, still never over a lead someone else closed.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from d365lab.client import DataverseClient
from d365lab.models.enums import LeadState, LeadStatus

from .conftest import RunCli

#: The journal schema of the first release (no etag/found/runner columns).
_FIRST_SCHEMA = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, rules_file TEXT NOT NULL,
    base_url TEXT NOT NULL, organization_id TEXT NOT NULL, status TEXT NOT NULL, finished_at TEXT);
CREATE TABLE items (run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL, leadid TEXT NOT NULL,
    name TEXT NOT NULL, rule TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL,
    outcome TEXT, detail TEXT, opportunity_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, processed_by TEXT,
    updated_at TEXT NOT NULL, PRIMARY KEY (run_id, leadid));
CREATE INDEX items_state ON items(run_id, state);
"""


def test_an_interrupted_run_in_a_first_release_journal_resumes(cli: RunCli, workdir: Path,
                                                              tenant: DataverseClient) -> None:
    ids = [tenant.records.create("lead", {"subject": f"Old {i}", "lastname": f"Old{i}"}) for i in range(3)]
    tenant.leads.qualify(ids[2], create_account=False)          # closed by someone else meanwhile
    organization_id = tenant.whoami().organization_id
    journal = workdir / "journal.sqlite"
    db = sqlite3.connect(journal)
    db.executescript(_FIRST_SCHEMA)
    db.execute("INSERT INTO runs VALUES ('old-run', '2026-01-01T00:00:00Z', 'rules.yaml', 'http://x', ?, "
               "'running', NULL)", (organization_id,))
    db.executemany("INSERT INTO items (run_id, seq, leadid, name, rule, action, params, state, updated_at) "
                   "VALUES ('old-run', ?, ?, ?, 'r', 'disqualify', '{\"reason\": \"lost\"}', 'pending', "
                   "'2026-01-01T00:00:00Z')", [(i, lid, f"Old {i}") for i, lid in enumerate(ids)])
    db.commit()
    db.close()

    listing = cli("backlog", "runs")
    assert listing.exit_code == 0 and "old-run" in listing.output and "interrupted" in listing.output
    result = cli("backlog", "triage", "rules.yaml", "--no-progress", "--resume", "old-run",
                 "--results", "old.csv")
    assert result.exit_code == 0, result.output
    for lead_id in ids[:2]:
        row = tenant.records.get("lead", lead_id, select=["statecode", "statuscode"])
        assert (row["statecode"], row["statuscode"]) == (LeadState.DISQUALIFIED, LeadStatus.LOST)
    assert tenant.records.get("lead", ids[2], select=["statecode"])["statecode"] == LeadState.QUALIFIED
    with (workdir / "old.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {r["leadid"]: r for r in csv.DictReader(handle)}
    assert [rows[lid]["outcome"] for lid in ids] == ["disqualified", "disqualified", "skipped"]
    assert rows[ids[2]]["found"] == "qualified (Qualified)"
    assert "finished" in cli("backlog", "runs").output
