"""``lab check --watch``: tasks turning green, the watch journal, proof of an undone state, cost and 429s."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.connect import connect
from d365lab.labs.loader import load_lab
from d365lab.labs.roster import Student
from d365lab.labs.watch import ClassWatch, WatchOptions, WatchRound, run_watch
from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings, ThrottleSettings
from d365lab.transport import RetryPolicy
from tests.labs.cli_helpers import cli

ROUND_LINE = re.compile(r"round (\d+) at [\d:]+: (\d+) requests \(([\d.]+) per student\)")
ROUND_LINE_FR = re.compile(r"tour (\d+) à [\d:]+ : (\d+) requêtes \(([\d.]+) par stagiaire\)")
#: What docs/labs.md and docs/lab-platforms.md promise a round costs per student ("about 12").
STATED_REQUESTS_PER_STUDENT = 12


def _reactivate_lead_c() -> None:
    """What the student does for ex2.t4 (Reactivate on the disqualified lead)."""
    with connect() as client:
        lead = client.records.first("lead", filter="statecode eq 2", select=["leadid"])
        assert lead is not None
        client.leads.reactivate(lead["leadid"])


def _watch_files(lab_env: Path) -> list[Path]:
    return sorted((lab_env / "journals").glob("*.watch.json"))


def test_a_watch_sees_the_disqualify_that_the_reactivation_later_hides(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex2.t3", "-q").exit_code == 0
    # --no-journal: grade as for a student who did the lab by hand (no run journal to prove anything)
    first = cli("lab", "check", "--watch", "--no-journal", "--max-time", "0", "--upto", "ex2.t4")
    assert re.search(r"ex2\.t3 réussie", first.stderr), first.stderr  # the lab's language (French by default)
    rounds = ROUND_LINE_FR.findall(first.stderr)
    assert len(rounds) == 1 and int(rounds[0][1]) <= STATED_REQUESTS_PER_STUDENT
    _reactivate_lead_c()

    second = cli("lab", "check", "--watch", "--no-journal", "--max-time", "0", "--upto", "ex2.t4", "--format", "json")
    assert "lead_c.statecode : 2 -> 0" in second.stderr  # the transition, as it was observed
    assert "tâche ex2.t4 : échec -> réussie" in second.stderr
    assert re.search(r"ex2\.t4 réussie", second.stderr)
    report = second.json()
    assert second.exit_code == 0 and report["score"] == report["max_score"]
    task = next(t for t in report["tasks"] if t["id"] == "ex2.t3")
    assert task["status"] == "passed" and "--watch" in task["how_known"]
    assert task["proven_by"] == "watch journal"  # the third history source, after audit and the run journal

    # a later plain check reads the watch journal too
    later = cli("lab", "check", "--no-journal", "--upto", "ex2.t4", "--format", "json").json()
    assert next(t for t in later["tasks"] if t["id"] == "ex2.t3")["status"] == "passed"
    journal = json.loads(_watch_files(lab_env)[0].read_text(encoding="utf-8"))
    assert journal["first_pass"]["ex2.t3"]["records"]["lead_c"]
    assert {"subject": "lead_c.statecode", "old": 2, "new": 0} in [
        {k: t[k] for k in ("subject", "old", "new")} for t in journal["transitions"]]

    # without what the watch saw, the same tenant cannot show the disqualify
    for path in _watch_files(lab_env):
        path.unlink()
    unseen = cli("lab", "check", "--no-journal", "--upto", "ex2.t4", "--format", "json").json()
    assert next(t for t in unseen["tasks"] if t["id"] == "ex2.t3")["status"] == "not_observable"


def test_a_reactivation_seen_before_any_disqualify_does_not_turn_green(lab_env: Path) -> None:
    """ex2.t4 "passes" on an open lead; the watch only calls it done once the disqualify was seen."""
    assert cli("lab", "seed", "--upto", "ex2.t2", "-q").exit_code == 0
    result = cli("lab", "check", "--watch", "--no-journal", "--max-time", "0", "--upto", "ex2.t4")
    assert re.search(r"ex2\.t2 réussie", result.stderr)
    assert not re.search(r"ex2\.t4 réussie", result.stderr)


def test_until_complete_stops_after_the_round_where_everything_passed(lab_env: Path) -> None:
    assert cli("lab", "run", "-q", "--lang", "en").exit_code == 0
    result = cli("lab", "check", "--watch", "--until-complete", "--interval", "0.1", "--max-time", "60", "--lang", "en")
    assert result.exit_code == 0
    assert "watch stopped (complete) after 1 round(s)" in result.stderr
    assert len(ROUND_LINE.findall(result.stderr)) == 1
    assert len(re.findall(r"^[\d:]+ \S+ passed", result.stderr, re.MULTILINE)) == 12  # every task, once


def test_watch_options_need_watch(lab_env: Path) -> None:
    result = cli("lab", "check", "--until-complete")
    assert result.exit_code == 2 and "--watch" in result.stderr


def test_a_throttled_round_waits_what_the_tenant_asked_before_the_next(lab_env: Path) -> None:
    throttle = ThrottleSettings(enabled=True, requests_per_window=2, window_seconds=60, retry_after_seconds=7)
    running = start_background(settings=MockSettings(throttle=throttle))
    try:
        def connector(_options: dict[str, object]) -> DataverseClient:
            # no retries of its own: the 429 reaches the watch, which must then hold back
            return DataverseClient(running.base_url, StaticTokenProvider(running.token),
                                   retry=RetryPolicy(max_attempts=1, max_total_wait=0),
                                   tenant_label=f"mock tenant ({running.base_url})")

        sleeps: list[float] = []
        times = iter([0.0, 1.0, 100.0])
        rounds: list[WatchRound] = []
        options = WatchOptions(interval=0.5, max_time=50, keep_journal=False)
        with ClassWatch(load_lab(), [Student(name="ann", prefix="A")], lang="en", options=options,
                        connector=connector) as watch:
            reason = run_watch(watch, on_round=rounds.append, clock=lambda: next(times), sleep=sleeps.append)
            report = watch.reports()[0][1]
    finally:
        running.stop()
    assert reason == "max_time"
    assert rounds[0].throttled_for == 7
    assert sleeps == [7]  # the Retry-After, not the 0.5 s interval
    assert report.error and report.exit_code == 2
    assert all(r.requests <= throttle.requests_per_window + 1 for r in rounds)


def test_watch_journal_keeps_the_first_pass_time_across_watches(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex1", "-q").exit_code == 0
    assert cli("lab", "check", "--watch", "--max-time", "0", "-q").exit_code == 1
    first = json.loads(_watch_files(lab_env)[0].read_text(encoding="utf-8"))["first_pass"]["ex1.t1"]["at"]
    again = cli("lab", "check", "--watch", "--max-time", "0")
    assert "ex1.t1 réussie" not in again.stderr and "tour 1" in again.stderr  # already green: not announced twice
    data = json.loads(_watch_files(lab_env)[0].read_text(encoding="utf-8"))
    assert data["first_pass"]["ex1.t1"]["at"] == first and data["rounds"] == 2


@pytest.mark.parametrize("interval", ["0", "-1"])
def test_interval_must_be_positive(lab_env: Path, interval: str) -> None:
    assert cli("lab", "check", "--watch", "--interval", interval).exit_code == 2
