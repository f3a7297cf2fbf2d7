"""``lab check --format instruqt|skillable|classroom|json|junit``, each against its platform's documented contract.

The expected fields and rules below are written from the facts sheet
(shared/reference/audit-timezones-grading.md §3), not from d365lab's code:
- Instruqt (§3.2): exit code 0 = pass, non-zero = fail; a stdout line starting ``FAIL: `` is the
  learner's feedback; the check script is stopped after 1 minute.
- Skillable (§3.1): the last true/false value printed decides; a partial score is a fraction
  (``setActivityResult(0.5)``).
- GitHub Classroom (§3.3): base64 of ``{"version":1,"status":"pass|fail|error","max_score":N,
  "tests":[{"name","status","score","message","test_code","filename","line_no","duration"}]}``,
  read from ``<ID.upper()>_RESULTS``; the step fails when a runner's status is fail or error.
- JUnit (§3.4): ``testcase`` with ``failure@message`` / ``skipped``; Azure: Not Executed if ``<skipped>``.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from d365lab.connect import connect
from d365lab.mock.server import start_background
from d365lab.mock.settings import FaultSettings, MockSettings
from tests.labs.cli_helpers import Result, cli

ROOT = Path(__file__).resolve().parents[2]
CLASSROOM_TOP_FIELDS = {"version", "status", "max_score", "tests"}
CLASSROOM_TEST_FIELDS = {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}
CLASSROOM_STATUSES = {"pass", "fail", "error"}
INSTRUQT_CHECK_LIMIT_SECONDS = 60


def _undo_the_win() -> None:
    """A mistake: the opportunity of Doe Inc. reopened (task ex3.t1.g no longer done)."""
    with connect() as client:
        opp = client.records.first("opportunity", filter="statecode eq 1", select=["opportunityid"])
        assert opp is not None
        client.opportunities.reopen(opp["opportunityid"])


@pytest.fixture(scope="module")
def done_tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tenant database where the whole lab was done (made once, copied per test)."""
    folder = tmp_path_factory.mktemp("done-lab")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DATAVERSE_URL", "D365LAB_AUTH", "D365LAB_TIMEZONE", "DATAVERSE_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("D365LAB_MOCK_DB", str(folder / "tenant.sqlite"))
        patch.setenv("D365LAB_LAB_STATE", str(folder / "journals"))
        patch.chdir(folder)
        assert cli("lab", "run", "-q").exit_code == 0
    return folder / "tenant.sqlite"


@pytest.fixture
def done_lab(lab_env: Path, done_tenant: Path) -> Path:
    """The whole lab done on this test's embedded tenant (no run journal: as if done by hand)."""
    shutil.copyfile(done_tenant, lab_env / "tenant.sqlite")
    return lab_env


@pytest.fixture
def one_mistake(done_lab: Path) -> Path:
    _undo_the_win()
    return done_lab


def _reporter_outcome(env: dict[str, str], runners: str) -> tuple[bool, int | float, int | float]:
    """What autograding-grading-reporter does with our result (§3.3): (step fails, points, max points)."""
    failed, total, maximum = False, 0, 0
    for runner in runners.split(","):
        result = json.loads(base64.b64decode(env[f"{runner.strip().upper()}_RESULTS"]).decode("utf-8"))
        failed = failed or result["status"] in ("fail", "error")
        if result["max_score"] > 0:
            total += sum(test["score"] for test in result["tests"])
            maximum += result["max_score"]
    return failed, total, maximum


def _classroom(result: Result) -> dict[str, object]:
    document = json.loads(base64.b64decode(result.stdout.strip(), validate=True).decode("utf-8"))
    assert isinstance(document, dict)
    return document


def _assert_classroom_shape(document: dict[str, object]) -> None:
    assert set(document) == CLASSROOM_TOP_FIELDS
    assert document["version"] == 1
    assert document["status"] in CLASSROOM_STATUSES
    assert isinstance(document["max_score"], int | float)
    tests = document["tests"]
    assert isinstance(tests, list) and tests
    for test in tests:
        assert set(test) == CLASSROOM_TEST_FIELDS
        assert test["status"] in CLASSROOM_STATUSES
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["line_no"], int) and isinstance(test["duration"], int)
        assert isinstance(test["score"], int | float)


