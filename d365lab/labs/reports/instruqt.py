"""Instruqt's check-script contract: the exit code decides, a ``FAIL: `` line says why.

Instruqt runs ``check-<host>`` when the learner presses Check: exit code 0 passes, any
other fails, and a stdout line starting ``FAIL: `` is shown to the learner (prefix
stripped). The check must end within Instruqt's one-minute limit (``lab check`` gives up
earlier, see ``INSTRUQT_MAX_SECONDS``). Facts: shared reference, audit-timezones-grading §3.2.
"""

from __future__ import annotations

from d365lab.labs.reports.common import distinct_hints, failed_tasks, first_failure_message, graded_points, points
from d365lab.labs.results import LabReport

#: Instruqt stops a check script after 60 s with no retry; ``lab check --format instruqt`` gives up
#: (exit 2, with its ``FAIL:`` line) after this many seconds unless ``--max-time`` says otherwise.
INSTRUQT_MAX_SECONDS = 45.0
FAIL_PREFIX = "FAIL: "


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_instruqt(report: LabReport) -> str:
    """First line ``FAIL: <first failing hint>`` when the check fails; then one line per failed task and the score.

    Only the first line starts with ``FAIL: ``, so whichever line Instruqt shows is that one.
    A passing check prints no ``FAIL:`` line at all.
    """
    lines: list[str] = []
    message = first_failure_message(report) if report.exit_code != 0 else None
    if message is not None:
        lines.append(FAIL_PREFIX + _one_line(message))
    if not report.error:
        for task in failed_tasks(report):
            hints = " | ".join(_one_line(h) for h in distinct_hints(task))
            lines.append(f"{task.id} {_one_line(task.title)} — {hints}")
        for task in (t for t in report.tasks if t.status == "not_observable" and not report.require_observable):
            lines.append(f"{task.id} not observable (not graded): {_one_line(task.how_known or '')}".rstrip(": "))
        score, maximum = graded_points(report)
        lines.append(f"score {points(score)}/{points(maximum)}")
    return "\n".join(lines) + "\n"
