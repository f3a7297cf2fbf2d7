"""Benchmark: triage on a mock with the ``realistic`` server cost model (a busy real tenant).

Seeds ``--leads`` open leads (half with a company: qualified with account, contact and
opportunity; half disqualified), waits for the seeding to leave the limit window, then
triages them with ``--users`` application users and compares the wall time with what the
binding limit allows (``d365lab.backlog.estimate``: the lanes, the execution-time or the
request-count limit, whichever is slowest). Then checks every lead was processed exactly
once (0 failed, one opportunity/contact/account per qualified lead).

Usage: ``python3 benchmarks/cost_model_triage.py [--leads 3000] [--scale 0.5] [--users 1]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "backlog"))

from cost_model_support import CostServer, Measured  # noqa: E402
from crashkit import RULES, CrashReport, seed_leads, verify  # noqa: E402
from rich.console import Console  # noqa: E402

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.backlog import triage  # noqa: E402
from d365lab.backlog.budget import ServiceLimits  # noqa: E402
from d365lab.backlog.estimate import estimate_triage  # noqa: E402
from d365lab.backlog.executor import ExecutorSettings  # noqa: E402
from d365lab.backlog.triage_journal import Journal  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.cost_settings import REALISTIC  # noqa: E402


def main() -> None:
    """Seed, triage, print figures, verify exactly-once."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--users", type=int, default=1)
    args = parser.parse_args()
    limits = ServiceLimits().scaled(args.scale)
    measured = Measured()
    with tempfile.TemporaryDirectory() as tmp, CostServer("realistic", args.scale) as server:
        clients = [DataverseClient(server.base_url, StaticTokenProvider(f"triage-user-{n}"))
                   for n in range(args.users)]
        with DataverseClient(server.base_url, StaticTokenProvider("seeder")) as seeder:
            expected = seed_leads(seeder, args.leads)
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
        for client in clients:
            client.whoami()
            measured.attach(client.transport.session)
        started = time.perf_counter()
        plan = triage.plan_triage(clients[0], rules)
        with Journal(Path(tmp) / "journal.sqlite") as journal:
            run_id = triage.start_run(journal, clients[0], rules, plan)
            triage.execute(clients, journal, run_id, ExecutorSettings(limits=limits), Console(stderr=True),
                           show_progress=False)
            counts = journal.counts(run_id)
        elapsed = time.perf_counter() - started
        lanes = clients[0].recommended_parallelism
        for client in clients:
            client.close()
        report = CrashReport()
        verify(server.base_url, "verifier", expected, report)
    failed = sum(n for (state, _), n in counts.items() if state != "done")
    by_action = plan.counts_by_action()
    predicted = estimate_triage(by_action.get("qualify", 0), by_action.get("disqualify", 0),
                                open_leads=len(plan.items), users=args.users, lanes=lanes,
                                cost=REALISTIC.model_copy(update={"scale": args.scale}), limits=limits)
    sent = measured.responses
    server_s = (measured.elapsed_ms - sent * REALISTIC.latency_ms * args.scale) / 1000.0
    print(f"realistic cost model at --cost-scale {args.scale:g}; {args.leads:,} leads "
          f"({by_action.get('qualify', 0)} qualify, {by_action.get('disqualify', 0)} disqualify); "
          f"{args.users} user(s) x {lanes} lanes")
    print("predicted:", predicted.describe())
    print(f"measured : {elapsed:.1f} s, {sent} answers ({measured.throttled} x 429), {sent / elapsed:.1f} req/s, "
          f"server time {server_s:.0f} s")
    share = predicted.wall_seconds / elapsed
    print(f"share of what the binding limit ({predicted.binding}) allows: {share:.1%} "
          f"(target >= 90 %: {'OK' if share >= 0.9 else 'MISSED'})")
    print(f"request-count limit used: {sent / elapsed / (limits.requests_per_second * args.users):.1%}; "
          f"execution-time limit used: {server_s / elapsed / (limits.execution_ms_per_second / 1000 * args.users):.1%}")
    print(f"failed or unfinished leads: {failed}; exactly-once problems: {len(report.problems)} "
          f"(qualified {report.qualified}, disqualified {report.disqualified})")
    for problem in report.problems[:10]:
        print("  problem:", problem)


if __name__ == "__main__":
    main()
