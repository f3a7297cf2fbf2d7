"""Ctrl-C during ``backlog import`` stops after the chunks in flight, says what was sent and how to finish.

A real SIGINT to the CLI in a subprocess, against a served mock tenant slowed down so the
import is mid-way when the signal lands.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient

from .crashkit import CLI, cli_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to a subprocess")

ROWS = 4000


def _write_leads(path: Path) -> None:
    lines = ["Topic,First Name,Last Name,Email"]
    lines += [f"Interrupt {i},Ann,Lead{i},ann.lead{i}@example.com" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _created(output: str) -> int:
    match = re.search(r"created\s*│\s*(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_ctrl_c_stops_after_the_chunks_in_flight_and_a_rerun_finishes(tmp_path: Path) -> None:
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import FaultSettings, MockSettings

    running = start_background(db_path=str(tmp_path / "tenant.sqlite"),
                               settings=MockSettings(faults=FaultSettings(latency_ms=60)))
    _write_leads(tmp_path / "leads.csv")
    env = cli_env(running.base_url, running.token, tmp_path / "journal.sqlite")
    args = [sys.executable, "-c", CLI, "backlog", "import", "leads.csv", "--batch-size", "50"]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
            deadline = time.monotonic() + 60
            while client.records.count("lead") == 0:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            in_tenant = client.records.count("lead")  # (capped at 5000, above ROWS)
            assert proc.returncode == 130, (out, err)
            created = _created(out)
            assert 0 < created < ROWS
            assert created == in_tenant                      # the report matches the tenant
            assert re.search(rf"not sent \(interrupted\)\s*│\s*{ROWS - created}\b", out), out
            assert f"{created} leads created, {ROWS - created} rows not sent" in err
            assert "run the same command again" in err
            rerun = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                   check=False)
            assert rerun.returncode == 0, rerun.stderr
            assert _created(rerun.stdout) == ROWS - created
            assert re.search(rf"duplicates of tenant leads\s*│\s*{created}\b", rerun.stdout), rerun.stdout
            assert client.records.count("lead") == ROWS
    finally:
        if proc.poll() is None:  # a failed test leaves no import retrying against a stopped tenant
            proc.kill()
            proc.communicate()
        running.stop()
