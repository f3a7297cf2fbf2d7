"""What ``backlog import`` / ``triage`` make of imperfect inputs, as an admin runs them.

- Reject line numbers are spreadsheet rows (header = 1), also after a quoted multi-line cell.
- A row with fewer fields than the header (a truncated export) is rejected, never guessed.
- A mapping file with an unknown key is refused, naming the key and the file.
- A ``--credentials`` file whose user cannot sign in is named in the error.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from d365lab.client import DataverseClient

from .conftest import RunCli

HEADER = "Topic,First Name,Last Name,Company,Email,Description\n"


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_reject_lines_are_spreadsheet_rows_after_a_multi_line_cell(cli: RunCli, workdir: Path,
                                                                   tenant: DataverseClient) -> None:
    (workdir / "ml.csv").write_text(
        HEADER
        + 'Row 2,Ann,Roe,Contoso,ann@contoso.example,"multi\nline\ndescription"\n'   # file lines 2-4
        + "Row 3,Bo,Roe,Contoso,not-an-email,\n"                                    # file line 5
        + "Row 4,Cy,,Contoso,cy@contoso.example,\n", encoding="utf-8")               # file line 6
    result = cli("backlog", "import", "ml.csv", "--rejects", "ml.rejects.csv")
    assert result.exit_code == 1, result.output
    assert [(r["line"], r["field"]) for r in _rejects(workdir / "ml.rejects.csv")] == [
        ("3", "emailaddress1"), ("4", "lastname")]
    descriptions = [r["description"] for r in tenant.records.list("lead", select=["description"])]
    assert descriptions == ["multi\nline\ndescription"]


def test_duplicate_within_the_file_names_the_spreadsheet_row(cli: RunCli, workdir: Path) -> None:
    (workdir / "dup.csv").write_text(
        HEADER + 'First,Ann,Roe,Contoso,ann@contoso.example,"two\nlines"\n'
        + "Again,Ann,Roe,Contoso,ann@contoso.example,\n", encoding="utf-8")
    result = cli("backlog", "import", "dup.csv", "--rejects", "dup.rejects.csv")
    assert result.exit_code == 0, result.output   # a skipped duplicate is not an error
    (reject,) = _rejects(workdir / "dup.rejects.csv")
    assert reject["line"] == "3" and "duplicate of line 2" in reject["reason"]


def test_rows_with_fewer_fields_than_the_header_are_rejected(cli: RunCli, workdir: Path,
                                                             tenant: DataverseClient) -> None:
    (workdir / "short.csv").write_text(
        HEADER
        + "Complete,Ann,Roe,Contoso,ann@contoso.example,notes\n"
        + "Truncated,Bo,Roe\n"
        + "Empty trailing cells written,Cy,Roe,,,\n", encoding="utf-8")
    result = cli("backlog", "import", "short.csv", "--rejects", "short.rejects.csv")
    assert result.exit_code == 1, result.output
    (reject,) = _rejects(workdir / "short.rejects.csv")
    assert reject == {"line": "3", "field": "row", "reason": "has 3 fields, header has 6",
                      "value": "Truncated,Bo,Roe"}
    subjects = sorted(r["subject"] for r in tenant.records.list("lead", select=["subject"]))
    assert subjects == ["Complete", "Empty trailing cells written"]
    assert "invalid (rejected)" in result.output and "rows read" in result.output


def test_dry_run_counts_a_short_row_as_rejected(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    (workdir / "short.csv").write_text(HEADER + "Truncated,Bo,Roe\n", encoding="utf-8")
    result = cli("backlog", "import", "short.csv", "--dry-run")
    assert result.exit_code == 1, result.output
    assert "has 3 fields, header has 6" in result.output
    assert tenant.records.count("lead") == 0


@pytest.mark.parametrize(("content", "key"), [
    ("headres:\n  Badge ID: description\n", "'headres'"),
    ("rules:\n  - name: x\n    action: leave\n", "'rules'"),
])
def test_unknown_mapping_key_is_refused_naming_key_and_file(content: str, key: str, cli: RunCli,
                                                            workdir: Path, tenant: DataverseClient) -> None:
    (workdir / "typo-map.yaml").write_text(content, encoding="utf-8")
    result = cli("backlog", "import", "leads-example.csv", "--mapping", "typo-map.yaml")
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"mapping file typo-map.yaml: unknown key {key}" in message
    assert "columns, defaults, ignore" in message
    assert tenant.records.count("lead") == 0


@pytest.fixture
def guarded_tenant() -> Iterator[str]:
    """A loopback mock that accepts only the bearer token ``good``."""
    from waitress.server import create_server

    from d365lab.mock.app import create_app
    from d365lab.mock.server import RunningServer
    from d365lab.mock.settings import MockSettings

    app = create_app(":memory:", MockSettings(token="good"))
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{server.effective_port}", "", app, server, thread)
    try:
        yield running.base_url
    finally:
        running.stop()


def test_a_credential_file_that_cannot_sign_in_is_named(guarded_tenant: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from d365lab.cli import app

    (tmp_path / "rules.yaml").write_text("rules:\n  - name: all\n    action: leave\n", encoding="utf-8")
    for name, token in (("user2.env", "good"), ("user3.env", "wrong")):
        (tmp_path / name).write_text(f"DATAVERSE_URL={guarded_tenant}\nD365LAB_AUTH=token\n"
                                     f"DATAVERSE_TOKEN={token}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAVERSE_URL", guarded_tenant)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", "good")
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))
    result = CliRunner().invoke(app, ["backlog", "triage", "rules.yaml", "--no-progress",
                                      "--credentials", "user2.env", "--credentials", "user3.env"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert message.startswith("error: --credentials user3.env: ") and "401" in message, message
    assert "user2.env" not in message and "wrong" not in message   # the good file is not blamed; no secret shown
