"""Kill-and-resume harness shared by the crash test and ``benchmarks/backlog_crash.py``.

Seeds a loopback mock tenant (persistent SQLite file) with leads, runs the triage CLI as a
subprocess, SIGKILLs it when the journal shows a random amount of progress, resumes, and
finally checks from the tenant that every selected lead was processed exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient

REPO = Path(__file__).resolve().parents[2]
RULES = """
rules:
  - name: qualify companies
    when: {has_company: true}
    action: qualify
    create: [account, contact, opportunity]
  - name: disqualify the rest
    action: disqualify
    reason: cannot_contact
"""
CLI = "import sys; from d365lab.cli import main; sys.argv[0] = 'd365lab'; main()"


@dataclass
class CrashReport:
    """What the harness did and found."""

    kills: list[int] = field(default_factory=list)      # journal "done" count at each kill
    qualified: int = 0
    disqualified: int = 0
    #: leads an interrupted run had sent whose outcome the resume read back from the tenant
    recognised: int = 0
    problems: list[str] = field(default_factory=list)


def seed_leads(client: DataverseClient, count: int) -> dict[str, str]:
    """Create ``count`` open leads; return ``{leadid: expected action}`` (every other has a company)."""
    rows = [{"subject": f"Crash test {i}", "lastname": f"Lead{i}", "firstname": "Test",
             "companyname": f"Company {i}" if i % 2 == 0 else None} for i in range(count)]
    ids = client.records.create_multiple("lead", [{k: v for k, v in r.items() if v is not None} for r in rows])
    return {lead_id: ("qualify" if i % 2 == 0 else "disqualify") for i, lead_id in enumerate(ids)}


def cli_env(base_url: str, token: str, journal: Path) -> dict[str, str]:
    """Environment pointing the CLI at the loopback server with a static token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "D365LAB_", "AZURE_"))}
    env.update(DATAVERSE_URL=base_url, D365LAB_AUTH="token", DATAVERSE_TOKEN=token,
               D365LAB_BACKLOG_JOURNAL=str(journal), PYTHONPATH=str(REPO))
    return env


@dataclass(frozen=True)
class TriageSetup:
    """A seeded tenant, a rules file and the environment of CLI runs journaling to ``journal``."""

    env: dict[str, str]
    rules: Path
    journal: Path
    #: ``{leadid: expected action}`` (see :func:`seed_leads`)
    expected: dict[str, str]


def prepare_triage(base_url: str, token: str, workdir: Path, leads: int,
                   rules_name: str = "rules.yaml") -> TriageSetup:
    """Seed ``leads`` leads and write :data:`RULES` to ``workdir/rules_name`` (journal: ``workdir/journal.sqlite``)."""
    with DataverseClient(base_url, StaticTokenProvider(token)) as client:
        expected = seed_leads(client, leads)
    rules = workdir / rules_name
    rules.write_text(RULES, encoding="utf-8")
    journal = workdir / "journal.sqlite"
    return TriageSetup(cli_env(base_url, token, journal), rules, journal, expected)


def wait_for_run(journal: Path, proc: subprocess.Popen[bytes], done: int = 0, timeout: float = 60.0) -> str:
    """Wait until the CLI process has journaled its run (and ``done`` finished items); return the run id."""
    deadline = time.monotonic() + timeout
    while True:
        run_id, finished = journal_progress(journal)
        if run_id is not None and finished >= done:
            return run_id
        assert proc.poll() is None, "the triage ended before the awaited progress"
        assert time.monotonic() < deadline, "the awaited progress never came"
        time.sleep(0.002)


def journal_progress(journal: Path) -> tuple[str | None, int]:
    """The newest run id and its count of finished items (read-only peek at our own journal file)."""
    if not journal.exists():
        return None, 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
            if row is None:
                return None, 0
            done = db.execute("SELECT COUNT(*) FROM items WHERE run_id = ? AND state = 'done'", row).fetchone()[0]
            return str(row[0]), int(done)
        finally:
            db.close()
    except sqlite3.Error:
        return None, 0


def run_and_kill(args: list[str], env: dict[str, str], cwd: Path, journal: Path, kill_at_done: int | None,
                 timeout: float = 120.0) -> tuple[int | None, int]:
    """Run the CLI; SIGKILL it once the journal has ``kill_at_done`` finished items (None: let it finish).

    Returns ``(exit code or None if killed, done count seen at the kill)``.
    """
    proc = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"CLI did not finish: {args}")
            if kill_at_done is not None:
                _, done = journal_progress(journal)
                if done >= kill_at_done:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return None, done
            time.sleep(0.005)
        return proc.returncode, journal_progress(journal)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def crash_and_resume(base_url: str, token: str, workdir: Path, expected: dict[str, str], kills: int,
                     seed: int) -> CrashReport:
    """Start a triage, kill it ``kills`` times at random progress, resume until done; verify exactly-once."""
    rng = random.Random(seed)
    report = CrashReport()
    rules = workdir / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    journal = workdir / "journal.sqlite"
    env = cli_env(base_url, token, journal)
    total = len(expected)
    targets = sorted(rng.sample(range(1, total), kills))
    args = ["backlog", "triage", str(rules), "--no-progress"]
    for target in targets:
        code, done = run_and_kill(args, env, workdir, journal, target)
        if code is not None:
            report.problems.append(f"run finished (exit {code}) before the kill at {target}")
            break
        report.kills.append(done)
        run_id, _ = journal_progress(journal)
        args = ["backlog", "triage", str(rules), "--no-progress", "--resume", str(run_id)]
    code, _ = run_and_kill(args, env, workdir, journal, None)
    if code != 0:
        report.problems.append(f"final resume exited {code}")
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        report.recognised = db.execute("SELECT COUNT(*) FROM items WHERE detail LIKE '%recognised%'").fetchone()[0]
        unfinished = db.execute("SELECT COUNT(*) FROM items WHERE state != 'done'").fetchone()[0]
    finally:
        db.close()
    if unfinished:
        report.problems.append(f"{unfinished} journal items not done")
    verify(base_url, token, expected, report)
    return report


def verify(base_url: str, token: str, expected: dict[str, str], report: CrashReport) -> None:
    """Check from the tenant: qualified once (one opportunity and one contact each), disqualified right."""
    with DataverseClient(base_url, StaticTokenProvider(token)) as client:
        leads = {r["leadid"]: r for r in client.records.list("lead", select=["leadid", "statecode", "statuscode"])}
        per_lead: dict[str, dict[str, int]] = {lid: {"opportunity": 0, "contact": 0, "account": 0} for lid in leads}
        for table in ("opportunity", "contact", "account"):
            for row in client.records.list(table, select=["_originatingleadid_value"]):
                origin: Any = row.get("_originatingleadid_value")
                if origin in per_lead:
                    per_lead[origin][table] += 1
    for lead_id, action in expected.items():
        lead = leads[lead_id]
        created = per_lead[lead_id]
        if action == "qualify":
            report.qualified += lead["statecode"] == 1
            if lead["statecode"] != 1 or created != {"opportunity": 1, "contact": 1, "account": 1}:
                report.problems.append(f"{lead_id}: state {lead['statecode']}, created {created}")
        else:
            report.disqualified += (lead["statecode"], lead["statuscode"]) == (2, 5)
            if (lead["statecode"], lead["statuscode"]) != (2, 5) or any(created.values()):
                report.problems.append(f"{lead_id}: state {lead['statecode']}/{lead['statuscode']}, created {created}")
