"""GitHub Classroom autograding: the grading reporter's runner result, base64-encoded JSON.

``classroom-resources/autograding-grading-reporter`` reads, for each runner id in its
``runners`` input, the environment variable ``<ID.upper()>_RESULTS``: base64 of
``{"version": 1, "status": "pass|fail|error", "max_score": N, "tests": [{"name", "status",
"score", "message", "test_code", "filename", "line_no", "duration"}]}`` (the shape
``autograding-command-grader`` sets as its step output ``result``). It sums ``tests[].score``
and fails the step when a runner's status is ``fail`` or ``error``. Facts: shared reference,
audit-timezones-grading §3.3.

One test per graded task; as the command grader does, a test scores its task's points when
it passes and 0 otherwise (the partial credit is in the message). Tasks not observable are
left out of ``tests`` and of ``max_score`` (failed tests with ``--require-observable``).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from d365lab.labs.reports.common import distinct_hints, graded_points, points
from d365lab.labs.results import LabReport

RESULT_VERSION = 1
#: The step output the reporter's ``<ID>_RESULTS`` variable is set from (``${{ steps.<id>.outputs.result }}``).
STEP_OUTPUT = "result"


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def classroom_result(report: LabReport, *, command: str = "d365lab lab check") -> dict[str, Any]:
    """The runner result document (before base64)."""
    if report.error:
        maximum = _number(report.max_score)
        return {"version": RESULT_VERSION, "status": "error", "max_score": maximum,
                "tests": [{"name": "connect to the tenant", "status": "error", "score": 0,
                           "message": report.error, "test_code": command, "filename": "", "line_no": 0,
                           "duration": 0}]}
    tests = []
    for task in report.tasks:
        if task.status == "not_observable" and not report.require_observable:
            continue
        passed = task.status == "passed"
        message = (task.how_known or "") if passed else (
            f"{points(task.points)}/{points(task.max_points)} — " + " | ".join(distinct_hints(task)))
        tests.append({"name": f"{task.id} {task.title}", "status": "pass" if passed else "fail",
                      "score": _number(task.max_points) if passed else 0, "message": message,
                      "test_code": command, "filename": "", "line_no": 0, "duration": 0})
    _score, maximum = graded_points(report)
    return {"version": RESULT_VERSION, "status": "pass" if report.exit_code == 0 else "fail",
            "max_score": _number(maximum), "tests": tests}


def encode_result(document: dict[str, Any]) -> str:
    """base64 of the compact UTF-8 JSON, as the reporter decodes it."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def render_classroom(report: LabReport) -> str:
    """The base64 runner result on one line (what the ``result`` step output holds)."""
    return encode_result(classroom_result(report)) + "\n"


def publish_classroom_output(text: str, environ: dict[str, str] | None = None) -> Path | None:
    """In a GitHub Actions step, also set the step output ``result`` (as the command grader does).

    Appends ``result=<base64>`` to the file ``$GITHUB_OUTPUT`` names; returns it, or None outside Actions.
    """
    target = (os.environ if environ is None else environ).get("GITHUB_OUTPUT")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{STEP_OUTPUT}={text.strip()}\n")
    return path
