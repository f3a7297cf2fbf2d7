"""One triage run at a time per tenant and journal; ``backlog runs`` tells a killed run from a live one.

Real CLI processes against one served mock tenant (POSIX signals: SIGSTOP holds a run
mid-way, SIGKILL and SIGINT end it as a user or the system would).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Served, StartCli
from .crashkit import CLI, journal_progress, prepare_triage, run_and_kill, wait_for_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL / SIGSTOP / SIGINT")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def _runs_status(env: dict[str, str], cwd: Path, run_id: str) -> str:
    listing = _cli(["backlog", "runs"], env, cwd)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if run_id in line)
    return line


def test_a_second_run_on_the_same_tenant_and_journal_is_refused(served: Served, tmp_path: Path,
                                                                  start_cli: StartCli) -> None:
    setup = prepare_triage(served.base_url, served.token, tmp_path, 40)
    env, rules, journal = setup.env, setup.rules, setup.journal
    first = start_cli(["backlog", "triage", str(rules), "--no-progress"], env, tmp_path)
    run_id = wait_for_run(journal, first)
    os.kill(first.pid, signal.SIGSTOP)           # the first run holds the lease, mid-way
    try:
        second = _cli(["backlog", "triage", str(rules), "--no-progress"], env, tmp_path)
        assert "running (process" in _runs_status(env, tmp_path, run_id)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: another triage run is working on this tenant"), lines
    assert f"run {run_id}, process {first.pid}" in lines[0]
    assert journal_progress(journal)[0] == run_id                  # the second run planned nothing
    assert "finished" in _runs_status(env, tmp_path, run_id)


def test_runs_shows_a_killed_run_as_not_running(served: Served, tmp_path: Path) -> None:
    setup = prepare_triage(served.base_url, served.token, tmp_path, 40)
    env, rules, journal = setup.env, setup.rules, setup.journal
    code, _ = run_and_kill(["backlog", "triage", str(rules), "--no-progress", "--max-workers", "1"],
                           env, tmp_path, journal, kill_at_done=3)
    assert code is None
    run_id = str(journal_progress(journal)[0])
    status = _runs_status(env, tmp_path, run_id)
    assert "interrupted" in status and "running (" not in status
    # The lease died with the process: a resume is not refused.
    resumed = _cli(["backlog", "triage", str(rules), "--no-progress", "--resume", run_id], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "finished" in _runs_status(env, tmp_path, run_id)


def test_ctrl_c_hint_names_the_rules_file_and_resumes(served: Served, tmp_path: Path,
                                                       start_cli: StartCli) -> None:
    setup = prepare_triage(served.base_url, served.token, tmp_path, 60, rules_name="my rules.yaml")
    env, journal = setup.env, setup.journal
    proc = start_cli(["backlog", "triage", "my rules.yaml", "--no-progress", "--max-workers", "1"], env, tmp_path)
    run_id = wait_for_run(journal, proc, done=3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    hint = f'resume with: d365lab backlog triage "my rules.yaml" --resume {run_id}'
    assert hint in out.decode(), out
    assert "interrupted" in _runs_status(env, tmp_path, run_id)
    resumed = _cli(["backlog", "triage", "my rules.yaml", "--no-progress", "--resume", run_id], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
