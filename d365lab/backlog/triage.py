"""The triage job: plan, journal, execute with a progress bar, results CSV and summary."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from d365lab.backlog.csvio import write_csv
from d365lab.backlog.executor import ExecutorSettings, LeadOutcome, TriageExecutor
from d365lab.backlog.planner import Plan, build_plan
from d365lab.backlog.rules import Action, RulesError, load_rules
from d365lab.backlog.triage_journal import DONE, FAILED, Journal, JournalItem, TriageJournalError

if TYPE_CHECKING:
    from d365lab.backlog.estimate import TenantModel
    from d365lab.client import DataverseClient

RESULT_COLUMNS = ["run_id", "seq", "leadid", "name", "rule", "action", "state", "outcome", "found", "detail",
                  "opportunity_id", "attempts", "processed_by"]


def plan_triage(client: DataverseClient, rules_path: Path) -> Plan:
    """Load the rules and build the plan against the tenant (reads only).

    A rule the tenant refuses (a bad OData filter) is a :class:`RulesError` naming this file.
    """
    rules = load_rules(rules_path)
    try:
        return build_plan(client.records, rules)
    except RulesError as exc:
        raise RulesError(f"rules file {rules_path}, {exc}") from None


def start_run(journal: Journal, client: DataverseClient, rules_path: Path, plan: Plan) -> str:
    """Freeze the plan in the journal as a new run; return its id."""
    return journal.create_run(str(rules_path), client.base_url, client.whoami().organization_id, plan.items)


def check_resumable(journal: Journal, client: DataverseClient, run_id: str) -> None:
    """Refuse to resume a run of another tenant (TriageJournalError); the organization id identifies it.

    (The URL alone would not: the embedded mock listens on a new port each time.)
    """
    info = journal.run(run_id)
    organization_id = client.whoami().organization_id
    if info.organization_id != organization_id:
        raise TriageJournalError(f"run {run_id} was made against organization {info.organization_id} "
                           f"({info.base_url}), not {organization_id} ({client.base_url})")


def execute(client: DataverseClient | Sequence[DataverseClient], journal: Journal, run_id: str,
            settings: ExecutorSettings, console: Console, show_progress: bool = True,
            rules_path: Path | None = None) -> None:
    """Execute a run's remaining items with a progress bar (Ctrl-C stops cleanly, resumable).

    Several clients (application users of the same organization) share the work. The
    Ctrl-C hint names ``rules_path`` (by default the rules file the run was planned from).
    """
    counts = journal.counts(run_id)
    total = sum(counts.values())
    already = sum(n for (state, _), n in counts.items() if state == DONE)
    lock = threading.Lock()
    with Progress(TextColumn("[bold]triage[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("triage", total=total, completed=already, status="")
        tally: Counter[str] = Counter()

        def advance(item: JournalItem, outcome: LeadOutcome) -> None:
            with lock:
                tally[outcome.outcome] += 1
                status = " ".join(f"{k}:{v}" for k, v in sorted(tally.items()))
                progress.update(task, advance=1, status=status)

        executor = TriageExecutor(client, journal, run_id, settings, on_progress=advance)
        try:
            executor.run()
        except KeyboardInterrupt:
            executor.stop()
            rules = escape(quote_argument(str(rules_path or journal.run(run_id).rules_file)))
            console.print(f"[yellow]interrupted; resume with: d365lab backlog triage {rules} --resume {run_id}[/]",
                          highlight=False)
            raise


def write_results(journal: Journal, run_id: str, path: Path) -> int:
    """Write the per-lead results CSV; return the number of rows."""
    rows: list[dict[str, object]] = []
    for item in journal.items(run_id):
        rows.append({"run_id": run_id, "seq": item.seq, "leadid": item.leadid, "name": item.name,
                     "rule": item.rule, "action": item.action, "state": item.state,
                     "outcome": item.outcome, "found": item.found, "detail": item.detail,
                     "opportunity_id": item.opportunity_id, "attempts": item.attempts,
                     "processed_by": item.processed_by})
    write_csv(path, RESULT_COLUMNS, rows)
    return len(rows)


def summary_table(journal: Journal, run_id: str) -> Table:
    """A rich table: count of leads per action and outcome (skipped leads by the state found),
    with failures highlighted."""
    table = Table(title=f"Triage run {run_id}")
    for name in ("action", "outcome", "found", "leads"):
        table.add_column(name, justify="right" if name == "leads" else "left")
    counts: Counter[tuple[str, str, str]] = Counter()
    for item in journal.items(run_id):
        counts[(item.action, item.outcome or item.state, item.found or "")] += 1
    for (action, outcome, found), n in sorted(counts.items()):
        style = "red" if outcome in ("error", FAILED, "pending", "started") else None
        table.add_row(action, outcome, found, str(n), style=style)
    table.add_row("[bold]total[/]", "", "", f"[bold]{sum(counts.values())}[/]")
    return table


def quote_argument(text: str) -> str:
    """``text`` quoted for a command line when it needs it (spaces, quotes), for the user's shell.

    Double quotes work in bash, zsh, cmd.exe and PowerShell for ordinary file names.
    """
    if text and not any(ch.isspace() or ch in "\"'&|<>;()$`" for ch in text):
        return text
    return '"' + text.replace('"', '\\"') + '"'



def plan_estimate(plan: Plan, *, users: int, lanes: int, tenant: TenantModel | None = None) -> str:
    """The dry run's prediction of the triage's wall time on ``tenant`` (see :mod:`d365lab.backlog.estimate`)."""
    from d365lab.backlog.estimate import estimate_triage

    counts = plan.counts_by_action()
    return estimate_triage(counts.get(Action.QUALIFY.value, 0), counts.get(Action.DISQUALIFY.value, 0),
                           open_leads=len(plan.items), users=users, lanes=lanes, tenant=tenant).describe()


def plan_tables(plan: Plan, sample_size: int = 5) -> list[Table]:
    """The dry-run printout: counts per action, per rule, and a sample of leads."""
    by_action = Table(title="Triage plan (dry run: nothing is changed)")
    by_action.add_column("action")
    by_action.add_column("leads", justify="right")
    for action, n in sorted(plan.counts_by_action().items()):
        by_action.add_row(action, str(n))
    by_action.add_row("[bold]total[/]", f"[bold]{len(plan.items)}[/]")
    by_rule = Table(title="Per rule")
    for name in ("rule", "action", "leads"):
        by_rule.add_column(name, justify="right" if name == "leads" else "left")
    for (rule, action), n in sorted(plan.counts_by_rule().items()):
        by_rule.add_row(rule, action, str(n))
    sample = Table(title=f"Sample (up to {sample_size} per action)")
    for name in ("leadid", "lead", "rule", "action", "details"):
        sample.add_column(name)
    for item in plan.sample(sample_size):
        details = ", ".join(f"{k}: {'+'.join(v) if isinstance(v, list) else v}" for k, v in item.params.items())
        sample.add_row(item.leadid, item.name, item.rule, item.action, details)
    return [by_action, by_rule, sample]
