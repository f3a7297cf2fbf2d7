"""Class grading output: per-student report files plus the class summary (terminal, Markdown, CSV)."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from d365lab.labs.reports import render_json, render_junit, render_markdown, render_table
from d365lab.labs.results import LabReport
from d365lab.labs.roster import (
    RosterError,
    Student,
    class_exit_code,
    grade_class,
    read_roster,
    summary_csv,
    summary_markdown,
    summary_rows,
)
from d365lab.labs.spec import LabSpec, Language

_EXTENSIONS = {"table": "txt", "json": "json", "junit": "xml", "markdown": "md"}


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "student"


def write_student_report(report: LabReport, fmt: str, folder: Path) -> Path:
    """Write one student's report into ``folder`` in ``fmt``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(report.student or 'student')}.{_EXTENSIONS[fmt]}"
    if fmt == "table":
        with path.open("w", encoding="utf-8") as handle:
            render_table(report, Console(file=handle, width=120, color_system=None))
    else:
        text = {"json": render_json, "junit": render_junit, "markdown": render_markdown}[fmt](report)
        path.write_text(text, encoding="utf-8")
    return path


def print_summary(lab: LabSpec, graded: list[tuple[Student, LabReport]], console: Console) -> None:
    """The class summary as a terminal table."""
    table = Table(title=f"{lab.lab.id} — class summary")
    for column in ("student", "tenant", "score", "passed", "failed_tasks", "error"):
        table.add_column(column)
    for row in summary_rows(graded):
        style = "green" if row["passed"] == "yes" else "red" if row["passed"] == "no" else "yellow"
        table.add_row(row["student"], row["tenant"], f"{row['score']}/{row['max_score']}", row["passed"],
                      row["failed_tasks"], row["error"], style=style)
    console.print(table)


def grade_roster(lab: LabSpec, roster: Path, *, lang: Language, upto: str | None, time_zone: str | None,
                 fmt: str, output: Path | None, parallel: int, reports_dir: Path) -> int:
    """``lab check --roster``: grade, write one report per student, print/write the summary; exit code."""
    console = Console(highlight=False)
    try:
        students = read_roster(roster)
    except (OSError, RosterError) as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False)
        return 2

    def progress(student: Student, report: LabReport) -> None:
        path = write_student_report(report, fmt, reports_dir)
        state = "could not check" if report.error else f"{report.score:g}/{report.max_score:g}"
        console.print(f"{student.name}: {state} -> {path}", markup=False)

    graded = grade_class(lab, students, lang=lang, upto=upto, time_zone=time_zone, parallel=parallel,
                         on_report=progress)
    print_summary(lab, graded, console)
    if output is not None:
        if output.suffix.lower() == ".csv":
            output.write_text(summary_csv(graded), encoding="utf-8")
        elif output.suffix.lower() == ".xml" or fmt == "junit":
            output.write_text(render_junit([r for _, r in graded]), encoding="utf-8")
        else:
            output.write_text(summary_markdown(lab, graded), encoding="utf-8")
        console.print(f"class summary written to {output}", markup=False)
    return class_exit_code(graded)
