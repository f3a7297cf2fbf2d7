"""A class sharing one served tenant (``DATAVERSE_URL`` set, rows with prefixes only).

The tenant is a loopback mock behind a small WSGI layer that sees what the CLI sends: how
many requests are in flight at once, and how many each bearer token made. Every request
waits 20 ms (the mock's latency fault), so students working in parallel overlap.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.labs.cli_helpers import cli
from tests.labs.student import Browser, do_lab

INSTRUCTOR = "instructor-token"


@dataclass
class TenantSide:
    """What the tenant saw: requests per token, and the most requests in flight at once."""

    base_url: str = ""
    by_token: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: called before each request is answered (what happens on the grader's machine meanwhile)
    before_answer: Callable[[], None] | None = None

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """A WSGI layer in front of ``app`` that counts."""

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
            with self.lock:
                self.by_token[token] += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if self.before_answer is not None:
                    self.before_answer()
                return list(app(environ, start_response))
            finally:
                with self.lock:
                    self.in_flight -= 1

        return counted

    def reset(self) -> None:
        """Forget what was seen so far."""
        with self.lock:
            self.by_token.clear()
            self.most_in_flight = 0


@pytest.fixture
def class_tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TenantSide]:
    """A served mock accepting any token; the CLI is configured for it with the instructor's token."""
    from waitress.server import create_server

    from d365lab.mock.app import create_app
    from d365lab.mock.server import RunningServer
    from d365lab.mock.settings import FaultSettings, MockSettings

    app = create_app(":memory:", MockSettings(token=None, faults=FaultSettings(latency_ms=20)))
    seen = TenantSide()
    server: Any = create_server(seen.wrap(app), host="127.0.0.1", port=0, threads=12)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{server.effective_port}", "", app, server, thread)
    seen.base_url = running.base_url
    for name in ("D365LAB_TIMEZONE", "D365LAB_LABS_DIR", "D365LAB_MOCK_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATAVERSE_URL", running.base_url)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", INSTRUCTOR)
    monkeypatch.setenv("D365LAB_LAB_STATE", str(tmp_path / "journals"))
    monkeypatch.chdir(tmp_path)
    try:
        yield seen
    finally:
        running.stop()


def _roster(path: Path, count: int) -> Path:
    path.write_text("student,prefix\n" + "".join(f"S{i},[S{i}]\n" for i in range(count)), encoding="utf-8")
    return path


def test_students_sharing_the_tenant_are_seeded_parallel_at_a_time(class_tenant: TenantSide, tmp_path: Path) -> None:
    roster = _roster(tmp_path / "class.csv", 4)
    seeded = cli("lab", "seed", "--upto", "ex1", "--roster", str(roster), "--parallel", "3", "-q")
    assert seeded.exit_code == 0, seeded.stdout + seeded.stderr
    assert "4 stagiaire(s) : 4 ok, 0 en échec" in seeded.stdout
    assert 2 <= class_tenant.most_in_flight <= 3  # several students at once, never more than --parallel
    class_tenant.reset()
    cleaned = cli("lab", "cleanup", "--roster", str(roster), "--parallel", "1", "-q")
    assert cleaned.exit_code == 0, cleaned.stdout + cleaned.stderr
    assert class_tenant.most_in_flight == 1  # --parallel 1: one student after the other
    assert set(class_tenant.by_token) == {INSTRUCTOR}  # one application user for the whole class


def test_each_student_s_report_counts_their_own_requests(class_tenant: TenantSide, tmp_path: Path) -> None:
    students = 3
    for i in range(students):  # each student in their browser, as themselves
        do_lab(browser=Browser(class_tenant.base_url + "/api/data/v9.2/", f"student-{i}"), prefix=f"[S{i}]")
    class_tenant.reset()
    reports = tmp_path / "reports"
    graded = cli("lab", "check", "--roster", str(_roster(tmp_path / "class.csv", students)), "--parallel", "3",
                 "--format", "json", "--reports-dir", str(reports), "-q")
    assert graded.exit_code == 0, graded.stdout + graded.stderr
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(reports.glob("*.json"))]
    assert [d["passed"] for d in documents] == [True] * students
    counts = [d["http_requests"] for d in documents]
    # students who did the same clicks cost the same requests (give or take a lookup the shared client
    # keeps, such as the process stages, made by whoever asks first); together, what the tenant saw
    assert min(counts) > 0 and max(counts) - min(counts) <= 1
    assert sum(counts) == class_tenant.by_token[INSTRUCTOR]


