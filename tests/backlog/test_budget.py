"""The client's service-protection budget against a mock with the server cost model, and the
dry runs' predictions."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from d365lab.auth import StaticTokenProvider
from d365lab.backlog.budget import ServiceLimits, UserLanes
from d365lab.backlog.estimate import estimate_import, estimate_triage
from d365lab.backlog.writer import LeadWriter
from d365lab.client import DataverseClient
from d365lab.mock.cost_settings import cost_preset, with_cost_model
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings, ThrottleSettings
from d365lab.transport import RetryPolicy

from .conftest import RunCli

#: The mock's limits before scaling: 300 ms of execution time per 1 s window at scale 0.1, less than
#: the 4 lanes would use (about 400 ms/s), so the budget must pace them.
TIGHT = ThrottleSettings(execution_ms_per_window=3000, window_seconds=10.0)
SCALE = 0.1


@pytest.fixture
def tight_tenant() -> Iterator[RunningServer]:
    running = start_background(settings=with_cost_model(MockSettings(throttle=TIGHT), "realistic", SCALE))
    try:
        yield running
    finally:
        running.stop()


def _client(running: RunningServer, statuses: Counter[int]) -> DataverseClient:
    client = DataverseClient(running.base_url, StaticTokenProvider(running.token),
                             retry=RetryPolicy(max_attempts=20, max_total_wait=120))

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        statuses[response.status_code] += 1

    client.transport.session.hooks["response"].append(count)
    return client


def _import(client: DataverseClient, limits: ServiceLimits, rows: int) -> int:
    with UserLanes([client], limits) as lanes:
        writer = LeadWriter(client, chunk_size=100, validated=True, lanes=lanes)
        with writer.stream() as stream:
            for line in range(rows):
                stream.add(line, {"subject": f"budget {line}", "lastname": f"L{line}"})
    assert not stream.result.refused
    return len(stream.result.ids)


def test_lanes_stay_under_the_execution_time_limit(tight_tenant: RunningServer) -> None:
    statuses: Counter[int] = Counter()
    with _client(tight_tenant, statuses) as client:
        limits = ServiceLimits(execution_ms_per_window=TIGHT.execution_ms_per_window * SCALE,
                               window_seconds=TIGHT.window_seconds * SCALE)
        assert _import(client, limits, 2000) == 2000
        assert client.records.count("lead") == 2000
    # The lanes' first chunks leave together, before any server time has been measured; on a
    # slow moment that opening burst alone can overrun a window this tight once. Pacing is what
    # keeps every later window under the limit (the control below gets about 6).
    assert statuses[429] <= 1 and statuses[200] >= 20


def test_without_the_budget_the_same_import_is_throttled(tight_tenant: RunningServer) -> None:
    """The control: a client that believes the documented limits overruns the tight ones and gets 429s."""
    statuses: Counter[int] = Counter()
    with _client(tight_tenant, statuses) as client:
        assert _import(client, ServiceLimits(), 2000) == 2000
    assert statuses[429] >= 3


def test_estimates_name_the_binding_limit() -> None:
    one = estimate_import(100_000, 1000, users=1, lanes=4)
    two = estimate_import(100_000, 1000, users=2, lanes=4)
    assert one.requests == 101 and one.binding == "lanes"
    assert two.wall_seconds == pytest.approx(one.wall_seconds / 2)
    assert one.server_seconds == pytest.approx(100 * (0.01 + 0.09 + 1000 * 0.009) + 0.01 + 0.04 + 1.0)
    slow = estimate_import(100_000, 1000, lanes=52)
    assert slow.binding == "lanes"  # 911 s fit in one window's 1,200 s
    big = estimate_import(1_000_000, 1000, lanes=52)
    assert big.binding == "execution time"
    assert big.wall_seconds == pytest.approx(big.server_seconds / 4.0)
    triage = estimate_triage(5000, 5000, lanes=4)
    assert triage.binding == "request count" and triage.requests == 15_002  # 2 pages of open leads
    assert triage.wall_seconds == pytest.approx(15_002 / 20)
    scaled = estimate_triage(5000, 5000, lanes=4, cost=cost_preset("realistic", 0.1),
                             limits=ServiceLimits().scaled(0.1))
    assert scaled.wall_seconds == pytest.approx(triage.wall_seconds / 10)


def test_dry_runs_print_the_estimate(cli: RunCli, workdir: Path) -> None:
    result = cli("backlog", "import", "leads-example.csv", "--dry-run")
    line = r"6 rows, 2 requests, .* about \d+(\.\d)? s \(binding limit: lanes\)"
    assert re.search(line, result.output), result.output
    assert "about 0 s" not in result.output  # a sub-second job shows tenths, not zero
    cli("backlog", "import", "leads-example.csv")
    triage = cli("backlog", "triage", "rules-example.yaml", "--dry-run")
    assert triage.exit_code == 0, triage.output
    # 3 qualified (re-read + QualifyLead), 2 disqualified, 1 page of open leads
    assert re.search(r"5 rows, 9 requests, .*binding limit: lanes", triage.output), triage.output
