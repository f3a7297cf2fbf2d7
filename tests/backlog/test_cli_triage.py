"""``d365lab backlog triage`` and ``d365lab pipeline`` as a user runs them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from d365lab.client import DataverseClient

from .conftest import RunCli


def imported(cli: RunCli) -> None:
    cli("backlog", "import", "leads-example.csv")


def run_id_of(output: str) -> str:
    match = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{6})", output)
    assert match, output
    return match.group(1)


def test_dry_run_prints_the_plan_and_changes_nothing(cli: RunCli, tenant: DataverseClient) -> None:
    imported(cli)
    result = cli("backlog", "triage", "rules-example.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    by_action = result.output.split("Per rule")[0]
    counts = dict(re.findall(r"│ (qualify|disqualify|leave)\s+│\s+(\d+) │", by_action))
    assert counts == {"disqualify": "2", "leave": "1", "qualify": "3"}
    assert "hot leads with a company" in result.output
    assert tenant.records.count("lead", filter="statecode eq 0") == 6


def test_triage_applies_the_rules_once_and_writes_results(cli: RunCli, workdir: Path,
                                                          tenant: DataverseClient) -> None:
    imported(cli)
    result = cli("backlog", "triage", "rules-example.yaml", "--no-progress")
    assert result.exit_code == 0, result.output
    run_id = run_id_of(result.output)
    leads = {r["lastname"]: r for r in tenant.records.list(
        "lead", select=["leadid", "lastname", "statecode", "statuscode"])}
    assert {n: (r["statecode"], r["statuscode"]) for n, r in leads.items()} == {
        "Campbell": (1, 3), "Burk": (1, 3), "Bowman": (1, 3),   # hot with company -> qualified
        "Anderson": (2, 6),                                     # small web budget -> no longer interested
        "West": (2, 5),                                         # no company -> cannot contact
        "McKay": (0, 1),                                        # left alone
    }
    for name in ("Campbell", "Burk", "Bowman"):
        opps = list(tenant.records.list("opportunity", filter=f"_originatingleadid_value eq {leads[name]['leadid']}",
                                        select=["opportunityid"]))
        assert len(opps) == 1, name
    with (workdir / f"triage-{run_id}.csv").open(encoding="utf-8-sig", newline="") as handle:
        results = list(csv.DictReader(handle))
    assert sorted((r["action"], r["outcome"]) for r in results) == [
        ("disqualify", "disqualified"), ("disqualify", "disqualified"), ("leave", "left"),
        ("qualify", "qualified"), ("qualify", "qualified"), ("qualify", "qualified")]
    assert all(r["opportunity_id"] for r in results if r["outcome"] == "qualified")

    again = cli("backlog", "triage", "rules-example.yaml", "--resume", run_id, "--no-progress")
    assert again.exit_code == 0, again.output
    assert tenant.records.count("opportunity") == 3         # a finished run resumed sends nothing

    second = cli("backlog", "triage", "rules-example.yaml", "--dry-run")
    assert re.search(r"│ leave\s+│\s+1 │", second.output.split("Per rule")[0])  # only the open lead is selected
    assert "qualify" not in second.output.split("Per rule")[0]

    runs = cli("backlog", "runs")
    assert run_id in runs.output and "finished" in runs.output


def test_bad_rules_and_unknown_runs_exit_2(cli: RunCli, workdir: Path) -> None:
    (workdir / "bad.yaml").write_text("rules:\n  - name: x\n    action: disqualify\n", encoding="utf-8")
    result = cli("backlog", "triage", "bad.yaml")
    assert result.exit_code == 2 and "needs reason" in result.output
    result = cli("backlog", "triage", "rules-example.yaml", "--resume", "20200101-000000-abcdef")
    assert result.exit_code == 2 and "no run" in result.output


def test_pipeline_report_after_triage(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    imported(cli)
    cli("backlog", "triage", "rules-example.yaml", "--no-progress")
    opportunity_ids = [r["opportunityid"] for r in tenant.records.list("opportunity", select=["opportunityid"])]
    tenant.opportunities.win(opportunity_ids[0], actual_revenue=17000)
    result = cli("pipeline", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "| Qualified | Qualified | 3 |" in result.output
    assert "| Disqualified | Cannot Contact | 1 |" in result.output
    assert "| Disqualified | No Longer Interested | 1 |" in result.output
    assert "| Open | New | 1 |" in result.output
    assert re.search(r"\| Develop \| 2 \|", result.output), result.output
    assert "| Won | 1 | 17,000 |" in result.output
    html = cli("pipeline", "--format", "html", "--output", "pipeline.html")
    assert html.exit_code == 0
    page = (workdir / "pipeline.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Develop" in page and "<script" not in page
    table = cli("pipeline")
    assert "Open opportunities by process stage" in table.output
