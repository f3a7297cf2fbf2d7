"""An unusable ``D365LAB_MOCK_DB`` is a configuration error naming the variable and the path, exit 2;
credentials set while ``DATAVERSE_URL`` is empty are reported as ignored (names only)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from d365lab.config import ConfigurationError
from d365lab.connect import connect

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"
COMMANDS = {
    "whoami": ["whoami"],
    "pipeline": ["pipeline"],
    "import": ["backlog", "import", "leads-example.csv", "--dry-run"],
    "triage": ["backlog", "triage", "rules-example.yaml", "--dry-run"],
}


@pytest.fixture(autouse=True)
def mock_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DATAVERSE_URL", "D365LAB_AUTH", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                "DATAVERSE_TOKEN", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    for name in ("leads-example.csv", "rules-example.yaml"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "notdb.sqlite"
    path.write_text("garbage, not SQLite\n" * 50)
    return path


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", ["missing folder", "not a database"])
def test_every_command_names_the_variable_and_path(command: str, kind: str, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    from d365lab.cli import app

    path = tmp_path / "no-such-folder" / "t.sqlite" if kind == "missing folder" else _not_a_database(tmp_path)
    monkeypatch.setenv("D365LAB_MOCK_DB", str(path))
    result = CliRunner().invoke(app, COMMANDS[command], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "D365LAB_MOCK_DB" in lines[0] and str(path) in lines[0]


def test_connect_raises_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("D365LAB_MOCK_DB", str(_not_a_database(tmp_path)))
    with pytest.raises(ConfigurationError) as info:
        connect()
    assert info.value.variable == "D365LAB_MOCK_DB"
    assert "file is not a database" in str(info.value)


def test_ignored_credentials_are_named_by_config_and_logged_by_connect(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from d365lab.cli import app

    monkeypatch.setenv("D365LAB_MOCK_DB", ":memory:")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "very-secret-value")
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant-xyz")
    result = CliRunner().invoke(app, ["config"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Ignored" in result.output and "AZURE_TENANT_ID, AZURE_CLIENT_SECRET" in result.output
    assert "very-secret-value" not in result.output and "tenant-xyz" not in result.output
    with caplog.at_level(logging.WARNING, logger="d365lab.connect"), connect() as client:
        assert client.tenant_label.startswith("mock tenant")
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "AZURE_CLIENT_SECRET" in warning and "ignored" in warning
    assert "very-secret-value" not in warning


def test_config_without_stray_credentials_mentions_nothing_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    from d365lab.cli import app

    result = CliRunner().invoke(app, ["config"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Ignored" not in result.output
