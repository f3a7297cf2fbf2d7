"""Seeded fault injection: 503s, dropped connections and latency, in-process and over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from d365lab.mock.app import MockApp, create_app
from d365lab.mock.faults import FaultInjection
from d365lab.mock.inprocess import ServiceRootSession, route_requests
from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings

URL = "https://faults.d365lab.test"


def faulty(**faults: float) -> MockSettings:
    return MockSettings.model_validate({"faults": faults})


def statuses_with_seed(seed: int, n: int = 40) -> list[int]:
    app = create_app(":memory:", faulty(seed=seed, error_rate=0.3))
    try:
        with route_requests(app, URL), ServiceRootSession(URL, "t") as session:
            return [session.get("WhoAmI").status_code for _ in range(n)]
    finally:
        app.close()


def count_leads(api: ServiceRootSession) -> int:
    return int(api.get("leads/$count").text.lstrip("\ufeff"))


def test_error_rate_is_reproducible_with_a_seed() -> None:
    first, again, other = statuses_with_seed(7), statuses_with_seed(7), statuses_with_seed(8)
    assert first == again
    assert first != other
    assert set(first) == {200, 503}
    assert 0 < first.count(503) < len(first)


class TestAlwaysUnavailable:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return faulty(error_rate=1.0)

    def test_503_envelope_and_the_request_did_not_run(self, api: ServiceRootSession,
                                                      mock_settings: MockSettings) -> None:
        response = api.post("leads", json={"subject": "never stored"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "0x80040216"
        assert "Service Unavailable" in response.json()["error"]["message"]
        mock_settings.faults.error_rate = 0.0
        assert count_leads(api) == 0


class TestAlwaysDropped:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return faulty(seed=3, drop_rate=1.0)

    def test_drops_raise_connection_error_and_some_writes_happened(self, api: ServiceRootSession,
                                                                   mock_settings: MockSettings) -> None:
        for i in range(20):
            with pytest.raises(requests.ConnectionError):
                api.post("leads", json={"subject": f"lead {i}"})
        mock_settings.faults.drop_rate = 0.0
        stored = count_leads(api)
        assert 0 < stored < 20  # some drops happened after the write, some before


def test_latency_is_added_before_answering(mock_app: MockApp) -> None:
    slept: list[float] = []
    app = FaultInjection(mock_app, faulty(latency_ms=250), sleep=slept.append)
    with route_requests(app, URL), ServiceRootSession(URL, "t") as session:
        assert session.get("WhoAmI").status_code == 200
    assert slept == [0.25]


def test_no_faults_configured_passes_through(mock_app: MockApp) -> None:
    slept: list[float] = []
    app = FaultInjection(mock_app, faulty(), sleep=slept.append)
    with route_requests(app, URL), ServiceRootSession(URL, "t") as session:
        assert all(session.get("WhoAmI").status_code == 200 for _ in range(5))
    assert slept == []


@pytest.fixture
def dropping_server() -> Iterator[tuple[str, str]]:
    running = start_background(settings=faulty(seed=1, drop_rate=1.0))
    try:
        yield running.base_url, running.token
    finally:
        running.stop()


def test_dropped_connection_over_loopback(dropping_server: tuple[str, str]) -> None:
    base_url, token = dropping_server
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(f"{base_url}/api/data/v9.2/WhoAmI", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).json()
