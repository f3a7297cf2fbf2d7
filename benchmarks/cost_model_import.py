"""Benchmark: import leads on a mock with the ``realistic`` server cost model (a busy real tenant).

Prints, in one run, each on a fresh tenant (a child process, ``--cost-scale`` F):

* ours: ``run_import`` end to end (CSV read, validation, duplicate scan, CreateMultiple chunks over
  the DOP-hint lanes within the execution-time budget), with 1 user and with ``--users`` users;
* Microsoft's Python SDK ``records.create("lead", list)`` (one CreateMultiple of every row);
* the naive one-POST-per-lead loop on ``--naive-sample`` leads, extrapolated.

Budget used = server time / (users x 1,200 s per 300 s x wall time): the share of the
sustained execution-time allowance the import used while it ran. Server time is what the
clients measured minus the modelled network latency of each request.

Usage: ``python3 benchmarks/cost_model_import.py [--leads 100000] [--scale 0.1] [--naive-sample 500]
[--users 2,4 --users-scale 0.5 --leads-per-user 10000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from backlog_import import write_leads_csv  # noqa: E402
from cost_model_support import CostServer, Measured  # noqa: E402

from d365lab.auth import StaticTokenProvider  # noqa: E402
from d365lab.backlog.budget import ServiceLimits  # noqa: E402
from d365lab.backlog.estimate import estimate_import  # noqa: E402
from d365lab.backlog.importer import ImportOptions, prepare_import, run_import  # noqa: E402
from d365lab.client import DataverseClient  # noqa: E402
from d365lab.mock.cost_settings import REALISTIC  # noqa: E402

LIMITS = ServiceLimits()


def budget_used(server_ms: float, users: int, seconds: float) -> float:
    """Share of the sustained execution-time allowance (4 server-s/s per user; scale-free) used."""
    return server_ms / 1000.0 / (users * LIMITS.execution_ms_per_second / 1000.0 * seconds)


def bench_ours(path: Path, rows: int, scale: float, users: int) -> dict[str, Any]:
    """Our import on a fresh tenant with ``users`` application users."""
    measured = Measured()
    with CostServer("realistic", scale) as server:
        clients = [DataverseClient(server.base_url, StaticTokenProvider(f"user-{n}")) for n in range(users)]
        for client in clients:
            client.whoami()
            measured.attach(client.transport.session)
        try:
            cpu_before = server.cpu_seconds() or 0.0
            started = time.perf_counter()
            report = run_import(clients[0], path, ImportOptions(limits=LIMITS.scaled(scale)),
                                extra_users=clients[1:])
            seconds = time.perf_counter() - started
            cpu = (server.cpu_seconds() or 0.0) - cpu_before
        finally:
            for client in clients:
                client.close()
    assert report.created == rows, (report.created, report.rejections[:3])
    server_ms = measured.elapsed_ms - measured.responses * REALISTIC.latency_ms * scale
    return {"seconds": seconds, "requests": report.requests, "throttled": measured.throttled, "cpu": cpu,
            "server_ms": server_ms, "budget": budget_used(server_ms, users, seconds)}


def bench_sdk(path: Path, rows: int, scale: float) -> dict[str, Any] | None:
    """Microsoft's SDK ``records.create("lead", list)`` on a fresh tenant (payloads prepared untimed)."""
    try:
        from azure.core.credentials import AccessToken
        from PowerPlatform.Dataverse.client import DataverseClient as SdkClient
    except ImportError:
        return None

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("sdk-user", 4_102_444_800)

    payloads = [payload for _, payload in prepare_import(path, ImportOptions()).valid]
    with CostServer("realistic", scale) as server:
        sdk = SdkClient("https://org.crm.dynamics.com", Credential())
        sdk._base_url = server.base_url  # the constructor only accepts https
        with sdk:
            cpu_before = server.cpu_seconds() or 0.0
            started = time.perf_counter()
            ids = sdk.records.create("lead", payloads)
            seconds = time.perf_counter() - started
            cpu = (server.cpu_seconds() or 0.0) - cpu_before
    assert len(ids) == rows
    server_ms = (REALISTIC.request_ms + REALISTIC.bulk_request_ms + rows * REALISTIC.bulk_row_ms) * scale
    return {"seconds": seconds, "server_ms": server_ms, "budget": budget_used(server_ms, 1, seconds), "cpu": cpu}


def bench_naive(path: Path, sample: int, scale: float) -> float:
    """Seconds of one POST per lead for the first ``sample`` rows, one at a time."""
    payloads = [payload for _, payload in prepare_import(path, ImportOptions()).valid[:sample]]
    with CostServer("realistic", scale) as server, \
            DataverseClient(server.base_url, StaticTokenProvider("naive")) as client:
        client.whoami()
        started = time.perf_counter()
        for payload in payloads:
            client.records.create("lead", payload)
        return time.perf_counter() - started


