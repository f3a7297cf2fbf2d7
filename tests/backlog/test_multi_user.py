"""Spreading a triage over several application users (``--credentials``), each with its own limit."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient

from .crashkit import RULES, CrashReport, seed_leads, verify


@pytest.fixture
def open_tenant() -> Iterator[str]:
    """A loopback mock that accepts any bearer token and throttles each token separately (10 req/s)."""
    from waitress.server import create_server

    from d365lab.mock.app import create_app
    from d365lab.mock.server import RunningServer
    from d365lab.mock.settings import MockSettings, ThrottleSettings

    settings = MockSettings(token=None, throttle=ThrottleSettings(
        enabled=True, requests_per_window=10, window_seconds=1, max_concurrent=52))
    app = create_app(":memory:", settings)
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{server.effective_port}", "", app, server, thread)
    try:
        yield running.base_url
    finally:
        running.stop()


@pytest.mark.parametrize("option", ["--credentials", "--users"])
def test_two_users_share_a_triage(open_tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  option: str) -> None:
    from d365lab.cli import app

    with DataverseClient(open_tenant, StaticTokenProvider("seeder")) as client:
        expected = seed_leads(client, 30)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "second-user.env").write_text(
        f"DATAVERSE_URL={open_tenant}\nD365LAB_AUTH=token\nDATAVERSE_TOKEN=user-two\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAVERSE_URL", open_tenant)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", "user-one")
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))
    result = CliRunner().invoke(app, ["backlog", "triage", "rules.yaml", "--no-progress",
                                      option, "second-user.env", "--results", "results.csv"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "over 2 users" in result.output
    with (tmp_path / "results.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_user = Counter(r["processed_by"] for r in rows)
    assert by_user == {open_tenant: 15, "user 2 (second-user.env)": 15}
    report = CrashReport()
    verify(open_tenant, "checker", expected, report)
    assert report.problems == [] and (report.qualified, report.disqualified) == (15, 15)


def test_a_credential_file_without_url_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from d365lab.cli import app

    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "bad.env").write_text("D365LAB_AUTH=token\nDATAVERSE_TOKEN=x\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("D365LAB_MOCK_DB", str(tmp_path / "tenant.sqlite"))
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))
    for var in ("DATAVERSE_URL", "D365LAB_AUTH", "DATAVERSE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["backlog", "triage", "rules.yaml", "--credentials", "bad.env"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "DATAVERSE_URL" in result.output
