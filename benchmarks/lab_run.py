"""Benchmark: the whole lab 2.1 run plus its check, as one command from a cold start.

Runs ``d365lab lab run --check`` in a fresh Python process against a fresh embedded mock
tenant (new SQLite file, no run journal), several times, and prints wall time (process
start to exit, imports and mock start included), the HTTP requests made, and the ratios to
the targets (3 s, 100 requests). Then times run and check separately in-process.

    python3 benchmarks/lab_run.py [--repeat 5] [--lang fr|en]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 3.0
TARGET_REQUESTS = 100


def cold_run(lang: str) -> tuple[float, int, str]:
    """One `d365lab lab run --check` in a new process; (seconds, HTTP requests, score line)."""
    with tempfile.TemporaryDirectory(prefix="d365lab-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_"))}
        env.pop("D365LAB_AUTH", None)
        env.update(D365LAB_MOCK_DB=str(Path(tmp) / "tenant.sqlite"), D365LAB_LAB_STATE=str(Path(tmp) / "state"),
                   PYTHONPATH=str(ROOT), COLUMNS="100")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "from d365lab.cli import main; main()",
                               "lab", "run", "--check", "--quiet", "--lang", lang],
                              env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"lab run --check exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    requests = int(re.findall(r"(?:HTTP requests|Requêtes HTTP) ?: (\d+)", done.stdout)[-1])
    score = next((line for line in done.stdout.splitlines() if "Score" in line), "")
    return elapsed, requests, " ".join(score.replace("│", " ").split())


def in_process(lang: str) -> None:
    """Run and check in one process, timing each phase and counting requests."""
    with tempfile.TemporaryDirectory(prefix="d365lab-bench-") as tmp:
        os.environ["D365LAB_MOCK_DB"] = str(Path(tmp) / "tenant.sqlite")
        os.environ["D365LAB_LAB_STATE"] = str(Path(tmp) / "state")
        os.environ.pop("DATAVERSE_URL", None)
        sys.path.insert(0, str(ROOT))
        from d365lab.connect import connect
        from d365lab.labs.checker import check_lab
        from d365lab.labs.loader import load_lab
        from d365lab.labs.runner import run_lab

        lab = load_lab()
        t0 = time.perf_counter()
        with connect() as client:
            t1 = time.perf_counter()
            run_lab(client, lab, lang=lang)  # type: ignore[arg-type]
            t2 = time.perf_counter()
            run_requests = client.request_count
            report = check_lab(client, lab, lang=lang)  # type: ignore[arg-type]
            t3 = time.perf_counter()
            check_requests = client.request_count - run_requests
            run_lab(client, lab, lang=lang)  # type: ignore[arg-type]
            t4 = time.perf_counter()
            rerun_requests = client.request_count - run_requests - check_requests
        print(f"in-process: mock start {t1 - t0:.3f} s | run {t2 - t1:.3f} s, {run_requests} requests | "
              f"check {t3 - t2:.3f} s, {check_requests} requests, score {report.score:g}/{report.max_score:g} | "
              f"idempotent re-run {t4 - t3:.3f} s, {rerun_requests} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lang", default="fr", choices=["fr", "en"])
    args = parser.parse_args()
    times, counts = [], []
    for i in range(args.repeat):
        elapsed, requests, score = cold_run(args.lang)
        times.append(elapsed)
        counts.append(requests)
        print(f"cold run {i + 1}: {elapsed:.2f} s, {requests} HTTP requests, {score}")
    median = statistics.median(times)
    print(f"median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}) — "
          f"{median / TARGET_SECONDS:.0%} of the {TARGET_SECONDS:g} s target")
    print(f"HTTP requests per run+check: {max(counts)} — {max(counts) / TARGET_REQUESTS:.0%} of the "
          f"{TARGET_REQUESTS} budget")
    in_process(args.lang)


if __name__ == "__main__":
    main()
