"""How fast the mock tenant answers CreateMultiple of 10,000 leads over loopback HTTP.

Target: under 2 s on a 2-core machine. Prints the figures (and the ratio to the target);
it asserts nothing. Run from the repository root::

    python3 benchmarks/mock_bulk_speed.py [--rows 10000] [--repeat 3] [--no-process-flow]

``--no-process-flow`` switches off the automatic Lead-to-Opportunity instance per lead,
to show its share of the time. The load averages are printed with the figures: this is a
shared 2-core machine, and other processes move the timings a lot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import requests

from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings

TARGET_SECONDS = 2.0


def _targets(rows: int, run: int) -> list[dict[str, object]]:
    return [{
        "@odata.type": "Microsoft.Dynamics.CRM.lead",
        "subject": f"Bulk lead {run}-{i}", "firstname": "Bench", "lastname": f"Lead{i:05d}",
        "companyname": f"Company {i % 500}", "emailaddress1": f"lead{i}@bench.example",
        "leadsourcecode": 8, "budgetamount": 1000.0 + i,
    } for i in range(rows)]


def _load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` shows them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-process-flow", action="store_true")
    args = parser.parse_args()
    settings = MockSettings.model_validate({"auto_create_process_flow": not args.no_process_flow})
    print(f"load average before: {_load()}")
    running = start_background(db_path=":memory:", settings=settings)
    try:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {running.token}", "Accept": "application/json",
                                "OData-Version": "4.0", "OData-MaxVersion": "4.0"})
        root = running.base_url + "/api/data/v9.2"
        session.get(f"{root}/WhoAmI").raise_for_status()
        timings: list[float] = []
        for run in range(args.repeat):
            payload = {"Targets": _targets(args.rows, run)}
            started = time.perf_counter()
            response = session.post(f"{root}/leads/Microsoft.Dynamics.CRM.CreateMultiple", json=payload)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if len(response.json()["Ids"]) != args.rows:
                raise SystemExit(f"expected {args.rows} ids, got {len(response.json()['Ids'])}")
            timings.append(elapsed)
            print(f"run {run + 1}: {args.rows} leads in {elapsed:.3f} s ({args.rows / elapsed:,.0f} rows/s)")
        best, median = min(timings), statistics.median(timings)
        print(f"best {best:.3f} s, median {median:.3f} s; target {TARGET_SECONDS:.1f} s "
              f"-> median/target = {median / TARGET_SECONDS:.2f} "
              f"(process flow per lead: {'off' if args.no_process_flow else 'on'})")
        print(f"load average after: {_load()}")
    finally:
        running.stop()


if __name__ == "__main__":
    main()
