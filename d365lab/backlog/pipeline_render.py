"""Rendering the pipeline report as a terminal table or Markdown."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from d365lab.backlog.pipeline import PipelineReport


def money(value: float) -> str:
    """Money with thousands separators and no decimals (leadership reads totals, not cents)."""
    return f"{value:,.0f}"


def _title(report: PipelineReport) -> str:
    return (f"Sales pipeline - {report.organization} - {report.period} "
            f"{report.period_start.isoformat()} to {report.period_end.isoformat()}")


def rich_tables(report: PipelineReport) -> Group:
    """The report as rich tables, for the terminal."""
    leads = Table(title=f"Leads by status ({report.total_leads})")
    leads.add_column("Status")
    leads.add_column("Reason")
    leads.add_column("Leads", justify="right")
    for row in report.leads:
        leads.add_row(row.state, row.reason, str(row.count))
    stages = Table(title="Open opportunities by process stage")
    for name in ("Stage", "Opportunities", "Est. revenue", "Budget"):
        stages.add_column(name, justify="left" if name == "Stage" else "right")
    for s in [*report.stages, report.open_pipeline]:
        stages.add_row(s.stage, str(s.count), money(s.estimated_revenue), money(s.budget),
                       style="bold" if s.stage == "Total" else None)
    closed = Table(title=f"Won / lost this {report.period}")
    for name in ("Outcome", "Opportunities", "Revenue"):
        closed.add_column(name, justify="left" if name == "Outcome" else "right")
    for c in report.closed:
        closed.add_row(c.outcome, str(c.count), money(c.revenue))
    if not report.closed:
        closed.add_row("(none)", "0", "0")
    return Group(f"[bold]{_title(report)}[/]", leads, stages, closed)


def markdown(report: PipelineReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [f"# {_title(report)}", "", f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.", "",
             f"## Leads by status ({report.total_leads})", "", "| Status | Reason | Leads |", "|---|---|---:|"]
    lines += [f"| {r.state} | {r.reason} | {r.count} |" for r in report.leads]
    lines += ["", "## Open opportunities by process stage", "",
              "| Stage | Opportunities | Est. revenue | Budget |", "|---|---:|---:|---:|"]
    for s in report.stages:
        lines.append(f"| {s.stage} | {s.count} | {money(s.estimated_revenue)} | {money(s.budget)} |")
    t = report.open_pipeline
    lines.append(f"| **Total** | **{t.count}** | **{money(t.estimated_revenue)}** | **{money(t.budget)}** |")
    lines += ["", f"## Won / lost this {report.period}", "", "| Outcome | Opportunities | Revenue |",
              "|---|---:|---:|"]
    lines += [f"| {c.outcome} | {c.count} | {money(c.revenue)} |" for c in report.closed] or ["| (none) | 0 | 0 |"]
    return "\n".join(lines) + "\n"
