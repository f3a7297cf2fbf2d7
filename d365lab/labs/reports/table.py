"""The score table printed in a terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from d365lab.labs.reports.common import check_line, notable_checks, points, status_word
from d365lab.labs.results import LabReport
from d365lab.labs.wording import say

_STYLE = {"passed": "green", "failed": "bold red", "not_observable": "yellow"}


def render_table(report: LabReport, console: Console, *, details: bool = True) -> None:
    """Print the score table, then the evidence and hints of what did not pass."""
    lang = report.language
    title = f"{report.lab_title} — {report.student + ' — ' if report.student else ''}{report.tenant}"
    if report.error:
        reason = f"{say(lang, 'could_not_check')}{say(lang, 'colon')}{report.error}"
        console.print(Text(f"{title}\n{reason}", style="bold red"))
        return
    table = Table(title=title, show_lines=False)
    table.add_column(say(lang, "task"), no_wrap=True)
    table.add_column(say(lang, "title"))
    table.add_column(say(lang, "result"), no_wrap=True)
    table.add_column(say(lang, "points"), justify="right", no_wrap=True)
    for task in report.tasks:
        table.add_row(task.id, task.title, Text(status_word(task, lang), style=_STYLE[task.status]),
                      f"{points(task.points)}/{points(task.max_points)}")
    table.add_section()
    total_style = "bold green" if report.passed else "bold red"
    verdict = say(lang, "passed" if report.passed else "failed")
    table.add_row("", say(lang, "score"), Text(verdict, style=total_style),
                  Text(f"{points(report.score)}/{points(report.max_score)}", style=total_style))
    console.print(table)
    if not details:
        return
    for task in report.tasks:
        shown = notable_checks(task)
        if not shown and not task.how_known:
            continue
        console.print(Text(f"{task.id} {task.title}", style=_STYLE[task.status]))
        if task.how_known:
            console.print(f"  {task.how_known}", markup=False)
        for check in shown:
            console.print(f"  {check_line(check, lang)}", markup=False)
            if check.hint:
                console.print(f"    {say(lang, 'hint')}{say(lang, 'colon')}{check.hint}", markup=False)
        if task.hint and task.status != "passed":
            console.print(f"  → {task.hint}", markup=False)
    for alias, found in report.records.items():
        if found.candidates > 1 or "lenient" in found.how:
            console.print(f"{alias}{say(lang, 'colon')}{found.how}", markup=False, style="dim")
    if report.http_requests is not None:
        console.print(say(lang, "http_requests", count=report.http_requests), style="dim")
