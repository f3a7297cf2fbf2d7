"""Speed and memory of the mock tenant over real loopback HTTP (prints figures; not a test).

Run: ``python3 benchmarks/mock_speed.py [--big 100000] [--small 10000] [--creates 1000]``

1. Single-record creates per second: ``start_background`` + one keep-alive
   ``requests.Session`` POSTing leads one by one (target >= 400/s).
2. A filtered query returning <= 50 rows, median over repeated requests, against a
   server holding ``--small`` and ``--big`` leads (target <= 30 ms at 100,000; ratio big/small <= 2x);
   the same query written with other case and accents (``startswith(subject,'TÔPIC 00001')``,
   served by the folded shadow column's index), and, for information, an ``eq`` on a text
   column without index (``firstname``: a scan through ``d365_fold``).
3. Keyset paging: the cost of a deep page (reached through nextLinks) vs the first page.
4. RSS of the server process holding ``--big`` leads (target < 300 MB), measured in a
   separate server process (the leads are loaded there with ``Tenant.create_many``, which
   a benchmark may do; tests never write to the store directly).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

SERVER_SCRIPT = r"""
import json, resource, sys, time
from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings

count, db, flows = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
settings = MockSettings.model_validate({"auto_create_process_flow": flows})
running = start_background(db, settings)
started = time.perf_counter()
chunk = 5000
for offset in range(0, count, chunk):
    running.app.tenant.create_many("lead", [
        {"subject": f"Topic {i:06d}", "firstname": "Pat", "lastname": f"Name{i % 5000:04d}",
         "companyname": f"Company {i % 700}", "emailaddress1": f"p{i}@example.test",
         "leadsourcecode": 1 + i % 10, "budgetamount": float(i % 50000)}
        for i in range(offset, min(count, offset + chunk))])
print(json.dumps({"base_url": running.base_url, "token": running.token,
                  "load_seconds": time.perf_counter() - started}), flush=True)
for line in sys.stdin:
    if line.strip() == "rss":
        try:
            import psutil
            rss = psutil.Process().memory_info().rss
        except ImportError:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"rss": rss}), flush=True)
    elif line.strip() == "stop":
        break
