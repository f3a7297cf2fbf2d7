"""The server cost model over real loopback HTTP: modelled server time feeds the limits,
429s carry the service's codes and Retry-After, and 52 requests can wait at once.

Source: Microsoft Learn, "Service protection API limits", "Use bulk operation messages" and
"Execute batch operations using the Web API" (facts sheet section 9: a ``$batch`` counts as
one request, but its operations' execution time counts fully).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from typer.testing import CliRunner

from d365lab.cli import app as cli_app
from d365lab.mock.cost_settings import COST_MODEL_HEADER, SERVER_MS_HEADER, CostSettings, with_cost_model
from d365lab.mock.protection import TIME_HEADER
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings, ThrottleSettings
from tests.mock.test_batch import answers, batch_body, change_set, part


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
    # The mock-only header names the model and the limits it enforces, on refusals too.
    assert response.headers[COST_MODEL_HEADER] == ("realistic; scale=0.1; window-seconds=30; requests=6000; "
                                                   "execution-ms=200; concurrent=52")


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


# ------------------------------------------------------------------ $batch: each part costs its own message

@pytest.fixture
def realistic() -> Iterator[RunningServer]:
    """Realistic preset at scale 0.1 with the documented limits (scaled: 120,000 ms per 30 s)."""
    with _serve(with_cost_model(MockSettings(), "realistic", 0.1)) as running:
        yield running


def _post_batch(session: requests.Session, running: RunningServer, items: list[str]) -> requests.Response:
    return session.post(running.base_url + "/api/data/v9.2/$batch", data=batch_body("batch_c", items).encode(),
                        headers={"Content-Type": 'multipart/mixed; boundary="batch_c"'}, timeout=60)


def _time_left(response: requests.Response) -> int:
    return int(response.headers[TIME_HEADER])


def _create_part(i: int) -> str:
    return part("POST", "/api/data/v9.2/leads", {"lastname": f"Batch {i}", "subject": "cost model"})


def test_batch_operations_cost_their_own_message(realistic: RunningServer) -> None:
    session = _session(realistic)
    created = session.post(realistic.base_url + "/api/data/v9.2/leads/Microsoft.Dynamics.CRM.CreateMultiple",
                           json=_leads(10))
    assert created.status_code == 200, created.text
    leads = created.json()["Ids"]
    creates = _post_batch(session, realistic, [_create_part(i) for i in range(10)])
    assert creates.status_code == 200, creates.text
    assert [a.status for a in answers(creates)] == [204] * 10
    qualify = {"CreateAccount": False, "CreateContact": False, "CreateOpportunity": False, "Status": 3}
    urls = [f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead" for lead in leads]
    qualifies = _post_batch(session, realistic, [  # half of them inside a change set
        *(part("POST", url, qualify) for url in urls[:5]),
        change_set("changeset_q", [part("POST", url, qualify, str(n)) for n, url in enumerate(urls[5:], 1)])])
    assert qualifies.status_code == 200, qualifies.text
    assert [a.status for a in answers(qualifies)] == [200] * 10
    # creates: 10 ms + 10 x 38 ms; QualifyLead: 10 ms + 10 x (400 - (70 - 38)) ms; both x 0.1.
    assert float(creates.headers[SERVER_MS_HEADER]) == pytest.approx(39.0)
    assert float(qualifies.headers[SERVER_MS_HEADER]) == pytest.approx(369.0)
    # ... and that time is spent, so the execution-time limit counts it.
    assert _time_left(created) - _time_left(creates) >= 39
    assert _time_left(creates) - _time_left(qualifies) >= 369


def test_a_batch_of_100_creates_keeps_the_execute_multiple_calibration(realistic: RunningServer) -> None:
    session = _session(realistic)
    first = session.get(realistic.base_url + "/api/data/v9.2/WhoAmI")
    creates = _post_batch(session, realistic, [_create_part(i) for i in range(100)])
    assert creates.status_code == 200, creates.text
    # Microsoft: ~4 s per 100 creates with ExecuteMultiple; model: 10 + 100 x 38 ms (x 0.1).
    assert float(creates.headers[SERVER_MS_HEADER]) == pytest.approx(381.0)
    assert _time_left(first) - _time_left(creates) >= 381
    bulk = part("POST", "leads/Microsoft.Dynamics.CRM.CreateMultiple", _leads(50))
    reads = [part("GET", "leads?$select=lastname&$top=5"), part("GET", "WhoAmI")]
    mixed = _post_batch(session, realistic, [bulk, *reads])
    assert mixed.status_code == 200, mixed.text
    # CreateMultiple of 50 inside: 90 + 50 x 9 = 540 -> 508; a query 40 -> 21.7; a read 20 -> 10.9.
    assert float(mixed.headers[SERVER_MS_HEADER]) == pytest.approx((10 + 508 + 40 * 38 / 70 + 20 * 38 / 70) * 0.1,
                                                                   abs=0.06)


def test_a_malformed_batch_is_a_400_that_costs_one_request(realistic: RunningServer) -> None:
    session = _session(realistic)
    url = realistic.base_url + "/api/data/v9.2/$batch"
    for body, content_type in ((b"--batch_c\r\nno closing delimiter", 'multipart/mixed; boundary="batch_c"'),
                               (b"\xff\xfe garbage", "multipart/mixed"), (b"{}", "application/json")):
        response = session.post(url, data=body, headers={"Content-Type": content_type})
        assert response.status_code == 400, response.text
        assert "message" in response.json()["error"]
        assert float(response.headers[SERVER_MS_HEADER]) == pytest.approx(1.0)
