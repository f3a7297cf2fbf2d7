"""``d365lab lab``: run a lab, check it, grade a class, seed and clean up a tenant."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import typer
from rich.console import Console

from d365lab.cli.lab_chores_cmd import check_roster, cleanup_roster, prepare_one, prepare_roster, seed_roster
from d365lab.cli.lab_watch_cmd import check_class_outputs, check_within
from d365lab.errors import DataverseError, describe_error
from d365lab.labs import checker as lab_checker
from d365lab.labs.audit_settle import AUDIT_SETTLE_ENV, DEFAULT_AUDIT_SETTLE, AuditSettle
from d365lab.labs.cleanup import cleanup_lab
from d365lab.labs.loader import DEFAULT_LAB, load_lab
from d365lab.labs.outputs import (
    OutputError,
    check_writable_file,
    choose_format,
    terminal_console,
)
from d365lab.labs.reports import FORMATS, PLATFORM_FORMATS, TEXT_RENDERERS, render_table
from d365lab.labs.reports.classroom import publish_classroom_output
from d365lab.labs.reports.instruqt import INSTRUQT_MAX_SECONDS
from d365lab.labs.results import LabReport
from d365lab.labs.run_journal import RunJournalError, lock_wait_seconds
from d365lab.labs.runner import run_lab
from d365lab.labs.spec import LANGUAGES, LabSpec, Language, clean_prefix
from d365lab.labs.steps import LabRunError
from d365lab.labs.timeutil import now_utc, resolve_time_zone, to_wire
from d365lab.labs.watch import WatchOptions
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

lab_app = typer.Typer(help="Run a lab as code (lab 2.1 unless --lab NAME|PATH), check a student's work, grade a class, "
                              "seed and clean up.",
                      no_args_is_help=True)

EXIT_ERROR = lab_checker.EXIT_ERROR

_LANG = typer.Option(None, "--lang", help="Lab language: fr (default) or en.")
_PREFIX = typer.Option("", "--prefix", help="Prefix of the lab's lead topics on a shared tenant.")
_TZ = typer.Option(None, "--timezone", help="IANA time zone of the lab user (env D365LAB_TIMEZONE; default: the "
                                          "user's own time zone in the tenant, else the lab's for the language).")
_LAB = typer.Option(DEFAULT_LAB, "--lab", help="Lab key (a file in the labs folder, e.g. lab-2.1) or a lab YAML file.")
_FORMAT = typer.Option(None, "--format",
                       help="table | json | junit | markdown, or a lab platform's: instruqt | skillable | classroom "
                            "(docs/lab-platforms.md; default: from the --output suffix, else table).")
_OUTPUT = typer.Option(None, "--output", help="Write the report to this file instead of the terminal "
                                              "(.json, .xml, .md, .txt pick the format).")
_CHECK_OUTPUT = typer.Option(None, "--output", help="Write the report to this file instead of the terminal (.json, "
                             ".xml, .md, .txt pick the format); with --roster the class summary (.md, .csv, .xml, "
                             ".json), with --watch rewritten after every round.")
_QUIET = typer.Option(False, "--quiet", "-q", help="Do not print progress lines.")
_REQUIRE_OBSERVABLE = typer.Option(False, "--require-observable",
                                   help="Count a task no source can observe (e.g. ex2.t3 without audit or "
                                        "journal) as failed instead of leaving it out of the score.")
_AUDIT_SETTLE = typer.Option(DEFAULT_AUDIT_SETTLE, "--audit-settle", min=0.0, envvar=AUDIT_SETTLE_ENV,
                             show_envvar=True,
                             help="Audit rows can show late on a real tenant: when a task proven only by the audit "
                                  "(e.g. ex2.t3) would fail or be not observable and auditing is on, read the audit "
                                  "again for up to this many seconds (pauses of 1, 2, 4... s). 0: never wait. A check "
                                  "where every task passed, or auditing is off, never waits.")
_ROSTER = typer.Option(None, "--roster", help="Grade a class: CSV with one row per student (see docs/labs.md).")
_REPORTS_DIR = typer.Option(Path("lab-reports"), "--reports-dir", help="Folder for one report per student (--roster).")
_WATCH = typer.Option(False, "--watch", help="Check again every --interval seconds while the lab is being done: "
                      "print each task as it turns green and keep a watch journal (it proves a state a later task "
                      "undoes); with --roster, a live class board (and with --output the class summary file). "
                      "A round is one check: about 12 requests a student.")
_INTERVAL = typer.Option(30.0, "--interval", min=0.1, help="Seconds between --watch rounds.")
_UNTIL_COMPLETE = typer.Option(False, "--until-complete", help="Stop watching once every task passed.")
_MAX_TIME = typer.Option(None, "--max-time", min=0.0, help="Stop watching after this many seconds; without --watch, "
                         "give up a check still running after them (exit 2). Default with --format instruqt: 45.")
_BOARD = typer.Option(None, "--board", help="The class board HTML file (--watch --roster; default "
                      "<reports-dir>/board.html).")


def register(app: typer.Typer) -> None:
    """Add the ``lab`` sub-app to the root CLI."""
    app.add_typer(lab_app, name="lab")


def in_language(exc: Exception, lang: str) -> str:
    """An error's message in the lab language, when it has one (journal errors); else as raised."""
    return exc.in_language(lang) if isinstance(exc, RunJournalError) else str(exc)


