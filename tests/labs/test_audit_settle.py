"""Late audit rows (``lab check --audit-settle``): on a served mock whose audit rows show some
seconds after the write (``MockSettings.audit.visibility_delay_seconds``), a student who just
reactivated the lead is not proven from audit without settling, and is with it; a check that
does not need it never waits (no re-read, no extra request)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from d365lab.labs.audit_settle import pauses
from d365lab.mock.platform_settings import AuditSettings
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings
from tests.labs.cli_helpers import cli, serve_for_cli
from tests.labs.student import Browser, do_lab

#: seconds before an audit row shows (createdon has whole seconds: a row shows 3-4 s after its write)
DELAY = 4


def _served(lab_env: Path, monkeypatch: pytest.MonkeyPatch, delay: float) -> Iterator[RunningServer]:
    monkeypatch.delenv("D365LAB_AUDIT_SETTLE", raising=False)
    settings = MockSettings(audit=AuditSettings(enabled_on_new_tenant=True, visibility_delay_seconds=delay))
    yield from serve_for_cli(monkeypatch, settings)


@pytest.fixture
def late_audit(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """An audited tenant whose audit rows show DELAY seconds after the write."""
    yield from _served(lab_env, monkeypatch, DELAY)


@pytest.fixture
def prompt_audit(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """An audited tenant whose audit rows show at once."""
    yield from _served(lab_env, monkeypatch, 0)


def _browser(server: RunningServer) -> Browser:
    return Browser(server.base_url + "/api/data/v9.2/", server.token)


def task(doc: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in doc["tasks"] if t["id"] == task_id)


def check(*args: str) -> dict[str, Any]:
    result = cli("lab", "check", "--format", "json", *args)  # the lab done in French
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    doc: dict[str, Any] = result.json()
    return doc


def test_pauses_add_up_to_the_budget() -> None:
    assert pauses(5) == [1, 2, 2]
    assert pauses(10) == [1, 2, 4, 3]
    assert pauses(0.5) == [0.5]
    assert pauses(0) == []


def test_a_student_who_just_reactivated_is_proven_once_the_late_rows_show(
        late_audit: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    do_lab(browser=_browser(late_audit), stop_after="ex2.t4")
    # right away, with settling switched off by the environment variable: the disqualify row is not there yet
    monkeypatch.setenv("D365LAB_AUDIT_SETTLE", "0")
    hasty = check("--upto", "ex2.t4")
    monkeypatch.delenv("D365LAB_AUDIT_SETTLE")
    disqualify = task(hasty, "ex2.t3")
    assert disqualify["status"] in ("not_observable", "failed") and disqualify["passed"] is not True
    assert (hasty["audit_settle_seconds"], hasty["audit_rereads"], hasty["audit_waited_seconds"]) == (0, 0, 0)
    assert "relu" not in (disqualify["how_known"] or "")

    settled = check("--upto", "ex2.t4", "--audit-settle", "12")
    disqualify = task(settled, "ex2.t3")
    assert disqualify["passed"] is True and disqualify["proven_by"] == "audit", json.dumps(disqualify)
    assert disqualify["evidence_refs"]
    assert "l'audit a été relu" in disqualify["how_known"] and "--audit-settle" in disqualify["how_known"]
    assert settled["audit_settle_seconds"] == 12 and settled["audit_rereads"] >= 1
    assert 0 < settled["audit_waited_seconds"] <= 12
    assert task(settled, "ex2.t4")["passed"] is True
    assert (settled["not_observable"], settled["exit_code"]) == ([], 0)
    assert settled["score"] == settled["max_score"] > hasty["score"]


def test_a_perfect_student_costs_no_wait(prompt_audit: RunningServer) -> None:
    do_lab(browser=_browser(prompt_audit))
    default = check()  # the default --audit-settle
    assert default["audit_settle_seconds"] > 0
    assert (default["score"], default["max_score"], default["not_observable"]) == (15, 15, [])
    assert (default["audit_rereads"], default["audit_waited_seconds"]) == (0, 0)
    assert not any("relu" in (t["how_known"] or "") for t in default["tasks"])
    without = check("--audit-settle", "0")
    assert without["score"] == 15
    assert default["http_requests"] == without["http_requests"]


def test_no_wait_when_auditing_is_off(lab_env: Path) -> None:
    server = start_background(db_path=str(lab_env / "tenant.sqlite"))  # the embedded default: auditing off
    try:
        do_lab(browser=_browser(server))
    finally:
        server.stop()
    default = check("--audit-settle", "30")
    assert task(default, "ex2.t3")["status"] == "not_observable"
    assert "l'audit est désactivé" in task(default, "ex2.t3")["how_known"]
    assert (default["audit_rereads"], default["audit_waited_seconds"]) == (0, 0)
    without = check("--audit-settle", "0")
    assert default["http_requests"] == without["http_requests"]


def test_a_class_check_waits_for_late_rows_too(late_audit: RunningServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # lab check --roster takes --audit-settle as a single check does (env var unset: the option decides)
    do_lab(browser=_browser(late_audit), stop_after="ex2.t4", prefix="[S1]")
    roster = tmp_path / "class.csv"
    roster.write_text("student,prefix\nS1,[S1]\n", encoding="utf-8")
    reports = tmp_path / "reports"
    graded = cli("lab", "check", "--roster", str(roster), "--upto", "ex2.t4", "--audit-settle", "12",
                 "--format", "json", "--reports-dir", str(reports), "-q")
    assert graded.exit_code == 0, graded.stdout + graded.stderr
    (document,) = [json.loads(p.read_text(encoding="utf-8")) for p in reports.glob("*.json")]
    assert document["audit_settle_seconds"] == 12 and document["audit_rereads"] >= 1
    assert task(document, "ex2.t3")["proven_by"] == "audit"
