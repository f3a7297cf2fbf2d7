"""What the backlog tools write for people to open: CSVs safe in Excel, an HTML report that shows every label.

Lead values come from CSV files and tenants anyone may type into: in the rejects and results
CSVs a cell that starts like a formula (``= + - @``, tab, CR) is prefixed with ``'``
(OWASP CSV injection), and in the pipeline HTML every text is escaped. Chart labels must not
run off the left edge of the SVG, whatever their length.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from d365lab.backlog.html_report import bar_chart
from d365lab.client import DataverseClient

from .conftest import RunCli

HEADER = "Topic,First Name,Last Name,Company,Email,Lead Source,Rating,Budget\n"
#: The labels are 13 px sans-serif. Measured in headless chromium (Liberation Sans = Arial metrics):
#: "Disqualified: No Longer Interested" is 196.6 px (5.8 px a character), "NO LONGER INTERESTED"
#: 164.0 px (8.2). The tests allow a margin above both.
PX_PER_CHAR = 6.5
CAPITALS_WIDTH = 164.0


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_rejects_csv_neutralizes_formula_like_values(cli: RunCli, workdir: Path) -> None:
    (workdir / "inj.csv").write_text(
        HEADER
        + "Injected,Ann,Roe,Contoso,=1+1,Web,Hot,100\n"
        + "Injected 2,Bo,Roe,Contoso,@SUM(A1),Web,Hot,100\n"
        + "Injected 3,Cy,Roe,Contoso,cy@contoso.example,Web,Hot,-HYPERLINK(x)\n"
        + "Fine,Di,Roe,Contoso,not-an-email,Web,Hot,100\n", encoding="utf-8")
    result = cli("backlog", "import", "inj.csv", "--rejects", "inj.rejects.csv")
    assert result.exit_code == 1, result.output
    values = {row["line"]: row["value"] for row in _read(workdir / "inj.rejects.csv")}
    assert values == {"2": "'=1+1", "3": "'@SUM(A1)", "4": "'-HYPERLINK(x)", "5": "not-an-email"}
    raw = (workdir / "inj.rejects.csv").read_text(encoding="utf-8-sig")
    assert ",=" not in raw and ",@" not in raw
    # The reason repeats the value in quotes, which Excel never evaluates: only the cell's start matters.
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in _read(workdir / "inj.rejects.csv")
               for cell in row.values())


def test_results_csv_neutralizes_lead_names(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    (workdir / "names.csv").write_text(
        HEADER + "Formula name,=2+3,Roe,Contoso,roe@contoso.example,Trade Show,Hot,20000\n"
        + "Plain name,Jo,Doe,Fabrikam,doe@fabrikam.example,Trade Show,Hot,20000\n", encoding="utf-8")
    assert cli("backlog", "import", "names.csv").exit_code == 0
    result = cli("backlog", "triage", "rules-example.yaml", "--no-progress", "--results", "res.csv")
    assert result.exit_code == 0, result.output
    names = sorted(row["name"] for row in _read(workdir / "res.csv"))
    assert names[0].startswith("'=2+3 Roe") and names[1].startswith("Jo Doe"), names
    assert tenant.records.count("lead", filter="firstname eq '=2+3'") == 1   # the tenant keeps the real value


def test_pipeline_html_escapes_tenant_text(cli: RunCli, workdir: Path) -> None:
    (workdir / "xss.csv").write_text(
        HEADER + "<script>alert(1)</script>,<script>,<i>Bold</i>,<img src=x onerror=alert(1)>,"
                 "x@contoso.example,Trade Show,Hot,20000\n", encoding="utf-8")
    assert cli("backlog", "import", "xss.csv").exit_code == 0
    assert cli("backlog", "triage", "rules-example.yaml", "--no-progress").exit_code == 0
    result = cli("pipeline", "--format", "html", "--output", "p.html")
    assert result.exit_code == 0, result.output
    html = (workdir / "p.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<i>" not in html


def _labels(svg_html: str) -> list[tuple[float, str]]:
    """(x, label) of the right-aligned bar labels, full text (the tooltip) when truncated."""
    found = []
    for x, body in re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="13" text-anchor="end">(.*?)</text>',
                              svg_html):
        title = re.match(r"<title>(.*?)</title>(.*)", body)
        found.append((float(x), title.group(2) if title else body))
    return found


def test_pipeline_chart_labels_fit_left_of_the_bars(cli: RunCli, workdir: Path) -> None:
    cli("backlog", "import", "leads-example.csv")
    assert cli("backlog", "triage", "rules-example.yaml", "--no-progress").exit_code == 0
    assert cli("pipeline", "--format", "html", "--output", "p.html").exit_code == 0
    html = (workdir / "p.html").read_text(encoding="utf-8")
    labels = _labels(html)
    texts = [text for _, text in labels]
    assert "Disqualified: No Longer Interested" in texts and "Disqualified: Cannot Contact" in texts
    for x, text in labels:
        assert x - len(text) * PX_PER_CHAR >= 0, (x, text)


def test_a_label_too_long_for_the_chart_is_cut_with_an_ellipsis_and_a_tooltip() -> None:
    long_label = "Disqualified: " + "a very long custom status reason " * 3
    svg = bar_chart("Leads by status", [(long_label, 3), ("Open: New", 5)], "leads")
    (x_long, shown), (x_short, short) = _labels(svg)
    assert shown.endswith("\u2026") and len(shown) < len(long_label)
    assert f"<title>{long_label}</title>" in svg
    assert short == "Open: New"
    assert x_long - len(shown) * PX_PER_CHAR >= 0


def test_capital_letters_get_a_wider_label_column() -> None:
    capitals = "NO LONGER INTERESTED"
    (x_caps, shown), = _labels(bar_chart("Leads by status", [(capitals, 1)], "leads"))
    (x_lower, _), = _labels(bar_chart("Leads by status", [(capitals.title(), 1)], "leads"))
    assert shown == capitals and x_caps > x_lower
    assert x_caps >= CAPITALS_WIDTH + 4
