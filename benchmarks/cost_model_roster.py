"""Benchmark: a class on one busy tenant -- ``lab seed --roster`` and ``lab check --roster``.

One served mock in a child process (``d365lab mock serve --cost-model realistic --cost-scale F``,
F = 1 by default: a real tenant's speed), then the CLI as an instructor runs it, in
subprocesses, with ``DATAVERSE_URL`` set and one application user (``D365LAB_AUTH=token``):

1. ``lab prepare`` (auditing on, as before a class);
2. ``lab seed --upto ex2 --roster seed.csv --parallel P`` for ``--seed-students`` (30) students;
3. ``--check-students`` (100) students do the whole lab by hand, each signed in as themselves
   (tests/labs/student.py: the Web API calls the app makes, plain ``requests``, no run journal
   on the instructor's machine, as in a real class), ``--hand-lanes`` of them at a time;
4. ``lab check --roster check.csv --parallel P --format json --reports-dir ...``;
5. one ``lab check --watch --roster`` round of the same class (``--max-time 0``);
6. the check again with every row its own credentials (an ``env_file`` each: its own user).

The roster rows are ``student,prefix`` (the documented shape for a shared tenant): every row
shares the default tenant and its one client, so the whole class is one application user of
the service-protection limits. Requests are counted on the tenant's side: the child wraps the
mock's WSGI entry (in this benchmark only; the mock is not changed) and answers
``GET /_bench/counts`` with, per bearer token, requests, 429s, the time they took at the tenant
(network latency included) and the most in flight at once. The same run is repeated with
``--cost-model none``.

    python3 benchmarks/cost_model_roster.py [--scale 1] [--seed-students 30] [--check-students 100]
        [--parallel 4] [--hand-lanes 10] [--models realistic,none] [--upto ex2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

INSTRUCTOR = "instructor"
COUNTS_PATH = "/_bench/counts"
#: Service-protection limits per user and window (docs/mock-tenant.md); the window and the
#: execution time scale with --cost-scale, the counts do not.
REQUESTS_PER_WINDOW, EXECUTION_S_PER_WINDOW, WINDOW_S, MAX_CONCURRENT = 6000, 1200.0, 300.0, 52


# ------------------------------------------------------------------ the child: a counted `mock serve`
def serve_counted() -> None:
    """In the child: ``d365lab mock serve ...`` (argv) with a counting layer in front of the tenant."""
    from d365lab.cli import main
    from d365lab.mock.app import MockApp

    lock = threading.Lock()
    seen: dict[str, dict[str, float]] = {}
    in_flight: dict[str, int] = {}
    original = MockApp.__call__

    def counted(self: MockApp, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with lock:
                body = json.dumps(seen).encode()
                if environ.get("QUERY_STRING") == "reset_peaks":  # a new command starts
                    for key, usage in seen.items():
                        usage["most_in_flight"] = in_flight.get(key, 0)
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        statuses: list[str] = []

        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status[:3])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        with lock:
            mine = seen.setdefault(token, {"requests": 0, "throttled": 0, "ms": 0.0, "most_in_flight": 0})
            in_flight[token] = in_flight.get(token, 0) + 1
            mine["most_in_flight"] = max(mine["most_in_flight"], in_flight[token])
        started = time.monotonic()
        try:
            return original(self, environ, recording)
        finally:
            with lock:
                in_flight[token] -= 1
                mine["requests"] += 1
                mine["throttled"] += statuses[:1] == ["429"]
                mine["ms"] += (time.monotonic() - started) * 1000.0

    MockApp.__call__ = counted  # type: ignore[method-assign]
    sys.argv[0] = "d365lab"
    main()


class CountedServer:
    """``d365lab mock serve --db :memory: --cost-model M --cost-scale F`` in a child process, counted."""

    def __init__(self, model: str, scale: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        code = f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import cost_model_roster; " \
               "cost_model_roster.serve_counted()"
        self.proc = subprocess.Popen([sys.executable, "-c", code, "mock", "serve", "--port", str(port), "--db",
                                      ":memory:", "--cost-model", model, "--cost-scale", str(scale)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.counts()
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the mock server process did not start")

    def counts(self, *, reset_peaks: bool = False) -> dict[str, dict[str, float]]:
        """What the tenant saw so far, per bearer token (``reset_peaks``: in-flight peaks start again)."""
        answer = requests.get(self.base_url + COUNTS_PATH + ("?reset_peaks" if reset_peaks else ""), timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far (Linux /proc; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Terminate the child."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ------------------------------------------------------------------ measuring a command
@dataclass
class Seen:
    """One user's share of what the tenant saw during a command."""

    requests: int
    throttled: int
    ms: float
    most_in_flight: int
    cpu: float
    #: CPU seconds of the d365lab process (user + system)
    cli_cpu: float = 0.0

    @classmethod
    def between(cls, before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], cpu: float,
                token: str = INSTRUCTOR) -> Seen:
        """The difference of two snapshots for ``token``."""
        old, new = before.get(token, {}), after.get(token, {})
        return cls(int(new.get("requests", 0) - old.get("requests", 0)),
                   int(new.get("throttled", 0) - old.get("throttled", 0)),
                   new.get("ms", 0.0) - old.get("ms", 0.0), int(new.get("most_in_flight", 0)), cpu)


