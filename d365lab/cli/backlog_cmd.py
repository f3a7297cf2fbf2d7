"""``d365lab backlog import|triage|runs`` and ``d365lab pipeline``.

Exit codes: 0 done; 1 done but some rows/leads were rejected or failed (see the rejects
or results CSV); 2 nothing was done (bad file, bad rules, bad options, unknown run).
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from d365lab.backlog.csvio import CsvFormatError
from d365lab.backlog.executor import ExecutorSettings
from d365lab.backlog.importer import ImportOptions, ImportReport, OnDuplicate, run_import, write_rejects
from d365lab.backlog.interrupt import stop_on_ctrl_c
from d365lab.backlog.mapping import MappingError
from d365lab.backlog.outputs import OutputPathError, check_writable
from d365lab.backlog.rules import RulesError
from d365lab.backlog.triage_journal import FAILED, Journal, TriageJournalError, default_journal_path
from d365lab.backlog.validate import Rejection
from d365lab.cli.core_cmd import make_console
from d365lab.config import ConfigurationError
from d365lab.errors import DataverseError

backlog_app = typer.Typer(name="backlog", help="Import, triage and report on lead backlogs.",
                          no_args_is_help=True)
console = make_console()
err_console = make_console(stderr=True)
#: Rejected rows a dry run prints (all of them go to the CSV with ``--rejects``).
DRY_RUN_REJECTS_SHOWN = 50


class ReportFormat(StrEnum):
    """Output formats of the pipeline report."""

    TABLE = "table"
    MARKDOWN = "markdown"
    HTML = "html"


class PeriodChoice(StrEnum):
    """Calendar period of the won/lost figures."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _check_outputs(*paths: tuple[Path | None, str], create_folder: bool = False) -> None:
    """Refuse (exit 2) before any request when an output file cannot be written (or its folder is missing)."""
    try:
        for path, option in paths:
            if path is not None:
                check_writable(path, option, create_folder=create_folder)
    except OutputPathError as exc:
        raise _fail(str(exc)) from None


def _rejects_table(rejections: list[Rejection]) -> Table:
    shown = rejections[:DRY_RUN_REJECTS_SHOWN]
    table = Table(title="Rejected rows")
    for name in ("line", "field", "reason", "value"):
        table.add_column(name, justify="right" if name == "line" else "left")
    for rejection in shown:
        table.add_row(str(rejection.line), rejection.field, rejection.reason, rejection.value)
    if len(rejections) > len(shown):
        table.caption = (f"first {len(shown)} of {len(rejections)}; "
                         "write them all with --rejects FILE.csv")
    return table


def _import_summary(report: ImportReport, rejects: Path | None) -> Table:
    table = Table(title="Import (dry run: nothing was sent)" if report.dry_run else "Import")
    table.add_column("")
    table.add_column("rows", justify="right")
    lines = [("rows read", report.rows), ("valid", report.valid), ("invalid (rejected)", report.invalid_rows),
             ("duplicates of tenant leads", report.duplicates_in_tenant),
             ("duplicates within the file", report.duplicates_in_file)]
    if report.dry_run:
        lines += [("would create", report.would_create), ("would update", report.would_update)]
    else:
        lines += [("created", report.created), ("updated", report.updated),
                  ("refused by the tenant", report.refused_by_tenant)]
        if report.interrupted:
            lines.append(("not sent (interrupted)", report.not_sent))
    for label, n in lines:
        table.add_row(label, str(n))
    per_s = report.rows / report.seconds if report.seconds else 0.0
    table.caption = (f"{report.requests} HTTP requests, {report.seconds:.2f} s ({per_s:,.0f} rows/s); "
                     f"encoding {report.encoding}, delimiter {report.delimiter!r}"
                     + (f"; rejects: {rejects}" if rejects else ""))
    return table


