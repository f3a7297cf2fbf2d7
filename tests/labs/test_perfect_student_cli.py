"""The lab done by hand over HTTP (plain ``requests``, see student.py), then graded with the CLI as a
teacher runs it: on the embedded default tenant and on a served mock, with and without ``lab prepare``,
in the student's own Dataverse time zone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from d365lab.mock.server import RunningServer, start_background
from tests.labs.cli_helpers import cli, rows
from tests.labs.student import Browser, do_lab

ROOT = Path(__file__).resolve().parents[2]


def _browser(server: RunningServer | Served) -> Browser:
    return Browser(server.base_url + "/api/data/v9.2/", server.token)


def student_on_embedded_tenant(lab_env: Path, **options: Any) -> None:
    """The student works on the embedded tenant's database (served while they work)."""
    server = start_background(db_path=os.environ["D365LAB_MOCK_DB"])
    try:
        do_lab(browser=_browser(server), **options)
    finally:
        server.stop()


def task(doc: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in doc["tasks"] if t["id"] == task_id)


def test_embedded_default_without_audit_the_perfect_student_exits_0_with_ex2_t3_not_observable(
        lab_env: Path) -> None:
    student_on_embedded_tenant(lab_env)
    result = cli("lab", "check", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = result.json()
    assert (doc["score"], doc["max_score"], doc["passed"], doc["not_observable"]) == (14, 14, True, ["ex2.t3"])
    disqualify = task(doc, "ex2.t3")
    assert disqualify["passed"] is None and disqualify["status"] == "not_observable"
    assert "lab prepare" in disqualify["how_to_observe"] and "--watch" in disqualify["how_to_observe"]
    junit = ET.fromstring(cli("lab", "check", "--format", "junit").stdout)
    skipped = junit.findall(".//testcase/skipped")
    assert len(skipped) == 1 and "non observable" in (skipped[0].get("message") or "")
    assert junit.get("failures") == "0" and junit.get("skipped") == "1"
    strict = cli("lab", "check", "--require-observable", "--format", "json")
    assert strict.exit_code == 1 and strict.json()["max_score"] == 15


def test_embedded_default_after_lab_prepare_the_perfect_student_gets_15_of_15(lab_env: Path) -> None:
    prepared = cli("lab", "prepare", "--lang", "en")
    assert prepared.exit_code == 0, prepared.stdout + prepared.stderr
    assert "auditing (environment): switched on" in prepared.stdout
    assert "the tenant is gradable" in prepared.stdout
    student_on_embedded_tenant(lab_env)
    result = cli("lab", "check", "--format", "json")
    assert result.exit_code == 0, result.stdout
    doc = result.json()
    assert (doc["score"], doc["max_score"], doc["not_observable"]) == (15, 15, [])
    assert task(doc, "ex2.t3")["proven_by"] == "audit" and task(doc, "ex2.t3")["evidence_refs"]
    again = cli("lab", "prepare", "--lang", "en")  # idempotent: nothing left to switch on
    assert again.exit_code == 0 and "switched on" not in again.stdout


@dataclass
class Served:
    """A ``d365lab mock serve`` process."""

    base_url: str
    token: str


@pytest.fixture
def served_la() -> Iterator[Served]:
    """``d365lab mock serve --user-timezone America/Los_Angeles``: its user works in Los Angeles time."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    token = "teacher-token"
    process = subprocess.Popen([sys.executable, "-c", "from d365lab.cli import main; main()", "mock", "serve",
                                "--port", str(port), "--db", ":memory:", "--token", token,
                                "--user-timezone", "America/Los_Angeles"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    served = Served(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{served.base_url}/api/data/v9.2/WhoAmI", timeout=2,
                                headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "mock serve did not start"
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def _use(server: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", server.base_url)
    monkeypatch.setenv("D365LAB_AUTH", "token")
    monkeypatch.setenv("DATAVERSE_TOKEN", server.token)


def test_served_mock_a_los_angeles_student_typing_16_30_local_gets_15_of_15(
        lab_env: Path, served_la: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(served_la, monkeypatch)
    assert cli("lab", "prepare").exit_code == 0
    do_lab(browser=_browser(served_la), zone="America/Los_Angeles")
    result = cli("lab", "check", "--format", "json")
    doc = result.json()
    assert result.exit_code == 0, [c for t in doc["tasks"] for c in t["checks"] if c["status"] == "fail"]
    assert (doc["score"], doc["max_score"], doc["time_zone"]) == (15, 15, "America/Los_Angeles")
    assert doc["time_zone_source"].startswith("tenant") and "timezonecode 4" in doc["time_zone_source"]


def test_served_mock_a_los_angeles_student_typing_paris_time_fails_with_a_hint_in_their_zone(
        lab_env: Path, served_la: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(served_la, monkeypatch)
    assert cli("lab", "prepare").exit_code == 0
    do_lab(browser=_browser(served_la), zone="America/Los_Angeles", typed_zone="Europe/Paris")
    result = cli("lab", "check", "--format", "json")
    assert result.exit_code == 1
    doc = result.json()
    assert {t["id"] for t in doc["tasks"] if t["status"] == "failed"} == {"ex3.t1.b"}
    [due] = [c for c in task(doc, "ex3.t1.b")["checks"] if c["status"] == "fail"]
    assert due["field"] == "scheduledend"
    assert "16:30 America/Los_Angeles" in due["expected_label"]
    assert "America/Los_Angeles" in due["actual_label"] and "16:30" not in due["actual_label"]


def test_the_student_zone_set_in_personal_options_is_the_one_graded(lab_env: Path) -> None:
    server = start_background(db_path=os.environ["D365LAB_MOCK_DB"])
    try:
        browser = _browser(server)
        browser.set_my_time_zone(35)  # Eastern Time, as the student picks it in Personal Options
        do_lab(browser=browser, zone="America/New_York")
    finally:
        server.stop()
    doc = cli("lab", "check", "--format", "json").json()
    assert doc["time_zone"] == "America/New_York" and doc["exit_code"] == 0
    override = cli("lab", "check", "--timezone", "Europe/Paris", "--format", "json").json()
    assert override["time_zone_source"] == "--timezone" and override["exit_code"] == 1  # 16:30 is not Paris time


def test_lab_run_writes_today_16_30_in_the_tenant_users_zone(
        lab_env: Path, served_la: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(served_la, monkeypatch)
    run = cli("lab", "run", "--lang", "en", "--check", "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "time zone America/Los_Angeles (tenant: usersettings of" in run.stderr
    due = rows("phonecall", select=("scheduledend",))[0]["scheduledend"]
    local = datetime.fromisoformat(due.replace("Z", "+00:00")).astimezone(ZoneInfo("America/Los_Angeles"))
    assert local.strftime("%H:%M") == "16:30"
    assert run.json()["time_zone"] == "America/Los_Angeles"