def test_a_watch_round_grades_students_sharing_the_tenant_in_parallel(class_tenant: TenantSide,
                                                                        tmp_path: Path) -> None:
    roster = _roster(tmp_path / "class.csv", 4)
    assert cli("lab", "seed", "--upto", "ex1", "--roster", str(roster), "-q").exit_code == 0
    class_tenant.reset()
    watched = cli("lab", "check", "--watch", "--roster", str(roster), "--max-time", "0", "--parallel", "3",
                  "--reports-dir", str(tmp_path / "watch-reports"), "--board", str(tmp_path / "board.html"))
    assert watched.exit_code in (0, 1), watched.stdout + watched.stderr  # ex2 and ex3 are not done yet
    assert 2 <= class_tenant.most_in_flight <= 3
    assert (tmp_path / "board.html").is_file()


def test_students_sharing_the_tenant_prepare_it_once(class_tenant: TenantSide, tmp_path: Path) -> None:
    prepared = cli("lab", "prepare", "--roster", str(_roster(tmp_path / "class.csv", 4)), "--parallel", "4",
                   "--lang", "en")
    assert prepared.exit_code == 0, prepared.stdout + prepared.stderr
    assert prepared.stdout.count("the tenant is gradable") == 4
    # the first student switched auditing on; the others, in parallel, found it on
    assert prepared.stdout.count("auditing (environment): switched on") == 1


def test_students_sharing_the_tenant_never_exceed_the_user_s_concurrency_limit(
        class_tenant: TenantSide, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The class is one application user: --parallel above the service's limit of concurrent
    # requests per user is capped at it (here a limit of 2 stands for Dataverse's 52).
    from d365lab.labs import roster

    monkeypatch.setattr(roster, "SHARED_USER_MAX_CONCURRENT", 2)
    seeded = cli("lab", "seed", "--upto", "ex1", "--roster", str(_roster(tmp_path / "class.csv", 5)),
                 "--parallel", "5", "-q")
    assert seeded.exit_code == 0, seeded.stdout + seeded.stderr
    assert class_tenant.most_in_flight == 2


@pytest.mark.parametrize(("output", "says"), [("class.txt", "cannot tell the class summary format of --output"),
                                              ("no-such-folder/class.json", "does not exist")])
def test_a_watch_s_class_summary_path_is_checked_before_any_request(class_tenant: TenantSide, tmp_path: Path,
                                                                     output: str, says: str) -> None:
    roster = _roster(tmp_path / "class.csv", 2)
    watched = cli("lab", "check", "--watch", "--roster", str(roster), "--max-time", "0", "--output", output)
    assert watched.exit_code == 2
    assert watched.stderr.strip().count("\n") == 0 and says in watched.stderr  # one line
    assert not class_tenant.by_token  # the tenant was never asked
    assert not (tmp_path / "lab-reports" / "board.html").exists()


def test_a_watch_rewrites_the_class_summary_after_every_round(class_tenant: TenantSide, tmp_path: Path) -> None:
    roster = _roster(tmp_path / "class.csv", 2)
    summary = tmp_path / "class.json"
    outcome: list[Any] = []
    watch = threading.Thread(target=lambda: outcome.append(cli(
        "lab", "check", "--watch", "--roster", str(roster), "--upto", "ex1.t1", "--until-complete",
        "--interval", "0.2", "--max-time", "60", "--output", str(summary), "-q")))
    watch.start()
    try:
        reads: list[dict[str, Any]] = []
        while watch.is_alive() and not reads:  # the students have done nothing yet: round 1 sees that
            if summary.exists():
                reads.append(json.loads(summary.read_text(encoding="utf-8")))  # whole, never half a file
            time.sleep(0.01)
        assert reads, "no class summary while the watch ran"
        first = reads[0]
        assert [row["passed"] for row in first["students"]] == [False, False] and first["exit_code"] == 1
        for i in range(2):  # now each student does ex1.t1; the watch goes on until it sees both green
            do_lab(browser=Browser(class_tenant.base_url + "/api/data/v9.2/", f"student-{i}"), prefix=f"[S{i}]",
                   stop_after="ex1.t1")
        while watch.is_alive():
            if summary.exists():
                json.loads(summary.read_text(encoding="utf-8"))
            time.sleep(0.01)
    finally:
        watch.join(90)
    result = outcome[0]
    assert result.exit_code == 0, result.stdout + result.stderr
    last = json.loads(summary.read_text(encoding="utf-8"))
    assert [row["passed"] for row in last["students"]] == [True, True] and last["exit_code"] == 0


def test_a_summary_that_cannot_be_written_any_more_is_said_and_ends_in_exit_2(class_tenant: TenantSide,
                                                                              tmp_path: Path) -> None:
    roster = _roster(tmp_path / "class.csv", 2)
    folder = tmp_path / "shared"
    folder.mkdir()
    class_tenant.before_answer = lambda: folder.exists() and folder.rmdir()  # gone once the watch has started
    watched = cli("lab", "check", "--watch", "--roster", str(roster), "--max-time", "0", "--output",
                  str(folder / "class.json"), "-q")
    assert watched.exit_code == 2
    assert f"error: cannot write --output {folder / 'class.json'}" in watched.stderr
    assert (tmp_path / "lab-reports" / "board.html").is_file()  # the rest of the watch went on