class Class:
    """The instructor's side: a working folder, the CLI's environment, the served tenant."""

    def __init__(self, tmp: Path, server: CountedServer, model: str, scale: float) -> None:
        self.tmp, self.server, self.model, self.scale = tmp, server, model, scale
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_", "D365LAB_"))}
        self.env.update(DATAVERSE_URL=server.base_url, D365LAB_AUTH="token", DATAVERSE_TOKEN=INSTRUCTOR,
                        D365LAB_LAB_STATE=str(tmp / "state"), PYTHONPATH=str(ROOT), COLUMNS="160")
        self.latency_s = (0.020 if model == "realistic" else 0.0) * scale

    def cli(self, *args: str) -> tuple[float, subprocess.CompletedProcess[str], Seen]:
        """Run ``d365lab <args>``; wall time, the process, what the tenant saw of the instructor."""
        before, cpu = self.server.counts(reset_peaks=True), self.server.cpu_seconds()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "from d365lab.cli import main; main()", *args], env=self.env,
                              cwd=self.tmp, capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seen = Seen.between(before, self.server.counts(), self.server.cpu_seconds() - cpu)
        seen.cli_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        return seconds, done, seen

    def roster(self, name: str, prefixes: list[str]) -> Path:
        """A roster CSV of students sharing the default tenant, one prefix each."""
        path = self.tmp / name
        path.write_text("student,prefix\n" + "".join(f"student {p},{p}\n" for p in prefixes), encoding="utf-8")
        return path

    def limits_line(self, seen: Seen, students: int, seconds: float) -> str:
        """What the service-protection limits of one user would allow for what the tenant saw."""
        window, budget_s = WINDOW_S * self.scale, EXECUTION_S_PER_WINDOW * self.scale
        server_s = max(seen.ms / 1000.0 - seen.requests * self.latency_s, 0.0)
        chain = seen.ms / 1000.0 / max(students, 1)  # a student's requests go one after the other
        bound = max(seen.ms / 1000.0 / MAX_CONCURRENT, chain)
        over = []
        if seen.requests > REQUESTS_PER_WINDOW:
            over.append(seen.requests / (REQUESTS_PER_WINDOW / window))
        if server_s > budget_s:
            over.append(server_s / (EXECUTION_S_PER_WINDOW / WINDOW_S))
        bound = max([bound, *over])
        if self.model == "none":
            return (f"      (no limits without a cost model; {seen.ms / 1000:.1f} s of request time at the tenant; "
                    f"CPU: mock {seen.cpu:.1f} s, d365lab {seen.cli_cpu:.1f} s)")
        return (f"      one user's limits (window {window:g} s): {seen.requests} of {REQUESTS_PER_WINDOW} requests "
                f"({seen.requests / REQUESTS_PER_WINDOW:.0%}), {server_s:.1f} of {budget_s:g} s execution time "
                f"({server_s / budget_s:.0%}), {seen.most_in_flight} of "
                f"{MAX_CONCURRENT} in flight at most; the limits would let it finish in about {bound:.1f} s (a "
                f"student's requests one after the other: {chain:.2f} s; all {seen.ms / 1000:.1f} s of request time "
                f"over {MAX_CONCURRENT} in flight: {seen.ms / 1000 / MAX_CONCURRENT:.1f} s); "
                f"CPU: mock {seen.cpu:.1f} s, d365lab {seen.cli_cpu:.1f} s")