# ------------------------------------------------------------------ Instruqt
def test_instruqt_passes_with_exit_0_and_no_fail_line(done_lab: Path) -> None:
    result = cli("lab", "check", "--format", "instruqt")
    assert result.exit_code == 0, result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("FAIL: ")]


def test_instruqt_failure_is_a_nonzero_exit_and_a_first_fail_line_with_the_hint(one_mistake: Path) -> None:
    result = cli("lab", "check", "--format", "instruqt")
    assert result.exit_code != 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL: ")
    assert sum(line.startswith("FAIL: ") for line in result.stdout.splitlines()) == 1
    assert "ex3.t1.g" in lines[0] and "Clôturer comme conclu" in lines[0]  # the hint of the task undone


def test_instruqt_unreachable_tenant_fails_with_a_fail_line(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", "t")
    result = cli("lab", "check", "--format", "instruqt")
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0].startswith("FAIL: ")


@pytest.fixture
def slow_tenant(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A served mock answering every request 0.4 s late."""
    running = start_background(settings=MockSettings(faults=FaultSettings(latency_ms=400)))
    monkeypatch.setenv("DATAVERSE_URL", running.base_url)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", running.token)
    yield
    running.stop()


def test_a_check_gives_up_at_max_time_with_its_own_fail_line(slow_tenant: None) -> None:
    started = time.monotonic()
    result = cli("lab", "check", "--format", "instruqt", "--max-time", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 2
    first = result.stdout.splitlines()[0]
    assert first.startswith("FAIL: ") and "1 s" in first
    assert elapsed < INSTRUQT_CHECK_LIMIT_SECONDS / 10  # gave up at the deadline, not after the slow check


# ------------------------------------------------------------------ Skillable
def _fraction(stdout: str) -> float:
    match = re.search(r"^score_fraction ([0-9.]+)$", stdout, re.MULTILINE)
    assert match, stdout
    return float(match.group(1))


def test_skillable_last_value_is_true_for_a_pass_with_full_score(done_lab: Path) -> None:
    result = cli("lab", "check", "--format", "skillable")
    assert result.stdout.rstrip("\n").splitlines()[-1] == "True"
    assert _fraction(result.stdout) == 1


def test_skillable_last_value_is_false_with_the_partial_score(one_mistake: Path) -> None:
    result = cli("lab", "check", "--format", "skillable")
    assert result.stdout.rstrip("\n").splitlines()[-1] == "False"
    report = cli("lab", "check", "--format", "json").json()
    assert 0 < _fraction(result.stdout) < 1
    graded = [t for t in report["tasks"] if t["status"] != "not_observable"]  # not graded: out of the maximum
    expected = sum(t["points"] for t in graded) / sum(t["max_points"] for t in graded)
    assert _fraction(result.stdout) == pytest.approx(expected, abs=1e-4)
    # the last true/false value printed decides: nothing after it
    values = [line for line in result.stdout.splitlines() if line.strip() in ("True", "False")]
    assert values == ["False"]


# ------------------------------------------------------------------ GitHub Classroom
def test_classroom_result_has_the_reporters_fields_and_a_pass(done_lab: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    result = cli("lab", "check", "--format", "classroom")
    document = _classroom(result)
    _assert_classroom_shape(document)
    assert document["status"] == "pass"
    assert all(t["status"] == "pass" for t in document["tests"])  # type: ignore[attr-defined]
    # the step output the reporter's variable is set from, as the command grader sets it
    assert outputs.read_text(encoding="utf-8") == f"result={result.stdout.strip()}\n"
    failed, points, maximum = _reporter_outcome({"LAB-CHECK_RESULTS": result.stdout.strip()}, "lab-check")
    assert not failed and points == maximum == document["max_score"]


def test_classroom_failure_fails_the_reporter_and_scores_each_task_all_or_nothing(one_mistake: Path) -> None:
    result = cli("lab", "check", "--format", "classroom")
    document = _classroom(result)
    _assert_classroom_shape(document)
    assert document["status"] == "fail"
    tests = {t["name"].split()[0]: t for t in document["tests"]}  # type: ignore[attr-defined]
    assert tests["ex3.t1.g"]["status"] == "fail" and tests["ex3.t1.g"]["score"] == 0
    assert "Clôturer comme conclu" in tests["ex3.t1.g"]["message"]
    failed, points, maximum = _reporter_outcome({"LAB-CHECK_RESULTS": result.stdout.strip()}, "lab-check")
    assert failed and points == maximum - 1


def test_classroom_error_when_the_tenant_cannot_be_checked(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = start_background()
    monkeypatch.setenv("DATAVERSE_URL", running.base_url)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", "not-the-tenants-token")  # 401: the tenant refuses us
    try:
        result = cli("lab", "check", "--format", "classroom")
    finally:
        running.stop()
    assert result.exit_code == 2
    document = _classroom(result)
    _assert_classroom_shape(document)
    assert document["status"] == "error"
    assert _reporter_outcome({"LAB-CHECK_RESULTS": result.stdout.strip()}, "lab-check")[0]


def test_the_documented_workflow_sets_the_variable_the_reporter_reads() -> None:
    """docs/lab-platforms.md: the env variable is <step id upper-cased>_RESULTS, from that step's ``result``."""
    text = (ROOT / "docs" / "lab-platforms.md").read_text(encoding="utf-8")
    step = re.search(r"- id: ([\w-]+)\n\s+run: d365lab lab check --format classroom", text)
    assert step, "the Classroom snippet runs lab check in a step with an id"
    step_id = step.group(1)
    assert re.search(rf"runners: {re.escape(step_id)}\b", text)
    assert f"{step_id.upper()}_RESULTS: ${{{{ steps.{step_id}.outputs.result }}}}" in text


# ------------------------------------------------------------------ JSON and JUnit
def test_json_and_junit_report_a_task_not_observable_as_neither_pass_nor_failure(done_lab: Path) -> None:
    # without the run journal (and no audit history, no watch), the undone disqualify cannot be seen
    document = cli("lab", "check", "--no-journal", "--format", "json").json()
    task = next(t for t in document["tasks"] if t["id"] == "ex2.t3")
    assert task["status"] == "not_observable" and task["passed"] is None
    assert all(c["passed"] is None for c in task["checks"] if c["status"] == "not_observable")
    root = ET.fromstring(cli("lab", "check", "--no-journal", "--format", "junit").stdout)
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("ex2.t3 "))
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("message")
    assert "--upto ex2.t3" in (skipped.get("message") or "")  # says how to make it observable
    assert case.find("failure") is None
    assert root.find("testsuite").get("skipped") == "1"  # type: ignore[union-attr]