def _err_console() -> Console:
    return terminal_console(stderr=True)


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    _err_console().print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _load(lab_name: str, lang: str | None, fmt: str | None = None) -> tuple[LabSpec, Language]:
    """The lab and language; ``ValueError`` (or ``FileNotFoundError``) naming a bad input."""
    lab = load_lab(lab_name)
    chosen = lang or lab.lab.default_language
    for known in LANGUAGES:
        if chosen == known:
            if fmt is not None and fmt not in FORMATS:
                raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
            return lab, known
    raise ValueError(f"unknown language {chosen!r}; choose one of {', '.join(LANGUAGES)}")


def _setup(lab_name: str, lang: str | None, fmt: str | None = None) -> tuple[LabSpec, Language]:
    try:
        return _load(lab_name, lang, fmt)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None


def _input_failure(message: str, fmt: str | None, output: Path | None, *, lab_name: str, lang: str | None,
                   prefix: str, upto: str | None) -> typer.Exit:
    """Exit 2 for a bad input; with a JSON/JUnit report asked for, also the error document a platform parses."""
    failure = _fail(message)
    try:
        chosen = choose_format(fmt, output)
    except OutputError:
        return failure
    if chosen not in ("json", "junit"):
        return failure
    try:
        lab: LabSpec | None = load_lab(lab_name)
    except (FileNotFoundError, ValueError):
        lab = None
    language = lang if lang in LANGUAGES else (lab.lab.default_language if lab else "")
    report = LabReport(lab_id=lab.lab.id if lab else lab_name, lab_title=str(lab.lab.title.get("en", "")) if lab
                       else lab_name, tenant="not contacted", language=language or "", prefix=prefix,
                       time_zone="", upto=upto or "", checked_at=to_wire(now_utc()), error=message,
                       exit_code=EXIT_ERROR)
    try:
        if output is not None:
            check_writable_file(output)
        emit_report(report, chosen, output)
    except (OutputError, OSError):
        pass  # the error line on stderr still says what is wrong
    return failure


def _report_target(fmt: str | None, output: Path | None) -> str:
    """The report format (inferred from ``--output``), with the output file checked before any request."""
    try:
        chosen = choose_format(fmt, output)
        if output is not None:
            check_writable_file(output)
    except OutputError as exc:
        raise _fail(str(exc)) from None
    return chosen


def _connect(**client_options: Any) -> DataverseClient:
    from d365lab.connect import connect

    return connect(**client_options)