# ------------------------------------------------------------------ the steps
def prepare(cls: Class) -> None:
    """``lab prepare``: auditing on, as before a class (and what starting the CLI alone costs)."""
    seconds, _done, _seen = cls.cli("lab", "check", "--help")
    print(f"  a d365lab process that sends nothing (lab check --help): {seconds:.1f} s")
    seconds, done, seen = cls.cli("lab", "prepare", "--lang", "en")
    if done.returncode != 0:
        raise SystemExit(f"lab prepare failed:\n{done.stdout}{done.stderr}")
    print(f"  lab prepare: {seconds:.1f} s, {seen.requests} requests")


def seed(cls: Class, students: int, parallel: int, upto: str) -> None:
    """``lab seed --roster`` for ``students`` students sharing the tenant."""
    prefixes = [f"SEED{parallel}-{i:03d}" for i in range(students)]
    roster = cls.roster(f"seed-{parallel}.csv", prefixes)
    seconds, done, seen = cls.cli("lab", "seed", "--upto", upto, "--roster", str(roster), "--parallel", str(parallel),
                                  "-q", "--lang", "en")
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    print(f"  [{cls.model}] lab seed --upto {upto} --roster ({students} students) --parallel {parallel}: "
          f"{seconds:.1f} s ({seconds / students:.2f} s a student), exit {done.returncode} ({summary}); "
          f"{seen.requests} requests ({seen.requests / students:.1f} a student), {seen.throttled} x 429")
    print(cls.limits_line(seen, students, seconds))


def students_by_hand(cls: Class, count: int, lanes: int) -> list[str]:
    """``count`` students do the whole lab by hand, each as themselves; their prefixes."""
    from tests.labs.student import Browser, do_lab

    prefixes = [f"C{i:03d}" for i in range(count)]

    def one(index: int) -> None:
        browser = Browser(cls.server.base_url + "/api/data/v9.2/", f"student-{index:03d}")
        do_lab(browser=browser, prefix=prefixes[index])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=lanes) as pool:
        list(pool.map(one, range(count)))
    counts = cls.server.counts()
    made = sum(int(v["requests"]) for k, v in counts.items() if k.startswith("student-"))
    print(f"  (setup) {count} students did the lab by hand, {lanes} at a time, each their own user: "
          f"{time.perf_counter() - started:.1f} s, {made} requests ({made / count:.0f} a student)")
    return prefixes


def check(cls: Class, prefixes: list[str], parallel: int) -> None:
    """``lab check --roster`` of the students who did the lab."""
    roster = cls.roster(f"check-{parallel}.csv", prefixes)
    reports = cls.tmp / f"reports-{parallel}"
    seconds, done, seen = cls.cli("lab", "check", "--roster", str(roster), "--parallel", str(parallel),
                                  "--format", "json", "--reports-dir", str(reports), "-q")
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in reports.glob("*.json")]
    own = [d["http_requests"] for d in documents if d.get("http_requests") is not None]
    passed = sum(1 for d in documents if d.get("passed"))
    print(f"  [{cls.model}] lab check --roster ({len(prefixes)} students) --parallel {parallel}: {seconds:.1f} s "
          f"({seconds / len(prefixes):.2f} s a student), exit {done.returncode}, {passed} passed; {seen.requests} "
          f"requests at the tenant ({seen.requests / len(prefixes):.1f} a student; the reports say median "
          f"{statistics.median(own) if own else 0:g}, total {sum(own)}), {seen.throttled} x 429")
    print(cls.limits_line(seen, len(prefixes), seconds))


