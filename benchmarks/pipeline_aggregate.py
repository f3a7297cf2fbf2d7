"""``d365lab pipeline`` against a tenant of 100,000 opportunities: time and requests (prints figures).

Target: the report in under 2 s with at most 5 requests, over loopback HTTP, because the
server groups and sums. Run from the repository root::

    python3 benchmarks/pipeline_aggregate.py [--opportunities 100000] [--leads 20000] [--repeat 3]

The tenant is seeded in-process (``Tenant.create_many``, as benchmarks may; closed
opportunities are closed with one SQL update): 35% open (half with a Lead-to-Opportunity
process instance at Develop/Propose/Close, half with only a sales stage), the rest won or
lost over the last two years. A second run with every opportunity open (more than the
50,000-row aggregate limit) shows what the split by creation date costs. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.backlog.pipeline import build_report  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.server import RunningServer, start_background  # noqa: E402
from d365lab.mock.settings import MockSettings  # noqa: E402
from d365lab.mock.tenant_api import Ref  # noqa: E402
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_REQUESTS = 5
CHUNK = 5000
STAGES = ["Develop", "Propose", "Close"]


def _path(stage: str) -> str:
    """The traversed path of an instance at ``stage`` (every stage up to it, in process order)."""
    order = list(STAGE_IDS)
    return ",".join(STAGE_IDS[name] for name in order[:order.index(stage) + 1])


def _seed(running: RunningServer, opportunities: int, leads: int, open_share: float) -> float:
    """Load the tenant; return the seconds it took."""
    started = time.perf_counter()
    tenant = running.app.tenant
    for offset in range(0, leads, CHUNK):
        tenant.create_many("lead", [{"subject": f"Lead {i}", "lastname": f"L{i % 977}", "leadsourcecode": 1 + i % 10}
                                    for i in range(offset, min(leads, offset + CHUNK))])
    ids: list[str] = []
    for offset in range(0, opportunities, CHUNK):
        rows = tenant.create_many("opportunity", [
            {"name": f"Deal {i}", "estimatedvalue": float(1000 + i % 9000), "budgetamount": float(i % 5000),
             "salesstage": i % 4} for i in range(offset, min(opportunities, offset + CHUNK))])
        ids += [str(row["opportunityid"]) for row in rows]
    open_count = int(len(ids) * open_share)
    with_flow = ids[:open_count // 2]
    for offset in range(0, len(with_flow), CHUNK):
        tenant.create_many("leadtoopportunitysalesprocess", [
            {"name": "Lead to Opportunity Sales Process", "opportunityid": Ref("opportunity", opp),
             "processid": Ref("workflow", LEAD_TO_OPPORTUNITY_PROCESS_ID),
             "activestageid": Ref("processstage", STAGE_IDS[STAGES[n % 3]]),
             "traversedpath": _path(STAGES[n % 3])}
            for n, opp in enumerate(with_flow[offset:offset + CHUNK], start=offset)])
    store = running.app.store
    today = date.today()
    closed = ids[open_count:]
    for offset in range(0, len(closed), 500):
        chunk = closed[offset:offset + 500]
        for n, opp in enumerate(chunk, start=offset):
            won = n % 2 == 0
            store.execute("UPDATE opportunity SET statecode = ?, statuscode = ?, actualclosedate = ?, "
                          "actualvalue = ? WHERE opportunityid = ?",
                          (1 if won else 2, 3 if won else 4, (today - timedelta(days=n % 730)).isoformat(),
                           float(500 + n % 7000), opp))
    store.optimize()
    return time.perf_counter() - started


def _measure(running: RunningServer, repeat: int) -> tuple[list[float], list[int], str]:
    timings: list[float] = []
    requests: list[int] = []
    summary = ""
    with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
        for _ in range(repeat):
            before = client.request_count
            started = time.perf_counter()
            report = build_report(client, "quarter")
            timings.append(time.perf_counter() - started)
            requests.append(client.request_count - before)
        summary = (f"leads {report.total_leads:,}, open {report.open_pipeline.count:,} in "
                   f"{len(report.stages)} stages, closed this quarter "
                   f"{sum(c.count for c in report.closed):,}")
    return timings, requests, summary


def _run(label: str, opportunities: int, leads: int, open_share: float, repeat: int) -> None:
    running = start_background(":memory:", MockSettings.model_validate({"auto_create_process_flow": False}))
    try:
        seeded = _seed(running, opportunities, leads, open_share)
        timings, requests, summary = _measure(running, repeat)
    finally:
        running.stop()
    best, median = min(timings), statistics.median(timings)
    print(f"{label}: {opportunities:,} opportunities ({open_share:.0%} open), {leads:,} leads, "
          f"seeded in {seeded:.1f} s")
    print(f"  {summary}")
    print(f"  report: best {best:.3f} s, median {median:.3f} s over {repeat} runs "
          f"(target < {TARGET_SECONDS} s: {best / TARGET_SECONDS:.0%} of it); "
          f"requests per report {requests[0]} (target <= {TARGET_REQUESTS})")
    print(f"  load averages: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    """Seed, report, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-all-open", action="store_true", help="only the mixed tenant")
    args = parser.parse_args()
    _run("mixed tenant", args.opportunities, args.leads, 0.35, args.repeat)
    if not args.skip_all_open:
        _run("every opportunity open", args.opportunities, args.leads, 1.0, args.repeat)


if __name__ == "__main__":
    main()
