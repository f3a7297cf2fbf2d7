"""A Markdown report (for a pull request, a wiki, or a student's feedback page)."""

from __future__ import annotations

from d365lab.labs.reports.common import check_line, notable_checks, points, status_word
from d365lab.labs.results import LabReport
from d365lab.labs.wording import say


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: LabReport) -> str:
    """The report as Markdown: header, score table, then evidence and hints."""
    lang = report.language
    colon = say(lang, "colon")  # "Score : 15" in French, "Score: 15" in English
    lines = [f"# {report.lab_title}", ""]
    if report.student:
        lines.append(f"- {say(lang, 'student')}{colon}{report.student}")
    lines += [f"- {say(lang, 'tenant')}{colon}{report.tenant}", f"- {say(lang, 'language')}{colon}{report.language}",
              f"- {say(lang, 'checked_at')}{colon}{report.checked_at} ({say(lang, 'time_zone')} "
              f"{report.time_zone or '-'})"]
    if report.prefix:
        lines.append(f"- {say(lang, 'prefix')}{colon}{report.prefix}")
    if report.error:
        lines += ["", f"**{say(lang, 'could_not_check')}{colon.rstrip()}** {report.error}", ""]
        return "\n".join(lines)
    verdict = say(lang, "passed" if report.passed else "failed")
    lines += [f"- **{say(lang, 'score')}{colon}{points(report.score)} / {points(report.max_score)}** ({verdict})", "",
              f"| {say(lang, 'task')} | {say(lang, 'title')} | {say(lang, 'result')} | {say(lang, 'points')} |",
              "|---|---|---|---:|"]
    for task in report.tasks:
        lines.append(f"| {task.id} | {_cell(task.title)} | {status_word(task, lang)} | "
                     f"{points(task.points)}/{points(task.max_points)} |")
    details = [t for t in report.tasks if notable_checks(t) or t.how_known]
    if details:
        lines += ["", f"## {say(lang, 'details')}", ""]
    for task in details:
        lines.append(f"### {task.id} {task.title}")
        lines.append("")
        if task.how_known:
            lines.append(f"- {task.how_known}")
        for check in notable_checks(task):
            lines.append(f"- `{_cell(check_line(check, lang))}`")
            if check.hint:
                lines.append(f"  - {say(lang, 'hint')}{colon}{check.hint}")
        if task.hint and task.status != "passed":
            lines.append(f"- **{task.hint}**")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
