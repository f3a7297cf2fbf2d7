"""``backlog triage --dry-run --resume RUN``: shows where an interrupted run stands, changes nothing."""

from __future__ import annotations

from pathlib import Path

from d365lab.backlog import triage
from d365lab.backlog.triage_journal import Journal
from d365lab.client import DataverseClient

from .conftest import RunCli


def interrupted_run(workdir: Path, tenant: DataverseClient) -> str:
    """A run planned and journaled whose execution never started (as after a kill -9 at that point)."""
    rules = workdir / "rules-example.yaml"
    plan = triage.plan_triage(tenant, rules)
    with Journal(workdir / "journal.sqlite") as journal:
        return triage.start_run(journal, tenant, Path("rules-example.yaml"), plan)


def test_dry_run_resume_reports_the_run_and_sends_nothing(cli: RunCli, workdir: Path,
                                                          tenant: DataverseClient) -> None:
    cli("backlog", "import", "leads-example.csv")          # exit 1: the example has rows it rejects
    assert tenant.records.count("lead", filter="statecode eq 0") == 6
    run_id = interrupted_run(workdir, tenant)

    result = cli("backlog", "triage", "rules-example.yaml", "--dry-run", "--resume", run_id, "--no-progress")

    assert result.exit_code == 0, result.output
    assert "dry run: nothing is changed" in result.output
    assert "pending" in result.output
    assert tenant.records.count("lead", filter="statecode eq 0") == 6
    assert tenant.records.count("opportunity") == 0

    real = cli("backlog", "triage", "rules-example.yaml", "--resume", run_id, "--no-progress")
    assert real.exit_code == 0, real.output
    assert tenant.records.count("opportunity") == 3


def test_resume_with_another_rules_file_says_which_plan_runs(cli: RunCli, workdir: Path,
                                                             tenant: DataverseClient) -> None:
    cli("backlog", "import", "leads-example.csv")          # exit 1: the example has rows it rejects
    assert tenant.records.count("lead", filter="statecode eq 0") == 6
    run_id = interrupted_run(workdir, tenant)
    (workdir / "other.yaml").write_text("rules:\n  - name: all\n    action: leave\n", encoding="utf-8")

    result = cli("backlog", "triage", "other.yaml", "--dry-run", "--resume", run_id, "--no-progress")

    assert result.exit_code == 0, result.output
    assert f"run {run_id} was planned from rules-example.yaml" in " ".join(result.output.split())
