"""The pipeline report as one standalone HTML file with inline SVG charts (no network, no script)."""

from __future__ import annotations

from html import escape

from d365lab.backlog.pipeline import PipelineReport
from d365lab.backlog.pipeline_render import money

_CSS = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:960px;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .8rem;border-bottom:1px solid #eee}
th{text-align:left;background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;gap:1rem}.kpi{background:#f4f6f8;padding:.8rem 1.2rem;border-radius:6px}
.kpi b{display:block;font-size:1.4rem}small{color:#666}
"""
_COLORS = ["#2b6cb0", "#3182ce", "#4299e1", "#63b3ed", "#90cdf4", "#a0aec0"]
#: Advance of 13 px sans-serif characters (Segoe UI / Helvetica / Arial), rounded up so that
#: labels fit whatever the font: SVG text cannot be measured without a browser.
_WIDE, _NARROW, _AVERAGE = 12.5, 4.0, 7.4
_WIDE_CHARS = frozenset("MWmw@%")
_NARROW_CHARS = frozenset("iljft.,:;'|!() ")
_MIN_LABEL_WIDTH = 90
#: Share of the chart the label column may take; longer labels are cut with an ellipsis.
_MAX_LABEL_SHARE = 0.45


def text_width(text: str) -> float:
    """Estimated width in px of ``text`` at 13 px (capitals count wider than lowercase)."""
    return sum(_WIDE if ch in _WIDE_CHARS else _NARROW if ch in _NARROW_CHARS
               else _AVERAGE * 1.2 if ch.isupper() else _AVERAGE for ch in text)


def fit_label(text: str, max_width: float) -> str:
    """``text`` if it fits in ``max_width`` px, else its longest prefix that fits, ending with an ellipsis."""
    if text_width(text) <= max_width:
        return text
    cut = len(text)
    while cut > 0 and text_width(text[:cut].rstrip() + "\u2026") > max_width:
        cut -= 1
    return text[:cut].rstrip() + "\u2026"


def label_column(labels: list[str], width: int) -> tuple[int, float]:
    """``(label column width in px, px a label may take)`` sized to the longest label.

    The column grows with the longest label (labels are right-aligned against the bars) up
    to a share of the chart, so that the bars keep room; beyond that labels are truncated.
    """
    max_text = width * _MAX_LABEL_SHARE - 12
    longest = min(max((text_width(label) for label in labels), default=0.0), max_text)
    return max(_MIN_LABEL_WIDTH, round(longest) + 12), max_text


def _label(text: str, x: float, y: float, max_width: float) -> str:
    """A right-aligned bar label; a truncated one ends with an ellipsis and keeps its full text as a tooltip."""
    shown = fit_label(text, max_width)
    if shown == text:
        return f'<text x="{x:.0f}" y="{y:.0f}" font-size="13" text-anchor="end">{escape(text)}</text>'
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="13" text-anchor="end"><title>{escape(text)}</title>'
            f'{escape(shown)}</text>')


def bar_chart(title: str, bars: list[tuple[str, float]], value_label: str, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG; labels and values are escaped."""
    row_height, top = 28, 30
    label_width, max_text = label_column([label for label, _ in bars], width)
    height = top + row_height * max(len(bars), 1) + 10
    biggest = max((v for _, v in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
             f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    scale = (width - label_width - 120) / biggest
    for i, (label, value) in enumerate(bars):
        y = top + i * row_height
        length = max(value * scale, 1 if value else 0)
        parts.append(_label(label, label_width - 8, y + 17, max_text))
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row_height - 8}" '
                     f'fill="{_COLORS[i % len(_COLORS)]}"><title>{escape(label)}: {value:,.0f}</title></rect>')
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + 17}" font-size="12">'
                     f'{value:,.0f} {escape(value_label)}</text>')
    if not bars:
        parts.append(f'<text x="0" y="{top + 17}" font-size="13">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bar_chart(title: str, categories: list[str], series: list[tuple[str, list[float]]],
                      width: int = 640) -> str:
    """Horizontal bars, one group per category and one bar per series, with a legend (inline SVG)."""
    bar, gap, top = 14, 10, 50
    label_width, max_text = label_column(categories, width)
    group = bar * len(series) + gap
    height = top + group * max(len(categories), 1) + 10
    biggest = max((v for _, values in series for v in values), default=0) or 1
    scale = (width - label_width - 120) / biggest
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
             f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for s_index, (name, _) in enumerate(series):
        x = label_width + s_index * 140
        parts.append(f'<rect x="{x}" y="28" width="12" height="12" fill="{_COLORS[s_index * 3 % len(_COLORS)]}"/>'
                     f'<text x="{x + 16}" y="38" font-size="12">{escape(name)}</text>')
    for c_index, category in enumerate(categories):
        y0 = top + c_index * group
        parts.append(_label(category, label_width - 8, y0 + bar * len(series) / 2 + 4, max_text))
        for s_index, (name, values) in enumerate(series):
            value = values[c_index]
            y = y0 + s_index * bar
            length = max(value * scale, 1 if value else 0)
            parts.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar - 2}" '
                         f'fill="{_COLORS[s_index * 3 % len(_COLORS)]}"><title>{escape(category)} - '
                         f'{escape(name)}: {value:,.0f}</title></rect>')
            parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + bar - 4}" font-size="11">'
                         f'{value:,.0f}</text>')
    if not categories:
        parts.append(f'<text x="0" y="{top + 17}" font-size="13">no open opportunities</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: PipelineReport) -> str:
    """The whole report as a standalone HTML document."""
    total = report.open_pipeline
    won = sum(c.revenue for c in report.closed if c.outcome == "Won")
    period = f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"
    kpis = (f'<div class="kpis"><div class="kpi">Open opportunities<b>{total.count}</b></div>'
            f'<div class="kpi">Estimated revenue<b>{money(total.estimated_revenue)}</b></div>'
            f'<div class="kpi">Won this {escape(report.period)}<b>{money(won)}</b></div>'
            f'<div class="kpi">Leads<b>{report.total_leads}</b></div></div>')
    stage_counts = bar_chart("Open opportunities by stage", [(s.stage, s.count) for s in report.stages],
                             "opportunities")
    stage_values = grouped_bar_chart("Pipeline value by stage", [s.stage for s in report.stages],
                                     [("Est. revenue", [s.estimated_revenue for s in report.stages]),
                                      ("Budget", [s.budget for s in report.stages])])
    lead_chart = bar_chart("Leads by status", [(f"{r.state}: {r.reason}", r.count) for r in report.leads], "leads")
    sections = [
        f"<h1>Sales pipeline &mdash; {escape(report.organization)}</h1>",
        f"<p><small>Period: this {escape(report.period)} ({period}). "
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</small></p>",
        kpis,
        "<h2>Open opportunities by process stage</h2>", stage_counts, stage_values,
        _table(["Stage", "Opportunities", "Est. revenue", "Budget"],
               [[s.stage, str(s.count), money(s.estimated_revenue), money(s.budget)]
                for s in [*report.stages, total]]),
        f"<h2>Won / lost this {escape(report.period)}</h2>",
        _table(["Outcome", "Opportunities", "Revenue"],
               [[c.outcome, str(c.count), money(c.revenue)] for c in report.closed] or [["(none)", "0", "0"]]),
        "<h2>Leads by status</h2>", lead_chart,
        _table(["Status", "Reason", "Leads"], [[r.state, r.reason, str(r.count)] for r in report.leads], 2),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Sales pipeline - {escape(report.organization)}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(sections)}</body></html>\n")
