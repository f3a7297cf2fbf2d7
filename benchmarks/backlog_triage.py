"""Benchmark: triage under service-protection limits, against the loopback mock tenant.

The mock enforces a scaled-down limit (default 600 requests per 30 s window, 52
concurrent). We triage ``--leads`` leads (half qualified, half disqualified: one request
each) and compare the elapsed time with the fastest schedule the limit allows, then
check every lead was processed exactly once (no failures, one opportunity per qualified lead).

A 10,000-lead run at 600/30 s takes about 8 minutes; the default is 2,000 leads and the
10,000-lead figure is extrapolated from the same limit (printed as such).

``--users N`` spreads the triage over N application users (tokens), each with its own limit.

Usage: ``python3 benchmarks/backlog_triage.py [--leads 2000] [--per-window 600] [--window 30] [--workers N]
[--users N]``
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backlog"))

from crashkit import RULES, CrashReport, seed_leads, verify  # noqa: E402
from rich.console import Console  # noqa: E402

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.backlog import triage  # noqa: E402
from d365lab.backlog.executor import ExecutorSettings  # noqa: E402
from d365lab.backlog.triage_journal import Journal  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.server import RunningServer, start_background  # noqa: E402
from d365lab.mock.settings import MockSettings, ThrottleSettings  # noqa: E402


class CountThrottles(logging.Handler):
    """Counts the transport's "throttled" warnings (one per 429 received)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "throttled" in record.getMessage():
            self.count += 1


def open_server(settings: MockSettings) -> RunningServer:
    """A loopback mock accepting any bearer token, so each user (token) gets its own limits."""
    from waitress.server import create_server

    from d365lab.mock.app import create_app

    app = create_app(":memory:", settings.model_copy(update={"token": None}))
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=16)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return RunningServer(f"http://127.0.0.1:{server.effective_port}", "user", app, server, thread)


def minimum_seconds(requests: int, per_window: int, window: float) -> float:
    """Fastest finish a sliding window of ``per_window`` requests per ``window`` seconds allows."""
    return (math.ceil(requests / per_window) - 1) * window


def main() -> None:
    """Seed, triage under the limit, print figures, verify exactly-once."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--per-window", type=int, default=600)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=None, help="cap on threads (default: the tenant's hint)")
    parser.add_argument("--users", type=int, default=1, help="application users to spread the triage over")
    args = parser.parse_args()
    throttles = CountThrottles()
    logging.getLogger("d365lab").addHandler(throttles)
    settings = MockSettings(throttle=ThrottleSettings(enabled=True, requests_per_window=args.per_window,
                                                      window_seconds=args.window, max_concurrent=52))
    with tempfile.TemporaryDirectory() as tmp:
        running = start_background(":memory:", settings=settings) if args.users == 1 else open_server(settings)
        users = [DataverseClient(running.base_url, StaticTokenProvider(f"{running.token}-{n}"))
                 for n in range(1, args.users)]
        try:
            with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
                expected = seed_leads(client, args.leads)
                rules = Path(tmp) / "rules.yaml"
                rules.write_text(RULES, encoding="utf-8")
                # Let the seeding requests leave the window so the measurement starts from a clean slate.
                time.sleep(args.window)
                before = client.request_count
                started = time.perf_counter()
                plan = triage.plan_triage(client, rules)
                with Journal(Path(tmp) / "journal.sqlite") as journal:
                    run_id = triage.start_run(journal, client, rules, plan)
                    triage.execute([client, *users], journal, run_id, ExecutorSettings(max_workers=args.workers),
                                   Console(stderr=True), show_progress=True)
                    failed = sum(n for (state, _), n in journal.counts(run_id).items() if state != "done")
                elapsed = time.perf_counter() - started
                sent = client.request_count - before + sum(u.request_count for u in users)
                workers = min(client.recommended_parallelism, args.workers or client.recommended_parallelism)
            report = CrashReport()
            verify(running.base_url, running.token, expected, report)
        finally:
            for user in users:
                user.close()
            running.stop()
    accepted = sent - throttles.count
    per_window = args.per_window * args.users      # the limits are per user
    floor = minimum_seconds(accepted, per_window, args.window)
    limit_rate = per_window / args.window
    print(f"limit: {args.per_window} requests / {args.window:g} s per user x {args.users} user(s) "
          f"({limit_rate:.1f} req/s), 52 concurrent; {workers} worker threads per user")
    print(f"leads: {args.leads}; requests accepted: {accepted} (+{throttles.count} answered 429); "
          f"elapsed {elapsed:.1f} s")
    print(f"fastest schedule the limit allows for {accepted} requests: {floor:.1f} s "
          f"-> efficiency {floor / elapsed:.1%}")
    print(f"achieved {accepted / elapsed:.1f} accepted req/s; the limit allows {accepted / max(floor, 1e-9):.1f} req/s "
          f"for this many requests (a sliding window lets the first {per_window} through at once)")
    print(f"failed or unfinished leads: {failed}; exactly-once problems: {len(report.problems)} "
          f"(qualified {report.qualified}, disqualified {report.disqualified})")
    floor_10k = minimum_seconds(10_003, per_window, args.window)
    efficiency = max(floor / elapsed, 1e-9)
    print(f"10,000 leads at this limit: at least {floor_10k / 60:.1f} min by the limit; "
          f"~{floor_10k / efficiency / 60:.1f} min at this efficiency (extrapolated, not measured)")
    for problem in report.problems[:10]:
        print("  problem:", problem)


if __name__ == "__main__":
    main()
