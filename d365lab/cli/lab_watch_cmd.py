"""``lab check --watch`` and the check deadline: the glue between the CLI and labs/watch*.py, labs/board.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from d365lab.labs.board import board_rows, board_table, render_board_html, write_board
from d365lab.labs.outputs import OutputError, check_writable_file, ensure_writable_dir, terminal_console
from d365lab.labs.results import LabReport
from d365lab.labs.roster import RosterError, Student, class_exit_code, read_roster
from d365lab.labs.spec import LabSpec, Language, localize
from d365lab.labs.watch import ClassWatch, WatchedStudent, WatchOptions, WatchRound, run_watch
from d365lab.labs.watch_journal import WatchEvent

#: The watch's lines, in the lab language (English for any other).
WORDS: dict[str, dict[str, str]] = {
    "en": {"passed": "passed", "failed": "failed", "not_observable": "not observable", "task": "task", "colon": ": ",
           "round": "round {n} at {at}: {requests} requests ({each:.1f} per student)",
           "throttled": "; throttled, next round in {seconds:g} s",
           "stopped": "watch stopped ({reason}) after {n} round(s)", "board": "class board: {path}",
           "complete": "complete", "max_time": "--max-time", "interrupted": "interrupted"},
    "fr": {"passed": "réussie", "failed": "échec", "not_observable": "non observable", "task": "tâche", "colon": " : ",
           "round": "tour {n} à {at} : {requests} requêtes ({each:.1f} par stagiaire)",
           "throttled": " ; limité par le service, tour suivant dans {seconds:g} s",
           "stopped": "surveillance arrêtée ({reason}) après {n} tour(s)", "board": "tableau de la classe : {path}",
           "complete": "tout est réussi", "max_time": "--max-time", "interrupted": "interrompue"},
}


class DeadlineExceededError(TimeoutError):
    """The check did not finish within ``--max-time`` seconds."""


def check_within(seconds: float | None, work: Callable[[], LabReport]) -> LabReport:
    """``work()``, or :class:`DeadlineExceededError` once ``seconds`` have passed (the work is left behind).

    A platform's check script has a hard time limit (Instruqt: 60 s); giving up a little before
    it still prints our own ``FAIL:`` line and exit code instead of being killed silently.
    """
    if seconds is None:
        return work()
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["report"] = work()
        except BaseException as exc:  # handed to the caller's thread as is
            box["error"] = exc

    worker = threading.Thread(target=target, name="lab-check", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeadlineExceededError(f"the check did not finish within {seconds:g} s (--max-time); the tenant is slow "
                               "or throttling")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    report = box["report"]
    assert isinstance(report, LabReport)
    return report


def _clock(at: str) -> str:
    return at[11:19] if len(at) >= 19 else at


def describe_event(watched: WatchedStudent, event: WatchEvent, lab: LabSpec) -> str:
    """One line for a watch event: a task turning green, a status change, a record's state change."""
    who = f"{watched.student.name}: " if watched.student.name else ""
    when = _clock(event.at)
    words = WORDS[watched.language]
    if event.kind == "passed":
        task = next((t for t in lab.tasks if t.id == event.subject), None)
        title = str(localize(task.title, watched.language)) if task else ""
        return f"{when} {who}{event.subject} {words['passed']} — {title}".rstrip(" —")
    if event.kind == "status":
        subject = event.subject.replace("task ", f"{words['task']} ", 1)
        return (f"{when} {who}{subject}{words['colon']}{words.get(str(event.old), event.old)} -> "
                f"{words.get(str(event.new), event.new)}")
    return f"{when} {who}{event.subject}{words['colon']}{event.old} -> {event.new}"


def check_class_outputs(summary: Path | None, board: Path, reports_dir: Path) -> None:
    """Before any request: the class summary (``--output``), the reports folder and the board can be written.

    Raises :class:`OutputError` naming the first that cannot.
    """
    from d365lab.labs.roster_report import check_summary_output

    if summary is not None:
        check_summary_output(summary)
        if summary.resolve() == board.resolve():
            raise OutputError(f"--output and --board name the same file ({summary})")
    ensure_writable_dir(reports_dir)
    check_writable_file(board, "--board")


def _graded(watched: list[WatchedStudent]) -> list[tuple[Student, LabReport]]:
    return [(w.student, w.report) for w in watched if w.report is not None]


