"""Crash benchmark: kill the triage CLI (SIGKILL) at five random points, resume each time.

Seeds a loopback mock tenant (SQLite file) with ``--leads`` leads, runs
``d365lab backlog triage`` as a subprocess, kills it whenever the journal reaches a
random amount of progress, resumes, and finally verifies from the tenant that every lead
was processed exactly once (one account/contact/opportunity per qualified lead, the
right status for each disqualified one).

Usage: ``python3 benchmarks/backlog_crash.py [--leads 1000] [--kills 5] [--seed N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backlog"))

from crashkit import crash_and_resume, seed_leads  # noqa: E402

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.server import start_background  # noqa: E402
from d365lab.mock.settings import FaultSettings, MockSettings  # noqa: E402


def main() -> None:
    """Run the crash scenario and print what happened."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--latency-ms", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        running = start_background(db_path=str(Path(tmp) / "tenant.sqlite"),
                                   settings=MockSettings(faults=FaultSettings(latency_ms=args.latency_ms)))
        try:
            with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
                expected = seed_leads(client, args.leads)
            started = time.perf_counter()
            report = crash_and_resume(running.base_url, running.token, Path(tmp), expected, args.kills, args.seed)
            elapsed = time.perf_counter() - started
        finally:
            running.stop()
    print(f"leads: {args.leads}; seed {args.seed}; killed (SIGKILL) {len(report.kills)} times at journal progress "
          f"{report.kills}; total {elapsed:.1f} s")
    print(f"qualified exactly once: {report.qualified}/{args.leads // 2 + args.leads % 2}; "
          f"disqualified right: {report.disqualified}/{args.leads // 2}")
    print(f"leads whose request was in flight at a kill and were recognised on resume (not re-sent): "
          f"{report.recognised}")
    print(f"problems: {len(report.problems)}")
    for problem in report.problems[:20]:
        print("  ", problem)
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
