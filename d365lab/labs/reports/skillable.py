"""Skillable (Lab on Demand) scoring-script output: the partial score, then pass/fail as the last value.

Skillable keeps a script's text output as evidence and takes the **last** ``True``/``False``
printed as the activity's result; a partial score is given to ``setActivityResult(0.5)`` /
``set_activity_result .5`` as a fraction 0-1. So the output ends with ``score_fraction <0-1>``
and then ``True`` or ``False`` alone on the last line. Facts: shared reference,
audit-timezones-grading §3.1.
"""

from __future__ import annotations

from d365lab.labs.reports.common import counts_as_failed, distinct_hints, graded_points, points, status_word
from d365lab.labs.results import LabReport


def score_fraction(report: LabReport) -> float:
    """The partial score as Skillable's ``setActivityResult`` takes it: graded points over the maximum, 0-1."""
    if report.error:
        return 0.0
    score, maximum = graded_points(report)
    return round(score / maximum, 4) if maximum else 1.0


def render_skillable(report: LabReport) -> str:
    """One line per task (status, points, hints), the score, the fraction, then ``True``/``False``."""
    lines: list[str] = []
    if report.error:
        lines.append(f"could not check: {report.error}")
    else:
        for task in report.tasks:
            line = f"{task.id} {status_word(task, report.language)} {points(task.points)}/{points(task.max_points)}"
            if counts_as_failed(task, report):
                line += " — " + " | ".join(distinct_hints(task))
            elif task.status == "not_observable":
                line += f" (not graded) — {task.how_known or ''}"
            lines.append(" ".join(line.split()))
        score, maximum = graded_points(report)
        lines.append(f"score {points(score)}/{points(maximum)}")
    lines.append(f"score_fraction {score_fraction(report):g}")
    lines.append("True" if report.exit_code == 0 else "False")
    return "\n".join(lines) + "\n"