def main() -> None:
    """Run the comparisons and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--naive-sample", type=int, default=500)
    parser.add_argument("--users", default="", help="comma-separated user counts to compare with 1 (e.g. 2,4)")
    parser.add_argument("--users-scale", type=float, default=0.5)
    parser.add_argument("--leads-per-user", type=int, default=10_000)
    parser.add_argument("--skip-sdk", action="store_true")
    parser.add_argument("--sdk-leads", type=int, default=None,
                        help="leads for the SDK run (default --leads): its single CreateMultiple must finish "
                             "within the SDK's 120 s POST timeout; rates are compared when sizes differ")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        write_leads_csv(path, args.leads)
        print(f"realistic cost model at --cost-scale {args.scale:g}: {args.leads:,} leads "
              f"(all times below are at that scale; divide by {args.scale:g} for a real tenant)")
        predicted = estimate_import(args.leads, 1000, lanes=REALISTIC.dop_hint,
                                    cost=REALISTIC.model_copy(update={"scale": args.scale}),
                                    limits=LIMITS.scaled(args.scale))
        print("predicted:", predicted.describe())
        ours = bench_ours(path, args.leads, args.scale, 1)
        print(f"ours : {ours['seconds']:7.2f} s  {args.leads / ours['seconds']:8,.0f} leads/s  "
              f"{ours['requests']} requests, {ours['throttled']} answered 429, server time "
              f"{ours['server_ms'] / 1000:.1f} s (mock CPU {ours['cpu']:.1f} s) -> execution-time budget used "
              f"{ours['budget']:.1%} (target >= 85 %: {'OK' if ours['budget'] >= 0.85 else 'MISSED'})")
        modelled = budget_used(predicted.server_seconds * 1000.0, 1, ours["seconds"])
        print(f"       budget used by the modelled server time alone ({predicted.server_seconds:.0f} s, without the "
              f"mock's CPU and scheduling delays the clients measure): {modelled:.1%}")
        sdk_leads = args.sdk_leads or args.leads
        sdk_path = path
        if sdk_leads != args.leads:
            sdk_path = Path(tmp) / "sdk.csv"
            write_leads_csv(sdk_path, sdk_leads)
        sdk = None if args.skip_sdk else bench_sdk(sdk_path, sdk_leads, args.scale)
        if sdk is None:
            print("MS SDK: skipped or not installed")
        else:
            ratio = (args.leads / ours["seconds"]) / (sdk_leads / sdk["seconds"])
            print(f"MS SDK records.create(list) of {sdk_leads:,} leads: {sdk['seconds']:7.2f} s  "
                  f"{sdk_leads / sdk['seconds']:8,.0f} "
                  f"leads/s  (one CreateMultiple of every row; budget used {sdk['budget']:.1%}; "
                  f"mock CPU {sdk['cpu']:.1f} s)")
            print(f"ratio ours/SDK (leads/s): {ratio:.2f}x faster (target >= 3x: {'OK' if ratio >= 3 else 'MISSED'})")
        naive_s = bench_naive(path, args.naive_sample, args.scale)
        naive_rate = args.naive_sample / naive_s
        print(f"naive one POST per lead: {naive_rate:,.0f} leads/s on a {args.naive_sample}-lead sample "
              f"({naive_s:.2f} s); {args.leads:,} extrapolated: {args.leads / naive_rate:,.0f} s "
              f"-> ours is {args.leads / naive_rate / ours['seconds']:.0f}x faster")
        if args.users:
            compare_users(Path(tmp), args)


def compare_users(tmp: Path, args: argparse.Namespace) -> None:
    """Throughput with N users (N x the rows) against one user, on fresh tenants."""
    counts = [int(n) for n in args.users.split(",") if n.strip()]
    print(f"--- users, at --cost-scale {args.users_scale:g}, {args.leads_per_user:,} leads per user")
    single_path = tmp / "users-1.csv"
    write_leads_csv(single_path, args.leads_per_user)
    one = bench_ours(single_path, args.leads_per_user, args.users_scale, 1)
    one_rate = args.leads_per_user / one["seconds"]
    print(f"1 user : {one['seconds']:6.2f} s  {one_rate:8,.0f} leads/s  budget used {one['budget']:.1%}, "
          f"{one['throttled']} x 429")
    for n in counts:
        path = tmp / f"users-{n}.csv"
        rows = args.leads_per_user * n
        write_leads_csv(path, rows)
        many = bench_ours(path, rows, args.users_scale, n)
        rate = rows / many["seconds"]
        print(f"{n} users: {many['seconds']:6.2f} s  {rate:8,.0f} leads/s = {rate / one_rate:.2f} x one user "
              f"(target >= {0.9 * n:.1f}: {'OK' if rate >= 0.9 * n * one_rate else 'MISSED'}); budget used "
              f"{many['budget']:.1%} per user, {many['throttled']} x 429")


if __name__ == "__main__":
    main()
