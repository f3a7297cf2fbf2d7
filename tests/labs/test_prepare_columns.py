"""``lab prepare`` switches column-level auditing on (lead statecode/statuscode), the documented
way: the column's definition PUT back with ``IsAuditEnabled.Value`` true, then ``PublishXml``.
Run through the CLI against a started mock whose columns start unaudited, and whose user may
lack the customizer role. Sources: Microsoft Learn, "Configure auditing" (changes take effect once
published) and "Create and update column definitions using the Web API" ("Update a column")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from d365lab.mock.platform_settings import AuditSettings
from d365lab.mock.server import RunningServer
from d365lab.mock.settings import MockSettings
from tests.labs.cli_helpers import cli, serve_for_cli
from tests.labs.student import Browser, do_lab

OFF = {"lead": ["statecode", "statuscode"]}


def _serve(monkeypatch: pytest.MonkeyPatch, **audit: Any) -> Iterator[RunningServer]:
    yield from serve_for_cli(monkeypatch, MockSettings(audit=AuditSettings(**audit)))


@pytest.fixture
def columns_off(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A tenant whose lead statecode/statuscode are not audited (auditing off everywhere else too)."""
    yield from _serve(monkeypatch, unaudited_columns=OFF)


@pytest.fixture
def not_a_customizer(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """The same tenant, signed in as a user without System Administrator / System Customizer."""
    yield from _serve(monkeypatch, unaudited_columns=OFF, caller_can_customize=False)


def column_flags(server: RunningServer) -> dict[str, bool]:
    """What the tenant reports, read as any user could."""
    response = requests.get(f"{server.base_url}/api/data/v9.2/EntityDefinitions(LogicalName='lead')/Attributes"
                            "?$select=LogicalName,IsAuditEnabled"
                            "&$filter=LogicalName eq 'statecode' or LogicalName eq 'statuscode'",
                            headers={"Authorization": f"Bearer {server.token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return {row["LogicalName"]: row["IsAuditEnabled"]["Value"] for row in response.json()["value"]}


def test_prepare_switches_the_columns_on_and_publishes(columns_off: RunningServer) -> None:
    assert column_flags(columns_off) == {"statecode": False, "statuscode": False}
    prepared = cli("lab", "prepare", "--lang", "en")
    assert prepared.exit_code == 0, prepared.stdout + prepared.stderr
    out = prepared.stdout
    assert "set auditing of column lead.statecode: switched on" in out
    assert "set auditing of column lead.statuscode: switched on" in out
    assert "set published the customizations of " in out and "lead" in out.split("published the customizations")[1]
    assert "the tenant is gradable" in out and "!!" not in prepared.stderr
    assert column_flags(columns_off) == {"statecode": True, "statuscode": True}

    again = cli("lab", "prepare", "--lang", "en")  # idempotent: nothing left to switch on or publish
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "ok  auditing of columns of lead (statecode, statuscode): on" in again.stdout
    assert "switched on" not in again.stdout and "published" not in again.stdout

    # the grader reads the values back: the disqualify is proven from the audit rows' statecode/statuscode
    do_lab(browser=Browser(columns_off.base_url + "/api/data/v9.2/", columns_off.token))
    result = cli("lab", "check", "--format", "json", "--audit-settle", "0")
    assert result.exit_code == 0, result.stdout + result.stderr
    disqualify = next(t for t in result.json()["tasks"] if t["id"] == "ex2.t3")
    assert disqualify["passed"] is True and disqualify["proven_by"] == "audit"
    assert "statecode 0→2" in disqualify["how_known"] and "statuscode 1→6" in disqualify["how_known"]


def test_a_user_without_the_privilege_gets_clear_lines_and_exit_2(not_a_customizer: RunningServer) -> None:
    prepared = cli("lab", "prepare", "--lang", "en")
    assert prepared.exit_code == 2, prepared.stdout + prepared.stderr
    errors = prepared.stderr
    assert "!!  auditing (environment): could not switch it on" in errors
    assert "!!  auditing of column lead.statecode: could not switch it on" in errors
    assert "is missing prvWriteAttribute privilege" in errors
    assert "a System Administrator or System Customizer can" in errors
    assert "the tenant cannot be made gradable" in errors
    assert "Traceback" not in prepared.stdout + errors
    assert column_flags(not_a_customizer) == {"statecode": False, "statuscode": False}
