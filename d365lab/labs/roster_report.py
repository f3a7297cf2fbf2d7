"""Class grading output: per-student report files plus the class summary (terminal, Markdown, CSV)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from d365lab.labs.audit_settle import AuditSettle
from d365lab.labs.outputs import OutputError, check_replaceable_file, terminal_console
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
    summary_text_rows,
)
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.watch_journal import write_atomically

_EXTENSIONS = {"table": "txt", "json": "json", "junit": "xml", "markdown": "md"}
#: ``--output`` suffixes of the class summary (the suffix picks the format).
SUMMARY_SUFFIXES = (".md", ".markdown", ".csv", ".xml", ".json")


def check_summary_output(output: Path) -> None:
    """Raise :class:`OutputError` unless ``output`` names a class summary format and can be written.

    Called before any request (``lab check --roster`` and ``--watch --roster``).
    """
    if output.suffix.lower() not in SUMMARY_SUFFIXES:
        raise OutputError(f"cannot tell the class summary format of --output {output} (suffix "
                          f"{output.suffix or 'none'}; known: {', '.join(SUMMARY_SUFFIXES)})")
    check_replaceable_file(output)


def render_summary(lab: LabSpec, graded: list[tuple[Student, LabReport]], output: Path) -> str:
    """The class summary in the format ``output``'s suffix names (Markdown for ``.md`` / ``.markdown``)."""
    suffix = output.suffix.lower()
    if suffix == ".csv":
        return summary_csv(graded)
    if suffix == ".xml":
        return render_junit([r for _, r in graded])
    if suffix == ".json":
        document = {"lab_id": lab.lab.id, "exit_code": class_exit_code(graded), "students": summary_rows(graded)}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return summary_markdown(lab, graded)


def write_summary(lab: LabSpec, graded: list[tuple[Student, LabReport]], output: Path) -> None:
    """Replace ``output`` with the class summary atomically (a reader sees the old file or the new one)."""
    write_atomically(output, render_summary(lab, graded, output))


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "student"


def report_file_names(students: list[Student], fmt: str) -> dict[str, str]:
    """Student name -> report file name, unique even when names slug alike ("A/B", "A B").

    Compared case-insensitively (some file systems are): the second "a-b" becomes "a-b-2".
    """
    taken: set[str] = set()
    names: dict[str, str] = {}
    for student in students:
        base = _slug(student.name)
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate.lower())
        names[student.name] = f"{candidate}.{_EXTENSIONS[fmt]}"
    return names


def write_student_report(report: LabReport, fmt: str, folder: Path, file_name: str | None = None) -> Path:
    """Write one student's report into ``folder`` in ``fmt`` (as ``file_name``); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (file_name or f"{_slug(report.student or 'student')}.{_EXTENSIONS[fmt]}")
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
    for row in summary_text_rows(graded):
        style = "green" if row["passed"] == "yes" else "red" if row["passed"] == "no" else "yellow"
        table.add_row(row["student"], row["tenant"], f"{row['score']}/{row['max_score']}", row["passed"],
                      row["failed_tasks"], row["error"], style=style)
    console.print(table)


def grade_roster(lab: LabSpec, roster: Path, *, lang: Language, upto: str | None, time_zone: str | None,
                 fmt: str, output: Path | None, parallel: int, reports_dir: Path, quiet: bool = False,
                 require_observable: bool = False, audit_settle: AuditSettle | None = None) -> int:
    """``lab check --roster``: grade, write one report per student, print/write the summary; exit code."""
    console = terminal_console()
    try:
        students = read_roster(roster)
    except (OSError, RosterError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f"{roster}: " if isinstance(exc, OSError) else ""
        terminal_console(stderr=True).print(f"error: {where}{reason}", markup=False)
        return 2
    file_names = report_file_names(students, fmt)
    for student in students:
        if student.error:
            terminal_console(stderr=True).print(f"error: {student.name}: {student.error}", markup=False)

    def progress(student: Student, report: LabReport) -> None:
        path = write_student_report(report, fmt, reports_dir, file_names[student.name])
        state = "could not check" if report.error else f"{report.score:g}/{report.max_score:g}"
        if not quiet:
            console.print(f"{student.name}: {state} -> {path}", markup=False)

    graded = grade_class(lab, students, lang=lang, upto=upto, time_zone=time_zone, parallel=parallel,
                         on_report=progress, require_observable=require_observable, audit_settle=audit_settle)
    print_summary(lab, graded, console)
    if output is not None:
        write_summary(lab, graded, output)
        console.print(f"class summary written to {output}", markup=False)
    return class_exit_code(graded)
