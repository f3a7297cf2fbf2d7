"""Rendering the pipeline report (the figures themselves are tested through the CLI)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from d365lab.backlog.html_report import render_html
from d365lab.backlog.pipeline import ClosedRow, LeadStatusRow, PipelineReport, StageRow, period_bounds
from d365lab.backlog.pipeline_render import markdown


def _report() -> PipelineReport:
    report = PipelineReport(datetime(2026, 11, 29, tzinfo=UTC), "quarter", date(2026, 10, 1), date(2026, 12, 31),
                            "Contoso <Coffee>")
    report.leads = [LeadStatusRow("Open", "New", 7), LeadStatusRow("Disqualified", "Cannot Contact", 2)]
    report.stages = [StageRow("Develop", 3, 30000.0, 45000.0), StageRow("Propose", 1, 5000.0, 0.0)]
    report.closed = [ClosedRow("Won", 2, 17000.0)]
    return report


def test_html_is_standalone_with_an_inline_svg_chart() -> None:
    html = render_html(_report())
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and "<rect" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    assert "Contoso &lt;Coffee&gt;" in html          # escaped
    assert "35,000" in html                          # total estimated revenue


def test_markdown_has_totals() -> None:
    text = markdown(_report())
    assert "| **Total** | **4** | **35,000** | **45,000** |" in text
    assert "| Disqualified | Cannot Contact | 2 |" in text


def test_period_bounds() -> None:
    assert period_bounds("quarter", date(2026, 11, 29)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert period_bounds("month", date(2026, 2, 10)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_bounds("year", date(2026, 2, 10)) == (date(2026, 1, 1), date(2026, 12, 31))