def test_junit_failure_message_lists_each_distinct_hint_once(one_mistake: Path) -> None:
    root = ET.fromstring(cli("lab", "check", "--format", "junit").stdout)
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("ex3.t1.g "))
    failure = case.find("failure")
    assert failure is not None
    failing_checks = [line for line in (failure.text or "").splitlines() if re.match(r"c\w+ échec ?:", line)]
    assert len(failing_checks) >= 2, "the won state is more than one check (statecode, statuscode)"
    parts = (failure.get("message") or "").split("; ")
    assert parts and len(parts) == len(set(parts))
    assert sum("Clôturer comme conclu" in p for p in parts) == 1


def test_a_task_not_observable_fails_every_platform_format_when_required(done_lab: Path) -> None:
    flags = ("lab", "check", "--no-journal", "--require-observable", "--format")
    instruqt = cli(*flags, "instruqt")
    assert instruqt.exit_code == 1
    assert instruqt.stdout.startswith("FAIL: ex2.t3: ") and "--watch" in instruqt.stdout.splitlines()[0]
    assert cli(*flags, "skillable").stdout.rstrip("\n").splitlines()[-1] == "False"
    document = _classroom(cli(*flags, "classroom"))
    _assert_classroom_shape(document)
    tests = {t["name"].split()[0]: t for t in document["tests"]}  # type: ignore[attr-defined]
    assert document["status"] == "fail" and tests["ex2.t3"]["status"] == "fail"
    root = ET.fromstring(cli(*flags, "junit").stdout)
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("ex2.t3 "))
    assert case.find("failure") is not None and case.find("skipped") is None


def test_platform_formats_are_refused_with_a_roster(lab_env: Path) -> None:
    (lab_env / "class.csv").write_text("student,prefix\nAnn,A1\n", encoding="utf-8")
    result = cli("lab", "check", "--roster", "class.csv", "--format", "instruqt")
    assert result.exit_code == 2
    assert "--format instruqt" in result.stderr