@backlog_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(
        metavar="FILE.csv", help="CSV file of leads (UTF-8 with or without BOM, or French Excel ';').")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and detect duplicates; send nothing.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=5000,
                                            help="Leads per CreateMultiple request.")] = 1000,
    on_duplicate: Annotated[OnDuplicate, typer.Option("--on-duplicate",
                                             help="skip: reject duplicates; update: update the existing lead; "
                                                  "create: create anyway.")] = OnDuplicate.SKIP,
    mapping: Annotated[Path | None, typer.Option("--mapping",
                                                 help="YAML mapping file (columns/defaults/ignore).")] = None,
    rejects: Annotated[Path | None, typer.Option(
        "--rejects", help="Rejects CSV (default: ./FILE.rejects.csv; a dry run prints the rejects and "
                          "writes this file only when the option is given).")] = None,
    encoding: Annotated[str, typer.Option("--encoding",
                                          help="auto (UTF-8, then Windows-1252) or a codec name.")] = "auto",
    credentials: Annotated[list[Path] | None, typer.Option(
        "--credentials", "--users", help="Extra application user (a .env-style file); repeat to spread the "
                                         "chunks over several users of the same environment, each with its "
                                         "own limits.")] = None,
) -> None:
    """Import leads from a CSV file: validate every row, detect duplicates, CreateMultiple in chunks."""
    from d365lab.backlog.estimate import TenantCostObserver, estimate_import
    from d365lab.backlog.users import check_same_organization, clients_from_files
    from d365lab.connect import connect

    options = ImportOptions(dry_run=dry_run, batch_size=batch_size, on_duplicate=on_duplicate,
                            mapping_file=mapping, encoding=encoding)
    # The current directory by default: inputs may be read-only. A dry run leaves no file
    # behind unless asked: it is how people try the command, from a clone or a shared folder.
    rejects_path = rejects if rejects is not None or dry_run else Path(file.stem + ".rejects.csv")
    _check_outputs((rejects_path, "--rejects"))
    stop = threading.Event()
    try:
        with connect() as client, ExitStack() as stack, \
                (stop_on_ctrl_c(stop) if not dry_run else nullcontext(stop)):
            extra = []
            if credentials and not dry_run:
                extra = [stack.enter_context(c) for c in clients_from_files(credentials)]
                check_same_organization([client, *extra], credentials)
                console.print(f"spreading the chunks over {len(extra) + 1} users", highlight=False)
            with TenantCostObserver(client) as observer:  # a served mock names its cost model
                report = run_import(client, file, options, stop, extra_users=extra)
            lanes = client.recommended_parallelism
    except (CsvFormatError, MappingError) as exc:
        raise _fail(f"{file}: {exc}") from None
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    except DataverseError as exc:
        raise _fail(str(exc)) from None
    if report.unmapped_headers:
        err_console.print(f"[yellow]ignored columns (not mapped to a lead column):[/] "
                          f"{', '.join(report.unmapped_headers)}", highlight=False)
    written = rejects_path if report.rejections and rejects_path is not None else None
    if written is not None:
        write_rejects(written, report.rejections)
    elif report.rejections:
        console.print(_rejects_table(report.rejections))
    console.print(_import_summary(report, written))
    if dry_run:
        console.print(estimate_import(report.would_create, batch_size, users=1 + len(credentials or []),
                                      lanes=lanes, tenant=observer.model).describe(), highlight=False)
    if report.interrupted:
        _print_import_interrupted(report, on_duplicate)
        raise typer.Exit(130)
    if report.invalid_rows or report.refused_by_tenant:
        raise typer.Exit(1)


def _print_import_interrupted(report: ImportReport, on_duplicate: OnDuplicate) -> None:
    """What an import stopped by Ctrl-C sent, and how to finish it."""
    sent = f"{report.created} leads created" + (f", {report.updated} updated" if report.updated else "")
    if on_duplicate is OnDuplicate.CREATE:
        how = ("run the command again with --on-duplicate skip (the default): the rows already created are "
               "then skipped as duplicates")
    else:
        how = "run the same command again: the rows already created are skipped as duplicates of the tenant's leads"
    err_console.print(f"[yellow]interrupted (Ctrl-C) after the requests in flight: {sent}, {report.not_sent} rows "
                      f"not sent.[/] To import the rest, {how}.", highlight=False)