def _write_class_summary(lab: LabSpec, watched: list[WatchedStudent], summary: Path) -> bool:
    """The class summary of the latest reports, written atomically; False (one error line) when it cannot be."""
    from d365lab.labs.roster_report import write_summary

    try:
        write_summary(lab, _graded(watched), summary)
    except OSError as exc:
        terminal_console(stderr=True).print(f"error: cannot write --output {summary}: {exc.strerror or exc}",
                                            markup=False)
        return False
    return True


def watch_students(lab: LabSpec, students: list[Student], *, language: Language, options: WatchOptions,
                   board: Path | None, quiet: bool, show_table: bool,
                   after_round: Callable[[list[WatchedStudent]], object] | None = None,
                   ) -> tuple[list[WatchedStudent], str]:
    """Watch ``students`` until the options say stop (or Ctrl-C); return their last state and why it stopped.

    ``after_round`` gets the students' latest state after each round (after the board is written).
    """
    err = terminal_console(stderr=True)
    out = terminal_console()
    words = WORDS[language]
    refresh = max(options.interval, 1.0)

    def on_round(current: WatchRound) -> None:
        for watched, event in current.events:
            err.print(describe_event(watched, event, lab), markup=False, style="green" if event.kind == "passed"
                      else None)
        if not quiet:
            line = words["round"].format(n=current.number, at=_clock(current.at), requests=current.requests,
                                         each=current.requests_per_student)
            if current.throttled_for:
                line += words["throttled"].format(seconds=current.throttled_for)
            err.print(line, markup=False, style="dim")
        rows = board_rows(lab, watch.watched, options.upto)
        if board is not None:
            write_board(board, render_board_html(lab, rows, language=language, round_number=current.number,
                                                 updated_at=current.at, refresh_seconds=refresh, upto=options.upto))
        if after_round is not None:
            after_round(watch.watched)
        if show_table and (current.number == 1 or current.events):
            out.print(board_table(lab, rows, language=language, round_number=current.number,
                                  updated_at=current.at, upto=options.upto))

    with ClassWatch(lab, students, lang=language, options=options) as watch:
        try:
            reason = run_watch(watch, on_round=on_round)
        except KeyboardInterrupt:
            reason = "interrupted"
        if not quiet:
            err.print(words["stopped"].format(reason=words[reason], n=watch.rounds), markup=False, style="dim")
        return watch.watched, reason


def watch_one(lab: LabSpec, language: Language, prefix: str, options: WatchOptions, *, quiet: bool,
              emit: Callable[[LabReport], None]) -> int:
    """``lab check --watch`` for one student: events while watching, then the last report; its exit code."""
    watched, _reason = watch_students(lab, [Student(name="", prefix=prefix)], language=language, options=options,
                                      board=None, quiet=quiet, show_table=False)
    report = watched[0].report
    if report is None:  # interrupted before the first round ended
        return 2
    emit(report)
    return report.exit_code


def watch_roster(lab: LabSpec, language: Language, roster: Path, options: WatchOptions, *, board: Path,
                 reports_dir: Path, fmt: str, quiet: bool, console: Console | None = None,
                 summary: Path | None = None) -> int:
    """``lab check --watch --roster``: the live class board, then one report per student; the class exit code.

    With ``summary`` (``--output``) the class summary file of ``lab check --roster`` is rewritten after
    every round and a last time when the watch ends.
    """
    from d365lab.labs.roster_report import print_summary, report_file_names, write_student_report

    try:
        students = read_roster(roster)
    except (OSError, RosterError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        terminal_console(stderr=True).print(f"error: {roster}: {reason}", markup=False)
        return 2

    def after_round(watched: list[WatchedStudent]) -> None:
        if summary is not None:
            _write_class_summary(lab, watched, summary)

    watched, _reason = watch_students(lab, students, language=language, options=options, board=board, quiet=quiet,
                                      show_table=True, after_round=after_round)
    graded = _graded(watched)
    names = report_file_names(students, fmt)
    for student, report in graded:
        write_student_report(report, fmt, reports_dir, names[student.name])
    out = console or terminal_console()
    print_summary(lab, graded, out)
    summary_failed = summary is not None and not _write_class_summary(lab, watched, summary)
    if summary is not None and not summary_failed:
        out.print(f"class summary written to {summary}", markup=False)
    terminal_console(stderr=True).print(WORDS[language]["board"].format(path=board), markup=False)
    if len(graded) < len(students) or summary_failed:
        return 2
    return class_exit_code(graded)
