"""Running the ``d365lab`` CLI in-process, as a user types it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from d365lab.cli import app
from d365lab.connect import connect
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings

RUNNER = CliRunner()


class Result:
    """Exit code and outputs of one command."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli(*args: str) -> Result:
    """Run ``d365lab <args>`` and return its exit code and outputs."""
    result = RUNNER.invoke(app, list(args), catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def rows(table: str, filter: str | None = None, select: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of the embedded tenant (read through the client, as any user could)."""
    with connect() as client:
        return list(client.records.list(table, filter=filter, select=list(select) or None))


def serve_for_cli(monkeypatch: pytest.MonkeyPatch, settings: MockSettings) -> Iterator[RunningServer]:
    """A mock tenant started with ``settings``, configured as the CLI's tenant (``DATAVERSE_URL``, a token)."""
    server = start_background(db_path=":memory:", settings=settings)
    monkeypatch.setenv("DATAVERSE_URL", server.base_url)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", server.token)
    try:
        yield server
    finally:
        server.stop()
