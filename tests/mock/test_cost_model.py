"""The server cost model over real loopback HTTP: modelled server time feeds the limits,
429s carry the service's codes and Retry-After, and 52 requests can wait at once.

Source: Microsoft Learn, "Service protection API limits" and "Use bulk operation messages".
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from typer.testing import CliRunner

from d365lab.cli import app as cli_app
from d365lab.mock.cost_settings import CostSettings, with_cost_model
from d365lab.mock.protection import TIME_HEADER
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings, ThrottleSettings


@contextmanager
def _serve(settings: MockSettings) -> Iterator[RunningServer]:
    running = start_background(settings=settings)
    try:
        yield running
    finally:
        running.stop()


def _session(running: RunningServer, token: str | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token or running.token}"
    return session


def _leads(count: int) -> dict[str, object]:
    return {"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.lead", "lastname": f"Cost {i}",
                         "subject": "cost model"} for i in range(count)]}


@pytest.fixture
def tight() -> Iterator[RunningServer]:
    """Realistic preset at scale 0.1 with a 2,000 ms (scaled: 200 ms) execution-time budget."""
    base = MockSettings(throttle=ThrottleSettings(execution_ms_per_window=2000))
    with _serve(with_cost_model(base, "realistic", 0.1)) as running:
        yield running


def test_realistic_preset_scales_windows_times_and_sets_the_dop_hint() -> None:
    settings = with_cost_model(MockSettings(), "realistic", 0.1)
    assert settings.throttle.enabled
    assert settings.throttle.window_seconds == pytest.approx(30.0)
    assert settings.throttle.execution_ms_per_window == 120_000
    assert settings.throttle.requests_per_window == 6000
    assert settings.cost.scale == 0.1 and settings.cost.enabled
    none = with_cost_model(MockSettings(), "none", 0.1)
    assert not none.cost.enabled and not none.throttle.enabled
    assert none.throttle.window_seconds == 300.0


def test_bulk_server_time_is_charged_per_row(tight: RunningServer) -> None:
    session = _session(tight)
    url = tight.base_url + "/api/data/v9.2/leads/Microsoft.Dynamics.CRM.CreateMultiple"
    first = session.post(url, json=_leads(5))
    assert first.status_code == 200, first.text
    assert first.headers["x-ms-dop-hint"] == "4"
    second = session.post(url, json=_leads(50))
    assert second.status_code == 200, second.text
    # 5 rows: (10 + 90 + 5*9) ms * 0.1 = 14.5 ms; 50 rows: (10 + 90 + 50*9) * 0.1 = 55 ms.
    used_first = 200 - int(first.headers[TIME_HEADER])
    used_second = int(first.headers[TIME_HEADER]) - int(second.headers[TIME_HEADER])
    assert used_first >= 14 and used_second >= 54
    assert used_second > used_first


def test_execution_time_limit_answers_429_with_its_code_and_retry_after(tight: RunningServer) -> None:
    session = _session(tight)
    url = tight.base_url + "/api/data/v9.2/leads/Microsoft.Dynamics.CRM.CreateMultiple"
    statuses = []
    for _ in range(6):  # 100 rows = 100 ms each at scale 0.1; the budget is 200 ms
        response = session.post(url, json=_leads(100))
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429 and statuses.count(200) >= 2
    assert response.json()["error"]["code"] == "0x80072321"
    assert "Combined execution time" in response.json()["error"]["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 30  # the scaled window is 30 s


def test_request_count_limit_under_the_model() -> None:
    base = MockSettings(throttle=ThrottleSettings(requests_per_window=3))
    with _serve(with_cost_model(base, "realistic", 0.01)) as running:
        session = _session(running)
        answers = [session.get(running.base_url + "/api/data/v9.2/WhoAmI") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].json()["error"]["code"] == "0x80072322"
        assert int(answers[-1].headers["Retry-After"]) >= 1


def test_52_requests_wait_at_once_and_the_53rd_is_refused() -> None:
    settings = MockSettings(throttle=ThrottleSettings(enabled=True),
                            cost=CostSettings(enabled=True, name="test", read_ms=4000))
    with _serve(settings) as running:
        url = running.base_url + "/api/data/v9.2/WhoAmI"
        with ThreadPoolExecutor(max_workers=58) as pool:
            answers = list(pool.map(lambda _: _session(running).get(url, timeout=60), range(58)))
        codes = [a.json()["error"]["code"] for a in answers if a.status_code == 429]
        assert sum(a.status_code == 200 for a in answers) == 52
        assert codes == ["0x80072326"] * 6


def test_serve_refuses_an_unknown_cost_model() -> None:
    result = CliRunner().invoke(cli_app, ["mock", "serve", "--cost-model", "cheap", "--port", "1"])
    assert result.exit_code == 2
    assert "unknown cost model" in result.output