def watch_round(cls: Class, prefixes: list[str], parallel: int) -> None:
    """One ``lab check --watch --roster`` round (``--max-time 0``) of the same students."""
    roster = cls.roster(f"watch-{parallel}.csv", prefixes)
    seconds, done, seen = cls.cli("lab", "check", "--watch", "--roster", str(roster), "--max-time", "0",
                                  "--parallel", str(parallel), "--reports-dir", str(cls.tmp / f"watch-{parallel}"),
                                  "--board", str(cls.tmp / f"board-{parallel}.html"))
    print(f"  [{cls.model}] one lab check --watch --roster round ({len(prefixes)} students) --parallel {parallel}: "
          f"{seconds:.1f} s for the whole command, exit {done.returncode}; {seen.requests} requests "
          f"({seen.requests / len(prefixes):.1f} a student), {seen.throttled} x 429")


def check_own_users(cls: Class, prefixes: list[str], parallel: int) -> None:
    """``lab check --roster`` where every row has an env file with its own credentials (its own user)."""
    lines = ["student,prefix,env_file"]
    for prefix in prefixes:
        (cls.tmp / f"{prefix}.env").write_text(f"DATAVERSE_URL={cls.server.base_url}\nD365LAB_AUTH=token\n"
                                               f"DATAVERSE_TOKEN=roster-{prefix}\n", encoding="utf-8")
        lines.append(f"student {prefix},{prefix},{prefix}.env")
    roster = cls.tmp / f"own-users-{parallel}.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = cls.server.counts()
    seconds, done, _seen = cls.cli("lab", "check", "--roster", str(roster), "--parallel", str(parallel), "--format",
                                   "json", "--reports-dir", str(cls.tmp / f"own-reports-{parallel}"), "-q")
    after = cls.server.counts()
    users = [k for k in after if k.startswith("roster-")]
    made = sum(int(after[k]["requests"] - before.get(k, {}).get("requests", 0)) for k in users)
    most = max((int(after[k]["requests"] - before.get(k, {}).get("requests", 0)) for k in users), default=0)
    print(f"  [{cls.model}] lab check --roster ({len(prefixes)} students, each row its own credentials) --parallel "
          f"{parallel}: {seconds:.1f} s, exit {done.returncode}; {made} requests over {len(users)} users "
          f"(at most {most} for one user)")


def run_model(model: str, scale: float, options: argparse.Namespace) -> None:
    """Every step on one fresh served tenant with ``model``."""
    print(f"{model} cost model, --cost-scale {scale:g}:")
    with tempfile.TemporaryDirectory(prefix="d365lab-roster-") as name:
        server = CountedServer(model, scale)
        try:
            cls = Class(Path(name), server, model, scale)
            prepare(cls)
            for parallel in options.parallel:
                seed(cls, options.seed_students, parallel, options.upto)
            prefixes = students_by_hand(cls, options.check_students, options.hand_lanes)
            for parallel in options.parallel:
                check(cls, prefixes, parallel)
            for parallel in options.parallel:
                watch_round(cls, prefixes, parallel)
            check_own_users(cls, prefixes, options.parallel[0])
        finally:
            server.stop()


def main() -> None:
    """Parse the options; run the realistic model, then the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="--cost-scale of the realistic model (1: real speed)")
    parser.add_argument("--seed-students", type=int, default=30)
    parser.add_argument("--check-students", type=int, default=100)
    parser.add_argument("--parallel", default="4", help="comma-separated --parallel values to run (e.g. 1,4,16)")
    parser.add_argument("--hand-lanes", type=int, default=10, help="students working by hand at the same time")
    parser.add_argument("--models", default="realistic,none")
    parser.add_argument("--upto", default="ex2", help="lab seed --upto")
    options = parser.parse_args()
    options.parallel = [int(p) for p in options.parallel.split(",")]
    for model in options.models.split(","):
        run_model(model, options.scale if model == "realistic" else 1.0, options)


if __name__ == "__main__":
    main()