@backlog_app.command("triage")
def triage_command(
    rules: Annotated[Path, typer.Argument(metavar="RULES.yaml", help="Rules YAML file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Print the plan (counts and a sample); change nothing.")] = False,
    resume: Annotated[str | None, typer.Option("--resume", help="Finish an interrupted run (its id).")] = None,
    journal_path: Annotated[Path | None, typer.Option("--journal", envvar="D365LAB_BACKLOG_JOURNAL",
                                      help="Journal SQLite file (default: the user data directory).")] = None,
    results: Annotated[Path | None, typer.Option("--results",
                                                 help="Per-lead results CSV (default: triage-RUN.csv).")] = None,
    max_workers: Annotated[int | None, typer.Option("--max-workers", min=1,
                                           help="Cap on parallel requests (default: the tenant's hint).")] = None,
    sample: Annotated[int, typer.Option("--sample", min=0, help="Dry run: leads shown per action.")] = 5,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    credentials: Annotated[list[Path] | None, typer.Option(
        "--credentials", "--users", help="Extra application user (a .env-style file); repeat to spread the "
                                         "work over several users of the same environment, each with its own "
                                         "limits.")] = None,
) -> None:
    """Triage open leads by rules: qualify, disqualify or leave; journaled and resumable."""
    from d365lab.backlog import triage
    from d365lab.backlog.estimate import TenantCostObserver
    from d365lab.backlog.lease import running, tenant_lease
    from d365lab.backlog.users import check_same_organization, clients_from_files
    from d365lab.connect import connect

    path = journal_path or default_journal_path()
    if not dry_run:
        # The default results file is named after the run, unknown yet; its folder is what can fail.
        _check_outputs((path, "--journal"), create_folder=journal_path is None)  # the default folder is ours
        _check_outputs((results or Path("triage-RUN.csv"), "--results"))
    try:
        with Journal(path) as journal, connect() as client, ExitStack() as stack:
            users = [client]
            if credentials and not dry_run:
                users += [stack.enter_context(c) for c in clients_from_files(credentials)]
                check_same_organization(users, credentials)
                console.print(f"spreading the work over {len(users)} users", highlight=False)
            if not dry_run:
                # One run at a time per tenant and journal (a second one is refused before it plans).
                stack.enter_context(tenant_lease(journal, client.whoami().organization_id))
            if resume:
                triage.check_resumable(journal, client, resume)
                run_id = resume
                _warn_if_other_rules(journal, run_id, rules)
                if dry_run:
                    # A dry run never sends: show where the interrupted run stands and stop.
                    console.print(f"run {run_id} (dry run: nothing is changed; leads still pending or "
                                  "started are what --resume would process)", highlight=False)
                    console.print(triage.summary_table(journal, run_id))
                    return
                console.print(f"resuming run {run_id} (journal {path})", highlight=False)
            else:
                with TenantCostObserver(client) as observer:  # a served mock names its cost model
                    plan = triage.plan_triage(client, rules)
                if dry_run:
                    for renderable in triage.plan_tables(plan, sample):
                        console.print(renderable)
                    console.print(triage.plan_estimate(plan, users=1 + len(credentials or []),
                                                       lanes=max_workers or client.recommended_parallelism,
                                                       tenant=observer.model),
                                  highlight=False)
                    return
                if not plan.items:
                    console.print("no open leads: nothing to do")
                    return
                run_id = triage.start_run(journal, client, rules, plan)
                console.print(f"run {run_id}: {len(plan.items)} open leads planned (journal {path})",
                              highlight=False)
            with running(journal, run_id):
                triage.execute(users, journal, run_id, ExecutorSettings(max_workers=max_workers), console,
                               show_progress=progress, rules_path=rules)
            out = results or Path(f"triage-{run_id}.csv")
            triage.write_results(journal, run_id, out)
            console.print(triage.summary_table(journal, run_id))
            console.print(f"results: {out}", highlight=False)
            failed = sum(n for (state, _), n in journal.counts(run_id).items() if state == FAILED)
    except (RulesError, TriageJournalError, ConfigurationError) as exc:
        raise _fail(str(exc)) from None
    except DataverseError as exc:
        raise _fail(str(exc)) from None
    if failed:
        raise typer.Exit(1)


