"""Fixtures for the backlog CLI tests: a persistent embedded mock tenant per test, and the CLI."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from d365lab.client import DataverseClient
from d365lab.pytest_plugin import d365_server, d365_server_client  # noqa: F401  (fixtures)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"

RunCli = Callable[..., Result]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with copies of the example files; the embedded mock and journal live there."""
    for name in FIXTURES.iterdir():
        shutil.copy(name, tmp_path / name.name)
    monkeypatch.chdir(tmp_path)
    for var in ("DATAVERSE_URL", "D365LAB_AUTH", "DATAVERSE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("D365LAB_MOCK_DB", str(tmp_path / "tenant.sqlite"))
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))
    return tmp_path


@pytest.fixture
def cli(workdir: Path) -> RunCli:
    """Run ``d365lab ARGS...`` as a user would (same process, typer's runner)."""
    from d365lab.cli import app

    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False)
    return run


@pytest.fixture
def tenant(workdir: Path) -> Iterator[DataverseClient]:
    """A client on the same embedded tenant the CLI uses (to check outcomes independently)."""
    from d365lab.connect import connect

    with connect() as client:
        yield client
