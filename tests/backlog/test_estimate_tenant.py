"""The dry runs' estimates use the cost model a served mock reports (``x-d365lab-cost-model``),
and fall back to the real-tenant assumption (``realistic`` at scale 1, Microsoft's limits)
when the tenant says nothing -- as a real tenant never does.

Source of the limits: Microsoft Learn, "Service protection API limits" (facts sheet section 10).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from d365lab.backlog.estimate import ASSUMED_REAL_TENANT, REPORTED_BY_TENANT, TenantModel, estimate_import
from d365lab.mock.cost_settings import cost_model_header, with_cost_model
from d365lab.mock.settings import MockSettings, ThrottleSettings
from tests.labs.cli_helpers import serve_for_cli

from .conftest import RunCli

HEADER = "Topic,Last Name,Company\n"


#: A served mock the CLI talks to over loopback HTTP (the lab tests' helper).
_tenant = contextmanager(serve_for_cli)


def _estimate_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("estimate with")]
    assert len(lines) == 1, output
    return lines[0]


def _figures(line: str) -> tuple[float, float]:
    """(server seconds, wall seconds) of an estimate line."""
    match = re.search(r"requests, ([\d.,]+) s of server time .* about ([\d.,]+) s \(binding", line)
    assert match is not None, line
    return float(match.group(1).replace(",", "")), float(match.group(2).replace(",", ""))


def _dry_runs(cli: RunCli, csv: Path) -> tuple[str, str]:
    """The import dry run's estimate (one row per request), then, after a real import of the
    example leads, the triage dry run's."""
    imported = cli("backlog", "import", str(csv), "--dry-run", "--batch-size", "1")
    assert imported.exit_code == 0, imported.output
    assert cli("backlog", "import", "leads-example.csv").exit_code == 1  # 6 leads, some rows rejected
    triage = cli("backlog", "triage", "rules-example.yaml", "--dry-run")
    assert triage.exit_code == 0, triage.output
    return _estimate_line(imported.output), _estimate_line(triage.output)


def test_dry_runs_use_the_served_model_and_fall_back_to_a_real_tenant(
        cli: RunCli, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = workdir / "many.csv"
    csv.write_text(HEADER + "".join(f"Topic {i},Lead {i},Company {i}\n" for i in range(1000)), encoding="utf-8")
    with _tenant(monkeypatch, with_cost_model(MockSettings(), "realistic", 0.5)):
        served_import, served_triage = _dry_runs(cli, csv)
    with _tenant(monkeypatch, MockSettings()):
        plain_import, plain_triage = _dry_runs(cli, csv)
    for line in (served_import, served_triage):
        assert ("the 'realistic' cost model at scale 0.5 and the tenant's limits "
                "(6,000 requests and 600 s of execution per 150 s)") in line
        assert REPORTED_BY_TENANT in line
    for line in (plain_import, plain_triage):
        assert "the 'realistic' cost model at scale 1 and Microsoft's documented limits" in line
        assert ASSUMED_REAL_TENANT in line
    # 1,000 rows, one CreateMultiple each, over 4 lanes: 110 s of server time, about 33 s at scale 1.
    assert "1,000 rows, 1,001 requests" in plain_import
    served_server, served_wall = _figures(served_import)
    plain_server, plain_wall = _figures(plain_import)
    assert plain_server == pytest.approx(110, abs=1) and plain_wall == pytest.approx(33, abs=1)
    assert served_server == pytest.approx(plain_server / 2, abs=1)
    assert served_wall == pytest.approx(plain_wall / 2, abs=1)
    # Triage: 3 qualified, 2 disqualified, one page of open leads (2.5 s of server time at scale 1).
    assert _figures(served_triage)[0] == pytest.approx(_figures(plain_triage)[0] / 2, rel=0.05)


def test_the_reported_limits_decide_the_binding_limit() -> None:
    """A mock with a small execution budget says so; the estimate is then bound by it."""
    tight = with_cost_model(MockSettings(throttle=ThrottleSettings(execution_ms_per_window=10_000)), "realistic", 0.1)
    model = TenantModel.from_header(cost_model_header(tight))
    assert model.limits.window_seconds == pytest.approx(30.0)
    assert model.limits.execution_ms_per_window == 1000
    bound = estimate_import(10_000, 1000, tenant=model)
    assert bound.binding == "execution time"
    # 9.2 s of server time (at scale 0.1) at 1 s per 30 s: about 276 s.
    assert bound.server_seconds == pytest.approx(9.205)
    assert bound.wall_seconds == pytest.approx(bound.server_seconds * 30)
    unprotected = TenantModel.from_header("custom; scale=0.2; service-protection=off")
    assert "unknown here" in unprotected.basis and unprotected.cost.scale == 0.2
    assert estimate_import(10_000_000, 1000, tenant=unprotected).binding == "lanes"
    assert TenantModel.from_header("realistic; scale=oops").basis == ASSUMED_REAL_TENANT
