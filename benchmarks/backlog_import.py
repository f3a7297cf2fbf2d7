"""Benchmark: import 10,000 leads from CSV against the loopback mock tenant.

Prints, in the same run and on fresh in-memory tenants (after a small warm-up):

* ours: ``run_import`` end to end (read + validate + duplicate scan + CreateMultiple chunks);
* naive: one POST per lead with our client (on a sample, rate extrapolated);
* Microsoft's Python SDK ``records.create("lead", list)`` when installed.

Usage: ``python3 benchmarks/backlog_import.py [--leads 10000] [--naive-sample 2000] [--repeats 7]
[--server thread|process]``
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.backlog.importer import ImportOptions, prepare_import, run_import  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.server import start_background  # noqa: E402
from d365lab.mock.settings import MockSettings  # noqa: E402

#: "thread": the mock serves from a thread of this process (shares the GIL with the client);
#: "process": from a child process, like a remote tenant (default settings only).
SERVER_MODE = "thread"
HEADER = ["Topic", "First Name", "Last Name", "Company", "Job Title", "Email", "Business Phone", "Lead Source",
          "Rating", "Budget", "Purchase Timeframe", "City"]
SOURCES = ["Trade Show", "Web", "Seminar", "Advertisement", "Partner"]
RATINGS = ["Hot", "Warm", "Cold"]


def write_leads_csv(path: Path, count: int) -> None:
    """A realistic backlog file: unique emails and names, mixed sources and ratings."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(count):
            writer.writerow([f"Coffee equipment #{i}", f"First{i}", f"Last{i}", f"Company {i % 3000}",
                             "Buyer", f"buyer{i}@example.com", f"555-{i:05d}", SOURCES[i % 5],
                             RATINGS[i % 3], str(1000 + i % 50_000), "This Quarter", "Seattle"])


