"""Benchmark: ``lab check`` of one student who did the lab by hand, on the embedded tenant.

The student (tests/labs/student.py: plain ``requests``, no run journal) works on a fresh
embedded tenant, with auditing switched on first (``lab prepare``) or left off; then
``d365lab lab check --format json`` runs in a fresh process several times. Prints wall time
(process start to exit) and the HTTP requests the check made (from the JSON document).

    python3 benchmarks/lab_check_student.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_"))}
    env.pop("D365LAB_AUTH", None)
    env.update(D365LAB_MOCK_DB=str(tmp / "tenant.sqlite"), D365LAB_LAB_STATE=str(tmp / "state"),
               PYTHONPATH=str(ROOT))
    return env


def _cli(env: dict[str, str], tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from d365lab.cli import main; main()", *args], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=120)


def measure(audited: bool, repeat: int) -> None:
    """Prepare (or not), let the student work, then time ``lab check`` ``repeat`` times."""
    from d365lab.mock.server import start_background
    from tests.labs.student import Browser, do_lab

    with tempfile.TemporaryDirectory(prefix="d365lab-bench-") as name:
        tmp = Path(name)
        env = _env(tmp)
        if audited and _cli(env, tmp, "lab", "prepare").returncode != 0:
            raise SystemExit("lab prepare failed")
        server = start_background(db_path=env["D365LAB_MOCK_DB"])
        try:
            do_lab(browser=Browser(server.base_url + "/api/data/v9.2/", server.token))
        finally:
            server.stop()
        times, requests, score = [], 0, ""
        for _ in range(repeat):
            started = time.perf_counter()
            done = _cli(env, tmp, "lab", "check", "--format", "json")
            times.append(time.perf_counter() - started)
            doc = json.loads(done.stdout)
            requests, score = doc["http_requests"], f"{doc['score']:g}/{doc['max_score']:g} exit {doc['exit_code']}"
    label = "audit on (after lab prepare)" if audited else "audit off"
    print(f"lab check, one student by hand, {label}: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, {repeat} runs), {requests} HTTP requests, {score}")


def main() -> None:
    """Both tenants: auditing off, then on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    for audited in (False, True):
        measure(audited, options.repeat)


if __name__ == "__main__":
    main()