running.stop()
"""


class ServerProcess:
    """A mock tenant server in a subprocess, loaded with ``count`` leads."""

    def __init__(self, count: int, db: str, flows: bool) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(count), db, "1" if flows else "0"],
                                        cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.base_url: str = info["base_url"]
        self.load_seconds: float = info["load_seconds"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {info['token']}"
        self.root = self.base_url + "/api/data/v9.2/"

    def rss(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("rss\n")
        self.process.stdin.flush()
        return int(json.loads(self.process.stdout.readline())["rss"])

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)
        self.session.close()


def median_ms(session: requests.Session, url: str, repeat: int, headers: dict[str, str] | None = None) -> float:
    """Median wall time of GET ``url`` (after one warm-up)."""
    session.get(url, headers=headers).raise_for_status()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(times)


def _post_leads(session: requests.Session, url: str, count: int) -> float:
    session.post(url, json={"subject": "warm-up"}).raise_for_status()
    started = time.perf_counter()
    for i in range(count):
        response = session.post(url, json={"subject": f"Lead {i}", "lastname": "Speed",
                                           "companyname": "Bench", "budgetamount": 1000})
        if response.status_code != 204:
            raise RuntimeError(response.text)
    return count / (time.perf_counter() - started)


def creates_per_second(count: int) -> float:
    """Single-record POSTs per second, server thread in this process (client and server share the GIL)."""
    from d365lab.mock.server import start_background

    running = start_background(":memory:")
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {running.token}"
            return _post_leads(session, running.base_url + "/api/data/v9.2/leads", count)
    finally:
        running.stop()


def creates_per_second_separate(count: int) -> float:
    """Single-record POSTs per second to a ``start_background`` server in its own process."""
    server = ServerProcess(0, ":memory:", flows=True)
    try:
        return _post_leads(server.session, server.root + "leads", count)
    finally:
        server.stop()


def query_figures(server: ServerProcess, repeat: int) -> dict[str, Any]:
    """Median times of the filtered queries and of first vs deep pages."""
    # Ten rows at any size (Topic 000010..000019), through the subject index.
    filtered = server.root + "leads?$select=subject,fullname,emailaddress1&$filter=startswith(subject,'Topic 00001')"
    rows = len(server.session.get(filtered).json()["value"])
    combined = (server.root + "leads?$select=subject&$filter=lastname eq 'Name0042' and statecode eq 0"
                "&$orderby=subject desc")
    # The same ten rows, the literal in other case and accents (folded, same index).
    accented = server.root + "leads?$select=subject,fullname,emailaddress1&$filter=startswith(subject,'TÔPIC 00001')"
    accented_rows = len(server.session.get(accented).json()["value"])
    # A text column without index: every row goes through d365_fold (a scan, by design).
    unindexed = server.root + "leads?$select=subject&$filter=firstname eq 'PÀTRICE'"
    figures: dict[str, Any] = {
        "rows": rows,
        "filtered_ms": median_ms(server.session, filtered, repeat),
        "combined_ms": median_ms(server.session, combined, repeat),
        "accented_rows": accented_rows,
        "accented_ms": median_ms(server.session, accented, repeat),
        "unindexed_ms": median_ms(server.session, unindexed, max(3, repeat // 8)),
    }
    page_url = server.root + "leads?$select=subject"
    prefer = {"Prefer": "odata.maxpagesize=50"}
    first = median_ms(server.session, page_url, repeat, prefer)
    link = page_url
    for _ in range(200):  # walk 200 pages (10,000 rows) down
        link = server.session.get(link, headers=prefer).json().get("@odata.nextLink", link)
    figures["first_page_ms"] = first
    figures["deep_page_ms"] = median_ms(server.session, link, repeat, prefer)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--memory", action="store_true", help="hold the tenant in :memory: instead of a file")
    parser.add_argument("--process-flows", action="store_true",
                        help="give every lead its process-flow instance (the default setting; loads ~2x slower)")
    args = parser.parse_args()

    rate = creates_per_second(args.creates)
    print(f"single-record creates over loopback HTTP, server thread in the client's process: {rate:,.0f}/s "
          "(target >= 400/s)")
    rate = creates_per_second_separate(args.creates)
    print(f"single-record creates over loopback HTTP, server in its own process: {rate:,.0f}/s (target >= 400/s)")

    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.small, args.big):
            db = ":memory:" if args.memory else str(Path(folder) / f"bench-{count}.sqlite")
            server = ServerProcess(count, db, args.process_flows)
            try:
                figures = query_figures(server, args.repeat)
                figures["rss_mb"] = server.rss() / 1e6
                figures["load_s"] = server.load_seconds
                results[count] = figures
            finally:
                server.stop()
            flows = " + process flows" if args.process_flows else ""
            where = "memory" if args.memory else "file"
            print(f"{count:>7,} leads{flows} ({where}): loaded in {figures['load_s']:.1f}s; "
                  f"filtered query ({figures['rows']} rows) median {figures['filtered_ms']:.1f} ms; "
                  f"filter+orderby median {figures['combined_ms']:.1f} ms; "
                  f"accented/other-case query ({figures['accented_rows']} rows) "
                  f"median {figures['accented_ms']:.1f} ms; "
                  f"unindexed text eq (scan) median {figures['unindexed_ms']:.1f} ms; "
                  f"page 1 {figures['first_page_ms']:.1f} ms vs page 201 {figures['deep_page_ms']:.1f} ms; "
                  f"server RSS {figures['rss_mb']:.0f} MB")
    small, big = results[args.small], results[args.big]
    print(f"filtered query ratio {args.big:,}/{args.small:,}: {big['filtered_ms'] / small['filtered_ms']:.2f}x "
          f"(target <= 2x); target <= 30 ms at {args.big:,}: {big['filtered_ms']:.1f} ms")
    print(f"accented query ratio {args.big:,}/{args.small:,}: {big['accented_ms'] / small['accented_ms']:.2f}x "
          f"(target <= 2x); at {args.big:,}: {big['accented_ms']:.1f} ms (target <= 30 ms)")
    print(f"deep/first page ratio at {args.big:,}: {big['deep_page_ms'] / big['first_page_ms']:.2f}x "
          f"(keyset paging: ~1x expected)")
    print(f"server RSS holding {args.big:,} leads: {big['rss_mb']:.0f} MB (target < 300 MB)")


if __name__ == "__main__":
    main()