class ProcessServer:
    """``d365lab mock serve`` in a child process (a fresh in-memory tenant on its own core).

    ``serve_options`` are added to the command line; ``token=None`` serves without a token (any
    bearer token is accepted).
    """

    def __init__(self, *serve_options: str, token: str | None = "benchmark-token",
                 start_timeout: float = 30) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.token = token or ""
        self.base_url = f"http://127.0.0.1:{port}"
        code = "import sys; from d365lab.cli import main; sys.argv[0] = 'd365lab'; main()"
        token_options = ["--token", token] if token else []
        self.proc = subprocess.Popen([sys.executable, "-c", code, "mock", "serve", "--port", str(port),
                                      "--db", ":memory:", *token_options, *serve_options],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("mock server process did not start")

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used so far (Linux ``/proc``; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Terminate the child process."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start(settings: MockSettings) -> Any:
    """A fresh tenant: a server thread in this process, or a child process with ``--server process``."""
    if SERVER_MODE == "process":
        return ProcessServer()
    return start_background(":memory:", settings=settings)


def client_for(running: Any) -> DataverseClient:
    """Our client on a running mock."""
    return DataverseClient(running.base_url, StaticTokenProvider(running.token))


def server_cpu(running: Any) -> float | None:
    """The server process's CPU seconds so far (``--server process`` only)."""
    return running.cpu_seconds() if isinstance(running, ProcessServer) else None


def cpu_used(running: Any, before: float | None) -> float | None:
    """Server CPU seconds since ``before`` (None when unknown)."""
    after = server_cpu(running)
    return None if before is None or after is None else after - before


def bench_ours(path: Path, count: int, settings: MockSettings) -> tuple[float, int, float | None]:
    """Seconds, requests and server CPU seconds of our import, on a fresh tenant."""
    running = start(settings)
    try:
        with client_for(running) as client:
            client.whoami()
            before = client.request_count
            cpu_before = server_cpu(running)
            started = time.perf_counter()
            report = run_import(client, path, ImportOptions())
            seconds = time.perf_counter() - started
            cpu = cpu_used(running, cpu_before)
            assert report.created == count, (report.created, report.rejections[:3])
            assert client.records.count("lead") >= min(count, 5000)
            return seconds, client.request_count - before, cpu
    finally:
        running.stop()


def bench_naive(path: Path, sample: int, settings: MockSettings) -> tuple[float, int]:
    """Seconds and count of a one-POST-per-lead import of the first ``sample`` rows."""
    prepared = prepare_import(path, ImportOptions())
    payloads = [payload for _, payload in prepared.valid[:sample]]
    running = start(settings)
    try:
        with client_for(running) as client:
            client.whoami()
            started = time.perf_counter()
            for payload in payloads:
                client.records.create("lead", payload)
            return time.perf_counter() - started, len(payloads)
    finally:
        running.stop()


def prepare_seconds(path: Path) -> float:
    """Seconds to read and validate the CSV into payloads (what any CSV import needs before sending)."""
    started = time.perf_counter()
    prepared = prepare_import(path, ImportOptions())
    [payload for _, payload in prepared.valid]
    return time.perf_counter() - started


def bench_sdk(path: Path, count: int, settings: MockSettings) -> tuple[float, float | None] | None:
    """Seconds and server CPU seconds of the MS SDK's ``records.create("lead", list)`` (payloads
    prepared by us, untimed), or None when the SDK is not installed."""
    try:
        from azure.core.credentials import AccessToken
        from PowerPlatform.Dataverse.client import DataverseClient as SdkClient
    except ImportError:
        return None

    class Credential:
        def __init__(self, token: str) -> None:
            self.token = token

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(self.token, 4_102_444_800)

    prepared = prepare_import(path, ImportOptions())
    payloads = [payload for _, payload in prepared.valid]
    running = start(settings)
    try:
        sdk = SdkClient("https://org.crm.dynamics.com", Credential(running.token))
        sdk._base_url = running.base_url  # the constructor only accepts https
        with sdk:
            cpu_before = server_cpu(running)
            started = time.perf_counter()
            ids = sdk.records.create("lead", payloads)
            seconds = time.perf_counter() - started
            cpu = cpu_used(running, cpu_before)
        assert len(ids) == count
        return seconds, cpu
    finally:
        running.stop()


def compare(path: Path, leads: int, naive_sample: int, settings: MockSettings, label: str, repeats: int) -> None:
    """Run the imports on fresh tenants with ``settings`` and print medians and ratios.

    Ours and the SDK run in pairs, ``repeats`` times, the one going first alternating (the
    machine is shared, so single runs are noisy and a slow spell should hit both); each
    pair gives a ratio, and the median of those is the figure. The naive import runs once
    on a sample.
    """
    ours_runs: list[float] = []
    sdk_runs: list[float] = []
    ours_cpu: list[float] = []
    sdk_cpu: list[float] = []
    ours_requests = 0
    for attempt in range(repeats):
        sdk_result = bench_sdk(path, leads, settings) if attempt % 2 else None
        seconds, ours_requests, cpu = bench_ours(path, leads, settings)
        if not attempt % 2:
            sdk_result = bench_sdk(path, leads, settings)
        ours_runs.append(seconds)
        if cpu is not None:
            ours_cpu.append(cpu)
        if sdk_result is not None:
            sdk_runs.append(sdk_result[0])
            if sdk_result[1] is not None:
                sdk_cpu.append(sdk_result[1])
    naive_s, naive_n = bench_naive(path, naive_sample, settings)
    ours_s = statistics.median(ours_runs)
    ours_rate = leads / ours_s
    naive_rate = naive_n / naive_s
    print(f"--- {label}")
    print(f"ours : {ours_s:7.2f} s  {ours_rate:8,.0f} leads/s  {ours_requests} requests "
          f"({ours_requests / leads:.4f} requests/lead)  [end to end: CSV read, validation, duplicate scan; "
          f"median of {', '.join(f'{r:.2f}' for r in ours_runs)} s]")
    print(f"naive: {naive_rate:8,.0f} leads/s  (one POST per lead, {naive_n}-lead sample: {naive_s:.2f} s; "
          f"{leads:,} extrapolated {leads / naive_rate:.1f} s; 1 request/lead)")
    print(f"ratio ours/naive: {ours_rate / naive_rate:.1f}x")
    versus_sdk = ""
    if not sdk_runs:
        print("MS Python SDK: not installed (pip install powerplatform-dataverse-client)")
    else:
        sdk_s = statistics.median(sdk_runs)
        paired = [sdk / ours for ours, sdk in zip(ours_runs, sdk_runs, strict=True)]
        ratio = statistics.median(paired)
        wins = sum(r >= 1 for r in paired)
        prep = statistics.median(prepare_seconds(path) for _ in range(3))
        print(f"MS SDK records.create(list): {sdk_s:7.2f} s  {leads / sdk_s:8,.0f} leads/s  [payloads only: no CSV, "
              f"no validation, no duplicate scan; median of {', '.join(f'{r:.2f}' for r in sdk_runs)} s]")
        print(f"ratio ours/SDK (speed, median of {len(paired)} pairs): {ratio:.2f}x; ours at least as fast in "
              f"{wins} of {len(paired)} pairs (ours end to end vs the SDK's write alone)")
        print(f"ratio ours/(SDK + the same CSV read and validation, {prep:.2f} s): "
              f"{statistics.median((sdk + prep) / ours for ours, sdk in zip(ours_runs, sdk_runs, strict=True)):.2f}x")
        versus_sdk = f"; ours at least as fast as the SDK's write -> {'OK' if ratio >= 1 else 'MISSED'}"
    if ours_cpu:
        print(f"mock server process CPU (median): ours {statistics.median(ours_cpu):.2f} s"
              + (f", SDK {statistics.median(sdk_cpu):.2f} s" if sdk_cpu else "")
              + " (the tenant's share of the work; the rest of each figure is client time not hidden by overlap)")
    print(f"targets: >= 3000 leads/s -> {'OK' if ours_rate >= 3000 else 'MISSED'}; "
          f"<= 0.01 requests/lead -> {'OK' if ours_requests / leads <= 0.01 else 'MISSED'}{versus_sdk}")


def main() -> None:
    """Warm up, then compare on the default mock and on a mock without the process-flow side effect."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--server", choices=["thread", "process"], default="thread",
                        help="mock in a thread of this process, or in a child process (default settings only)")
    args = parser.parse_args()
    global SERVER_MODE
    SERVER_MODE = args.server
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        write_leads_csv(path, args.leads)
        warm = Path(tmp) / "warm.csv"
        write_leads_csv(warm, 200)
        compare(warm, 200, 50, MockSettings(), "warm-up (imports, pydantic schemas, sockets)", 1)
        print(f"leads: {args.leads:,} (mock tenant over loopback, server in a {args.server})")
        compare(path, args.leads, args.naive_sample, MockSettings(),
                "default mock: each created lead also gets a Lead-to-Opportunity process instance", args.repeats)
        if args.server == "thread":
            compare(path, args.leads, args.naive_sample, MockSettings(auto_create_process_flow=False),
                    "mock with auto_create_process_flow=False (less server work per lead; isolates client cost)",
                    args.repeats)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