def _client_options(fmt: str) -> dict[str, Any]:
    """Instruqt kills a check after 60 s: fewer, shorter retries so a dead tenant is reported in seconds."""
    if fmt != "instruqt":
        return {}
    from d365lab.transport import RetryPolicy

    return {"retry": RetryPolicy(max_attempts=3, max_total_wait=15)}


def emit_report(report: LabReport, fmt: str, output: Path | None) -> None:
    """Print or write one report in the chosen format."""
    if fmt == "table":
        if output is not None:
            with output.open("w", encoding="utf-8") as handle:
                render_table(report, Console(file=handle, width=120, color_system=None))
            return
        render_table(report, terminal_console())
        return
    text = TEXT_RENDERERS[fmt](report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if fmt == "classroom":
        publish_classroom_output(text)


def _only_exercise(lab: LabSpec, report: LabReport, exercise: str | None) -> None:
    if exercise in (None, "all"):
        return
    keep = {t.id for ex in lab.select_exercises(exercise) for t in ex.tasks}
    report.tasks = [t for t in report.tasks if t.id in keep]
    lab_checker.finish_report(report)


def _progress(quiet: bool) -> Callable[[str], None]:
    console = _err_console()
    return (lambda _msg: None) if quiet else (lambda msg: console.print(msg, markup=False))


def do_run(lab_name: str, exercise: str | None, lang: str | None, prefix: str, time_zone: str | None,
           check: bool, fmt: str | None, output: Path | None, quiet: bool, upto: str | None = None) -> int:
    """Run (part of) a lab, then optionally check it; return the exit code."""
    lab, language = _setup(lab_name, lang, fmt)
    if not check and (fmt is not None or output is not None):
        raise _fail("--format and --output describe the check's report: add --check (or use 'lab check')")
    chosen_format = _report_target(fmt, output)
    try:
        lab.select_exercises(exercise)
        resolve_time_zone(lab, language, time_zone)  # a bad name fails before any request
        if upto is not None:
            lab.resolve_upto(upto)
        lock_wait_seconds()  # so does a bad D365LAB_LAB_LOCK_WAIT (a ConfigurationError, also a ValueError)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    log = _progress(quiet)
    try:
        with _connect() as client:
            summary = run_lab(client, lab, lang=language, prefix=prefix, time_zone=time_zone, exercise=exercise,
                              upto=upto, log=log)
            log(say(language, "steps_done", performed=summary.performed, skipped=summary.skipped,
                    journal=summary.journal_path))
            log(say(language, "time_zone_used", zone=summary.time_zone, source=summary.time_zone_source))
            if summary.done_beyond:
                raise _fail(say(language, "beyond_upto", upto=upto, done=", ".join(summary.done_beyond)))
            if not check:
                log(say(language, "http_requests", count=client.request_count))
                return 0
            # after exercise N alone, grade the lab as it stands right after exercise N
            last = upto or (lab.select_exercises(exercise)[-1].tasks[-1].id if exercise not in (None, "all") else None)
            report = lab_checker.check_lab(client, lab, lang=language, prefix=prefix, time_zone=time_zone,
                                           upto=last)
    except (LabRunError, RunJournalError) as exc:
        raise _fail(in_language(exc, language)) from None
    except (DataverseError, requests.RequestException, OSError) as exc:
        raise _fail(describe_error(exc)) from None
    emit_report(report, chosen_format, output)
    return report.exit_code


@lab_app.command("run")
def run_command(
    exercise: str = typer.Option("all", "--exercise", help="1 | 2 | 3 | all."),
    lang: str | None = _LANG, prefix: str = _PREFIX, time_zone: str | None = _TZ,
    check: bool = typer.Option(False, "--check", help="Check the lab afterwards and print the score table."),
    fmt: str | None = _FORMAT, output: Path | None = _OUTPUT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print each step."),
    lab_name: str = _LAB,
) -> None:
    """Do what the lab asks a student to do (idempotent: finished steps are skipped)."""
    raise typer.Exit(do_run(lab_name, exercise, lang, prefix, time_zone, check, fmt, output, quiet))


@lab_app.command("check")
def check_command(
    exercise: str = typer.Option("all", "--exercise", help="Report only this exercise: 1 | 2 | 3 | all."),
    upto: str | None = typer.Option(None, "--upto", help="Grade the state right after this task (e.g. ex2.t3)."),
    lang: str | None = _LANG, prefix: str = _PREFIX, time_zone: str | None = _TZ,
    fmt: str | None = _FORMAT, output: Path | None = _CHECK_OUTPUT,
    roster: Path | None = _ROSTER,
    parallel: int = typer.Option(4, "--parallel", min=1,
                                 help="Students graded at a time (--roster), sharing a tenant or not."),
    reports_dir: Path = _REPORTS_DIR,
    no_journal: bool = typer.Option(False, "--no-journal", help="Ignore the local run journal."),
    require_observable: bool = _REQUIRE_OBSERVABLE,
    quiet: bool = _QUIET,
    lab_name: str = _LAB,
    watch: bool = _WATCH, interval: float = _INTERVAL, until_complete: bool = _UNTIL_COMPLETE,
    max_time: float | None = _MAX_TIME, board: Path | None = _BOARD,
    audit_settle: float = _AUDIT_SETTLE,
) -> None:
    """Grade the tenant: every expectation, with points, evidence and hints. Exit 0 / 1 / 2."""
    prefix = clean_prefix(prefix)
    try:
        lab, language = _load(lab_name, lang, fmt)
        lab.resolve_upto(upto)
        lab.select_exercises(exercise)
        resolve_time_zone(lab, language, time_zone)  # --timezone or D365LAB_TIMEZONE, before any request
    except (FileNotFoundError, ValueError) as exc:
        if roster is not None:
            raise _fail(str(exc)) from None
        raise _input_failure(str(exc), fmt, output, lab_name=lab_name, lang=lang, prefix=prefix,
                             upto=upto) from None
    if (board is not None or until_complete) and not watch:
        raise _fail("--board and --until-complete go with --watch")
    if roster is not None and fmt in PLATFORM_FORMATS:
        raise _fail(f"--format {fmt} is one learner's check script; with --roster use table, json, junit or markdown")
    if watch:
        raise typer.Exit(_watch(lab, language, prefix, roster, fmt, output, reports_dir, board, quiet,
                                WatchOptions(interval=interval, until_complete=until_complete, max_time=max_time,
                                             upto=upto, time_zone=time_zone, parallel=parallel,
                                             use_journal=not no_journal,
                                             require_observable=require_observable)))
    if roster is not None:
        raise typer.Exit(check_roster(lab, language, roster, upto=upto, time_zone=time_zone, fmt=fmt or "table",
                                      output=output, parallel=parallel, reports_dir=reports_dir, quiet=quiet,
                                      require_observable=require_observable,
                                      audit_settle=AuditSettle(audit_settle)))
    chosen_format = _report_target(fmt, output)

    def check() -> LabReport:
        with _connect(**_client_options(chosen_format)) as client:
            report = lab_checker.check_lab(client, lab, lang=language, prefix=prefix, time_zone=time_zone,
                                           upto=upto, use_journal=not no_journal,
                                           require_observable=require_observable,
                                           audit_settle=AuditSettle(audit_settle))
        return report

    try:
        report = check_within(INSTRUQT_MAX_SECONDS if max_time is None and chosen_format == "instruqt" else max_time,
                              check)
    except (RunJournalError, DataverseError, requests.RequestException, OSError) as exc:
        reason = in_language(exc, language) if isinstance(exc, RunJournalError) else describe_error(exc)
        report = lab_checker.error_report(lab, language, "configured tenant", reason, prefix=prefix, upto=upto)
        _err_console().print(f"error: could not check: {report.error}", markup=False)
        if chosen_format == "table":
            raise typer.Exit(EXIT_ERROR) from None
    _only_exercise(lab, report, exercise)
    emit_report(report, chosen_format, output)
    raise typer.Exit(report.exit_code)


def _watch(lab: LabSpec, language: Language, prefix: str, roster: Path | None, fmt: str | None, output: Path | None,
           reports_dir: Path, board: Path | None, quiet: bool, options: WatchOptions) -> int:
    """``lab check --watch`` (one student, or the class board with ``--roster``)."""
    from d365lab.cli.lab_watch_cmd import watch_one, watch_roster

    if roster is None:
        chosen_format = _report_target(fmt, output)
        return watch_one(lab, language, prefix, options, quiet=quiet,
                         emit=lambda report: emit_report(report, chosen_format, output))
    board_file = board or reports_dir / "board.html"
    try:
        check_class_outputs(output, board_file, reports_dir)
    except OutputError as exc:
        raise _fail(str(exc)) from None
    return watch_roster(lab, language, roster, options, board=board_file, reports_dir=reports_dir,
                        fmt=fmt or "table", quiet=quiet, summary=output)


_CHORE_ROSTER = typer.Option(None, "--roster", help="Do it for a class: CSV with one row per student "
                                                    "(as 'lab check --roster'), students in parallel.")
_CHORE_PARALLEL = typer.Option(4, "--parallel", min=1,
                               help="Students handled at a time (--roster), sharing a tenant or not.")


@lab_app.command("seed")
def seed_command(
    upto: str = typer.Option(..., "--upto", help="Leave the tenant right after this task or exercise (ex2, ex2.t3)."),
    lang: str | None = _LANG, prefix: str = _PREFIX, time_zone: str | None = _TZ,
    roster: Path | None = _CHORE_ROSTER, parallel: int = _CHORE_PARALLEL,
    quiet: bool = _QUIET, lab_name: str = _LAB,
) -> None:
    """Put a tenant in the state right after a task, so a class can start mid-lab."""
    if roster is not None:
        lab, language = _setup(lab_name, lang)
        raise typer.Exit(seed_roster(lab, language, roster, upto, time_zone, parallel, quiet))
    raise typer.Exit(do_run(lab_name, "all", lang, prefix, time_zone, False, None, None, quiet, upto=upto))


@lab_app.command("cleanup")
def cleanup_command(lang: str | None = _LANG, prefix: str = _PREFIX, roster: Path | None = _CHORE_ROSTER,
                    parallel: int = _CHORE_PARALLEL, quiet: bool = _QUIET, lab_name: str = _LAB) -> None:
    """Delete exactly what the lab created in this tenant (tracked in the run journal), nothing else."""
    lab, language = _setup(lab_name, lang)
    if roster is not None:
        raise typer.Exit(cleanup_roster(lab, language, roster, parallel, quiet))
    try:
        lock_wait_seconds()  # a bad D365LAB_LAB_LOCK_WAIT fails before any request
    except ValueError as exc:
        raise _fail(str(exc)) from None
    log = _progress(quiet)
    try:
        with _connect() as client:
            summary = cleanup_lab(client, lab, lang=language, prefix=prefix, log=log)
    except RunJournalError as exc:
        raise _fail(in_language(exc, language)) from None
    except (DataverseError, requests.RequestException, OSError) as exc:
        raise _fail(describe_error(exc)) from None
    log(say(language, "deleted_total", deleted=len(summary.deleted), gone=len(summary.already_gone)))
    raise typer.Exit(0)


@lab_app.command("prepare")
def prepare_command(lang: str | None = _LANG, roster: Path | None = _CHORE_ROSTER, parallel: int = _CHORE_PARALLEL,
                    quiet: bool = _QUIET, lab_name: str = _LAB) -> None:
    """Make a tenant gradable before class: switch auditing on for the environment, the lab's tables and the
    columns ex2.t3's proof reads (then publish), check the lab user's time zone and audit privileges.
    Exit 0 gradable, 2 not (each problem on one line)."""
    lab, language = _setup(lab_name, lang)
    if roster is not None:
        raise typer.Exit(prepare_roster(lab, language, roster, parallel, quiet))
    raise typer.Exit(prepare_one(lab, language))
