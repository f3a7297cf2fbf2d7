"""Benchmark: grading lab 2.1 — one student, a class of 100, and one watch round of 30.

1. ``d365lab lab check`` of one student on the embedded tenant: a fresh process (imports and
   mock start included) after a finished ``lab run``, several times; wall time and the HTTP
   requests of the check (from the JSON report), then the check alone in-process.
2. ``d365lab lab check --roster`` of 100 students on one served mock tenant with
   ``--parallel 8``: every student did the whole lab under their own prefix; wall time of the
   command, requests per student (each student's JSON report).
3. One ``lab check --watch --roster`` round for 30 of those students: requests of the round
   (the figure the watch prints).

    python3 benchmarks/lab_check.py [--repeat 3] [--students 100] [--watchers 30] [--parallel 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_", "D365LAB_"))}
    env.update(D365LAB_MOCK_DB=str(tmp / "tenant.sqlite"), D365LAB_LAB_STATE=str(tmp / "state"),
               PYTHONPATH=str(ROOT), COLUMNS="160", **extra)
    return env


def _d365lab(env: dict[str, str], cwd: Path, *args: str,
             timeout: float = 900) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from d365lab.cli import main; main()", *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, done


def one_student(repeat: int) -> None:
    """A cold ``lab check`` of a finished lab on the embedded tenant."""
    with tempfile.TemporaryDirectory(prefix="d365lab-bench-") as name:
        tmp = Path(name)
        env = _env(tmp)
        _seconds, done = _d365lab(env, tmp, "lab", "run", "-q")
        if done.returncode != 0:
            raise SystemExit(f"lab run failed:\n{done.stderr}")
        times, counts = [], []
        for i in range(repeat):
            seconds, done = _d365lab(env, tmp, "lab", "check", "--format", "json")
            report = json.loads(done.stdout)
            times.append(seconds)
            counts.append(report["http_requests"])
            print(f"  cold check {i + 1}: {seconds:.2f} s, {report['http_requests']} HTTP requests, "
                  f"score {report['score']:g}/{report['max_score']:g}, exit {done.returncode}")
        print(f"1. one student, embedded tenant: median {statistics.median(times):.2f} s per `lab check` process "
              f"(min {min(times):.2f}), {max(counts)} HTTP requests")
        os.environ.update(D365LAB_MOCK_DB=env["D365LAB_MOCK_DB"], D365LAB_LAB_STATE=env["D365LAB_LAB_STATE"])
        os.environ.pop("DATAVERSE_URL", None)
        from d365lab.connect import connect
        from d365lab.labs.checker import check_lab
        from d365lab.labs.loader import load_lab

        lab = load_lab()
        with connect() as client:
            check_lab(client, lab, lang="fr")  # warm
            laps = []
            for _ in range(5):
                before, started = client.request_count, time.perf_counter()
                check_lab(client, lab, lang="fr")
                laps.append(time.perf_counter() - started)
            print(f"   in-process check_lab: median {statistics.median(laps) * 1000:.0f} ms, "
                  f"{client.request_count - before} requests")


def _seed_class(base_url: str, token: str, prefixes: list[str]) -> float:
    """Every student does the whole lab under their own prefix (the runner, 4 at a time)."""
    from d365lab.auth import StaticTokenProvider
    from d365lab.client import DataverseClient
    from d365lab.labs.loader import load_lab
    from d365lab.labs.runner import run_lab

    lab = load_lab()

    def seed(prefix: str) -> None:
        with DataverseClient(base_url, StaticTokenProvider(token), tenant_label=f"mock tenant ({base_url})") as client:
            run_lab(client, lab, lang="fr", prefix=prefix)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(seed, prefixes))
    return time.perf_counter() - started


def class_of(students: int, watchers: int, parallel: int) -> None:
    """A roster check of ``students`` and one watch round of ``watchers`` on one served mock."""
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import MockSettings

    with tempfile.TemporaryDirectory(prefix="d365lab-bench-") as name:
        tmp = Path(name)
        running = start_background(db_path=str(tmp / "served.sqlite"), settings=MockSettings())
        try:
            prefixes = [f"S{i:03d}" for i in range(students)]
            os.environ["D365LAB_LAB_STATE"] = str(tmp / "seed-state")
            seeded = _seed_class(running.base_url, running.token, prefixes)
            print(f"   (seeded {students} students' labs in {seeded:.1f} s)")
            (tmp / "tenant.env").write_text(f"DATAVERSE_URL={running.base_url}\nD365LAB_AUTH=token\n"
                                            f"DATAVERSE_TOKEN={running.token}\n", encoding="utf-8")
            roster = "student,prefix,env_file\n" + "".join(f"student {p},{p},tenant.env\n" for p in prefixes)
            (tmp / "class.csv").write_text(roster, encoding="utf-8")
            env = _env(tmp)
            seconds, done = _d365lab(env, tmp, "lab", "check", "--roster", "class.csv", "--parallel", str(parallel),
                                     "--format", "json", "--reports-dir", "reports", "-q")
            reports = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp / "reports").glob("*.json")]
            per_student = [r["http_requests"] for r in reports if r.get("http_requests") is not None]
            passed = sum(1 for r in reports if r["exit_code"] == 0)
            print(f"2. --roster of {students} students, one served mock, --parallel {parallel}: {seconds:.1f} s "
                  f"({seconds / students * 1000:.0f} ms a student), exit {done.returncode}, {passed} passed; "
                  f"requests per student: median {statistics.median(per_student):g}, max {max(per_student)}")

            watch_roster = roster.splitlines()[0] + "\n" + "\n".join(roster.splitlines()[1:watchers + 1]) + "\n"
            (tmp / "watch.csv").write_text(watch_roster, encoding="utf-8")
            seconds, done = _d365lab(env, tmp, "lab", "check", "--watch", "--roster", "watch.csv", "--max-time", "0",
                                     "--parallel", str(parallel), "--reports-dir", "watch-reports")
            found = re.search(r"tour 1 à [\d:]+ : (\d+) requêtes \(([\d.]+) par stagiaire\)", done.stderr)
            if found is None:
                raise SystemExit(f"no round line:\n{done.stderr[-2000:]}")
            print(f"3. one --watch round, {watchers} students: {found.group(1)} requests "
                  f"({found.group(2)} per student); the whole command {seconds:.1f} s")
        finally:
            running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--watchers", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    one_student(args.repeat)
    class_of(args.students, args.watchers, args.parallel)


if __name__ == "__main__":
    main()
