"""Fixtures for the backlog CLI tests: a persistent embedded mock tenant per test, and the CLI."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from d365lab.client import DataverseClient
from d365lab.pytest_plugin import d365_server, d365_server_client  # noqa: F401  (fixtures)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"

RunCli = Callable[..., Result]
StartCli = Callable[[list[str], dict[str, str], Path], "subprocess.Popen[bytes]"]


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


@dataclass(frozen=True)
class Served:
    """A mock tenant served over loopback, for CLI processes."""

    base_url: str
    token: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """One mock tenant served over loopback (a little latency so runs overlap and kills land mid-run)."""
    from d365lab.mock.server import start_background
    from d365lab.mock.settings import FaultSettings, MockSettings

    running = start_background(db_path=str(tmp_path / "tenant.sqlite"),
                               settings=MockSettings(faults=FaultSettings(latency_ms=5)))
    try:
        yield Served(running.base_url, running.token)
    finally:
        running.stop()


@pytest.fixture
def start_cli() -> Iterator[StartCli]:
    """Start the CLI in the background; whatever is still running at the end of the test is killed
    (a failed test must not leave a run retrying against a stopped tenant)."""
    from .crashkit import CLI

    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, cwd=cwd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            if sys.platform != "win32":
                proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.communicate()
