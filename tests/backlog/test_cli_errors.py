"""Backlog commands refuse bad outputs and bad rules before touching the tenant, in words a person reads.

Unwritable ``--rejects`` / ``--results`` / ``--journal`` / ``pipeline --output`` are refused
(exit 2, one line) before any request; a bad OData filter names the rules file, the rule and
the filter; a dry-run import prints its rejects instead of leaving a file behind; output that
is not a terminal is never wrapped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.client import DataverseClient

from .conftest import RunCli


@pytest.fixture
def unwritable(workdir: Path) -> Path:
    """A path under a regular file: no user (root included) can create it."""
    (workdir / "a-file").write_text("not a folder")
    return workdir / "a-file" / "sub" / "out.csv"


def _one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


def test_unwritable_rejects_is_refused_before_any_lead_is_created(cli: RunCli, unwritable: Path,
                                                                  tenant: DataverseClient) -> None:
    result = cli("backlog", "import", "leads-example.csv", "--rejects", str(unwritable))
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "--rejects" in line and f"cannot write {unwritable}" in line
    assert tenant.records.count("lead") == 0


def test_unwritable_default_rejects_folder_is_refused(cli: RunCli, workdir: Path, tenant: DataverseClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "leads-example.rejects.csv").mkdir()  # the default rejects path is taken by a folder
    result = cli("backlog", "import", "leads-example.csv")
    assert result.exit_code == 2
    assert "it is a folder" in _one_error_line(result.output)
    assert tenant.records.count("lead") == 0


@pytest.mark.parametrize("option", ["--results", "--journal"])
def test_unwritable_triage_outputs_are_refused_before_any_change(option: str, cli: RunCli, unwritable: Path,
                                                                 workdir: Path, tenant: DataverseClient) -> None:
    assert cli("backlog", "import", "leads-example.csv").exit_code == 1  # 6 leads, some rows rejected
    result = cli("backlog", "triage", "rules-example.yaml", "--no-progress", option, str(unwritable))
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert option in line and str(unwritable) in line
    assert tenant.records.count("lead", filter="statecode eq 0") == 6
    assert not list(workdir.glob("triage-*.csv"))


def test_unwritable_pipeline_output_is_refused(cli: RunCli, unwritable: Path) -> None:
    for fmt in ("table", "markdown", "html"):
        result = cli("pipeline", "--format", fmt, "--output", str(unwritable))
        assert result.exit_code == 2
        assert f"--output: cannot write {unwritable}" in _one_error_line(result.output)


def test_a_writable_output_check_leaves_no_file_behind(cli: RunCli, workdir: Path) -> None:
    result = cli("backlog", "import", "leads-example.csv", "--dry-run")
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in workdir.iterdir() if "rejects" in p.name) == []


def test_bad_rule_filter_names_the_file_rule_and_filter(cli: RunCli, workdir: Path) -> None:
    (workdir / "r5.yaml").write_text("rules:\n  - name: big budgets\n    when: {filter: 'budgetamount lt'}\n"
                                     "    action: leave\n")
    result = cli("backlog", "triage", "r5.yaml", "--dry-run")
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "rules file r5.yaml" in line and "rule 'big budgets'" in line and "invalid filter 'budgetamount lt'" in line
    assert "http://" not in line and "$filter" not in line


def test_unknown_column_in_a_rule_filter_names_the_rule(cli: RunCli, workdir: Path) -> None:
    (workdir / "r6.yaml").write_text("rules:\n  - name: typo\n    when: {filter: 'budgetamout gt 5'}\n"
                                     "    action: leave\n")
    result = cli("backlog", "triage", "r6.yaml", "--dry-run")
    assert result.exit_code == 2
    assert "rule 'typo': invalid filter 'budgetamout gt 5'" in _one_error_line(result.output)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "- a list\n"])
def test_empty_or_shapeless_rules_file_is_explained(content: str, cli: RunCli, workdir: Path) -> None:
    (workdir / "r7.yaml").write_text(content)
    result = cli("backlog", "triage", "r7.yaml", "--dry-run")
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "rules file r7.yaml" in line and "expected a mapping with 'rules:'" in line
    assert "RuleSet" not in line


def test_dry_run_prints_rejects_and_writes_no_file(cli: RunCli, workdir: Path) -> None:
    result = cli("backlog", "import", "leads-example.csv", "--dry-run")
    assert result.exit_code == 1
    assert "Rejected rows" in result.output and "emailaddress1" in result.output
    assert not (workdir / "leads-example.rejects.csv").exists()
    assert "rejects:" not in result.output


def test_dry_run_writes_rejects_when_asked(cli: RunCli, workdir: Path) -> None:
    (workdir / "out").mkdir()
    result = cli("backlog", "import", "leads-example.csv", "--dry-run", "--rejects", "out/r.csv")
    assert result.exit_code == 1
    written = (workdir / "out" / "r.csv").read_text(encoding="utf-8-sig")
    assert written.startswith("line,field,reason,value")
    assert "rejects: out/r.csv" in result.output


def test_output_is_not_wrapped_when_not_a_terminal(cli: RunCli, workdir: Path) -> None:
    folder = workdir / ("a-rather-long-folder-name-for-the-rejects-of-this-import-" * 2)
    folder.mkdir()
    result = cli("backlog", "import", "leads-example.csv", "--dry-run", "--rejects", str(folder / "r.csv"))
    assert result.exit_code == 1
    assert f"rejects: {folder / 'r.csv'}" in result.output
    assert max(len(line) for line in result.output.splitlines()) > 150