def _warn_if_other_rules(journal: Journal, run_id: str, rules: Path) -> None:
    """Say so when --resume is given another rules file than the run was planned from."""
    planned = next((run.rules_file for run in journal.runs() if run.run_id == run_id), None)
    if planned is not None and Path(planned).resolve() != rules.resolve():
        console.print(f"note: run {run_id} was planned from {planned}; its journaled plan is what resumes "
                      f"({rules} is not read)", highlight=False)


@backlog_app.command("runs")
def runs_command(
    journal_path: Annotated[Path | None, typer.Option("--journal", envvar="D365LAB_BACKLOG_JOURNAL",
                                      help="Journal SQLite file.")] = None,
) -> None:
    """List the triage runs in the journal, newest first, with their progress."""
    from d365lab.backlog.lease import run_status

    path = journal_path or default_journal_path()
    if not path.exists():  # listing is read-only: no journal (nor folder) is created for it
        console.print(f"no triage runs yet (no journal at {path})", highlight=False)
        return
    try:
        journal = Journal(path)
    except TriageJournalError as exc:
        raise _fail(str(exc)) from None
    with journal:
        table = Table(title="Triage runs")
        for name in ("run", "created", "status", "done", "failed", "left to do", "rules"):
            table.add_column(name, no_wrap=name == "run", overflow="fold")
        for run in journal.runs():
            counts = journal.counts(run.run_id)
            by_state = {s: sum(n for (st, _), n in counts.items() if st == s)
                        for s in ("done", "failed", "pending", "started")}
            table.add_row(run.run_id, run.created_at[:19], run_status(journal, run), str(by_state["done"]),
                          str(by_state["failed"]), str(by_state["pending"] + by_state["started"]), run.rules_file)
        console.print(table)


def pipeline_command(
    format: Annotated[ReportFormat, typer.Option("--format", help="table, markdown or html.")] = ReportFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", help="Write to this file instead of the terminal.")] = None,
    period: Annotated[PeriodChoice, typer.Option("--period",
                                                 help="Won/lost period: month, quarter, year.")] = PeriodChoice.QUARTER,
) -> None:
    """Pipeline report: leads by status, open opportunities by stage, won/lost this period."""
    from d365lab.backlog.html_report import render_html
    from d365lab.backlog.pipeline import build_report
    from d365lab.backlog.pipeline_render import markdown, rich_tables
    from d365lab.connect import connect

    _check_outputs((output, "--output"))
    try:
        with connect() as client:
            report = build_report(client, period.value)
    except (DataverseError, ConfigurationError) as exc:
        raise _fail(str(exc)) from None
    if format is ReportFormat.TABLE:
        if output is None:
            console.print(rich_tables(report))
            return
        file_console = Console(record=True, width=120, file=open(output, "w", encoding="utf-8"))  # noqa: SIM115
        file_console.print(rich_tables(report))
        file_console.file.close()
        return
    text = markdown(report) if format is ReportFormat.MARKDOWN else render_html(report)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``backlog`` sub-app and the top-level ``pipeline`` command to the CLI root."""
    app.add_typer(backlog_app, name="backlog")
    app.command("pipeline")(pipeline_command)
