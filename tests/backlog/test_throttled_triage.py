"""Triage against a tenant that enforces (scaled-down) service-protection limits."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from rich.console import Console

from d365lab.auth import StaticTokenProvider
from d365lab.backlog import triage
from d365lab.backlog.executor import ExecutorSettings
from d365lab.backlog.triage_journal import Journal
from d365lab.client import DataverseClient

from .crashkit import RULES, CrashReport, seed_leads, verify


def test_429s_pause_and_every_lead_is_processed_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import MockSettings, ThrottleSettings

    limits = ThrottleSettings(enabled=True, requests_per_window=15, window_seconds=1, max_concurrent=52)
    running = start_background(":memory:", settings=MockSettings(throttle=limits))
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client, \
                Journal(tmp_path / "journal.sqlite") as journal, caplog.at_level(logging.WARNING):
            expected = seed_leads(client, 40)
            plan = triage.plan_triage(client, rules)
            run_id = triage.start_run(journal, client, rules, plan)
            triage.execute(client, journal, run_id, ExecutorSettings(max_workers=8), Console(quiet=True),
                           show_progress=False)
            states = {state for (state, _outcome) in journal.counts(run_id)}
        report = CrashReport()
        verify(running.base_url, running.token, expected, report)
    finally:
        running.stop()
    assert any("throttled" in r.getMessage() for r in caplog.records), "the limit was never hit"
    assert states == {"done"}
    assert report.problems == []
    assert (report.qualified, report.disqualified) == (20, 20)



def test_dropped_connections_and_503s_are_retried_without_double_processing(tmp_path: Path) -> None:
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import FaultSettings, MockSettings

    faults = FaultSettings(seed=3)
    running = start_background(":memory:", settings=MockSettings(faults=faults))
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client, \
                Journal(tmp_path / "journal.sqlite") as journal:
            expected = seed_leads(client, 60)
            plan = triage.plan_triage(client, rules)
            run_id = triage.start_run(journal, client, rules, plan)
            # From here on, 1 request in 10 gets a 503 and 1 in 10 loses its answer (half of
            # those after the tenant applied it): the executor must neither lose nor repeat a lead.
            faults.error_rate, faults.drop_rate = 0.1, 0.1
            settings = ExecutorSettings(max_workers=4, retry_backoff_seconds=0.01, transient_retries=8)
            for _attempt in range(3):      # a resume picks up whatever a run could not finish
                triage.execute(client, journal, run_id, settings, Console(quiet=True), show_progress=False)
                if set(journal.counts(run_id)) <= {("done", "qualified"), ("done", "disqualified")}:
                    break
            counts = journal.counts(run_id)
            faults.error_rate, faults.drop_rate = 0.0, 0.0
        report = CrashReport()
        verify(running.base_url, running.token, expected, report)
    finally:
        running.stop()
    assert counts == {("done", "qualified"): 30, ("done", "disqualified"): 30}
    assert report.problems == []
