"""Kill the triage CLI with SIGKILL at random points, resume, and check every lead was processed once."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient

from .crashkit import crash_and_resume, seed_leads

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


def test_kill_nine_five_times_then_resume_processes_each_lead_once(tmp_path: Path) -> None:
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import FaultSettings, MockSettings

    # A little latency per request so the kills land while requests are in flight.
    running = start_background(db_path=str(tmp_path / "tenant.sqlite"),
                               settings=MockSettings(faults=FaultSettings(latency_ms=4)))
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
            expected = seed_leads(client, 150)
        report = crash_and_resume(running.base_url, running.token, tmp_path, expected, kills=5, seed=7)
    finally:
        running.stop()
    assert report.problems == []
    assert len(report.kills) == 5
    assert report.qualified == 75 and report.disqualified == 75
    results = list(tmp_path.glob("triage-*.csv"))
    assert len(results) == 1
    with results[0].open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 150 and {r["state"] for r in rows} == {"done"}
    assert len({r["leadid"] for r in rows}) == 150
