"""Service-protection limits: in-process with an injected clock, and over real loopback HTTP with threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from waitress import create_server

from d365lab.mock.app import MockApp
from d365lab.mock.inprocess import ServiceRootSession, route_requests
from d365lab.mock.protection import BURST_HEADER, TIME_HEADER, ServiceProtection
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings

GUARDED_URL = "https://guarded.d365lab.test"
REQUESTS_MESSAGE = "Number of requests exceeded the limit of 3 over time window of 300 seconds."


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(**limits: Any) -> MockSettings:
    return MockSettings.model_validate({"throttle": {"enabled": True, **limits}})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def guarded_session(app: Any, token: str = "caller-a") -> Iterator[ServiceRootSession]:
    with route_requests(app, GUARDED_URL), ServiceRootSession(GUARDED_URL, token) as session:
        yield session


@pytest.fixture
def limited(mock_app: MockApp, clock: FakeClock) -> Iterator[ServiceRootSession]:
    """A session through ServiceProtection(3 requests / 300 s) around the mock app."""
    yield from guarded_session(ServiceProtection(mock_app, throttle(requests_per_window=3), clock=clock))


def test_request_limit_then_retry_after_then_success(limited: ServiceRootSession, clock: FakeClock) -> None:
    remaining = []
    for _ in range(3):
        response = limited.get("WhoAmI")
        assert response.status_code == 200
        remaining.append(response.headers[BURST_HEADER])
    assert remaining == ["2", "1", "0"]
    refused = limited.get("WhoAmI")
    assert refused.status_code == 429
    assert refused.json()["error"] == {"code": "0x80072322", "message": REQUESTS_MESSAGE}
    assert refused.headers["Retry-After"] == "300"
    clock.now += 120.4
    assert limited.get("WhoAmI").headers["Retry-After"] == "180"  # ceil(179.6)
    clock.now += 180
    assert limited.get("WhoAmI").status_code == 200


def test_refused_requests_do_not_write(limited: ServiceRootSession) -> None:
    for i in range(3):
        assert limited.post("leads", json={"subject": f"s{i}"}).status_code == 204
    assert limited.post("leads", json={"subject": "refused"}).status_code == 429


def test_limits_are_per_caller(mock_app: MockApp, clock: FakeClock) -> None:
    guarded = ServiceProtection(mock_app, throttle(requests_per_window=1), clock=clock)
    with route_requests(guarded, GUARDED_URL):
        with ServiceRootSession(GUARDED_URL, "a") as first, ServiceRootSession(GUARDED_URL, "b") as second:
            assert first.get("WhoAmI").status_code == 200
            assert first.get("WhoAmI").status_code == 429
            assert second.get("WhoAmI").status_code == 200


def test_batch_counts_as_one_request(limited: ServiceRootSession) -> None:
    crlf = "\r\n"
    get_part = (f"--b{crlf}Content-Type: application/http{crlf}Content-Transfer-Encoding: binary{crlf}{crlf}"
                f"GET WhoAmI HTTP/1.1{crlf}{crlf}")
    body = get_part * 5 + f"--b--{crlf}"
    response = limited.post("$batch", data=body.encode(), headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert response.status_code == 200
    assert response.headers[BURST_HEADER] == "2"


def test_fixed_retry_after_setting(mock_app: MockApp, clock: FakeClock) -> None:
    guarded = ServiceProtection(mock_app, throttle(requests_per_window=1, retry_after_seconds=7), clock=clock)
    for session in guarded_session(guarded):
        session.get("WhoAmI")
        assert session.get("WhoAmI").headers["Retry-After"] == "7"


def test_execution_time_limit(mock_app: MockApp, clock: FakeClock) -> None:
    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        clock.now += 0.6  # every request "takes" 600 ms
        result: Iterable[bytes] = mock_app(environ, start_response)
        return result

    guarded = ServiceProtection(slow_app, throttle(execution_ms_per_window=1000), clock=clock)
    for session in guarded_session(guarded):
        first = session.get("WhoAmI")
        assert first.status_code == 200
        assert int(first.headers[TIME_HEADER]) == 400
        assert session.get("WhoAmI").status_code == 200
        refused = session.get("WhoAmI")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "0x80072321"
        assert refused.json()["error"]["message"].startswith(
            "Combined execution time of incoming requests exceeded limit of 1,000  milliseconds")
        assert int(refused.headers["Retry-After"]) >= 1
        clock.now += 301
        assert session.get("WhoAmI").status_code == 200


def test_disabled_protection_passes_everything(mock_app: MockApp, clock: FakeClock) -> None:
    settings = MockSettings.model_validate({"throttle": {"enabled": False, "requests_per_window": 1}})
    for session in guarded_session(ServiceProtection(mock_app, settings, clock=clock)):
        for _ in range(3):
            response = session.get("WhoAmI")
            assert response.status_code == 200
            assert BURST_HEADER not in response.headers


class TestWiredIntoTheApp:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return throttle(requests_per_window=2)

    def test_the_app_throttles_when_enabled(self, api: ServiceRootSession) -> None:
        assert api.get("WhoAmI").status_code == 200
        assert api.get("WhoAmI").status_code == 200
        refused = api.get("WhoAmI")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0


def test_request_limit_with_threads_over_loopback() -> None:
    running = start_background(settings=throttle(requests_per_window=5))
    try:
        def call(_: int) -> int:
            return requests.get(f"{running.base_url}/api/data/v9.2/WhoAmI", timeout=30,
                                headers={"Authorization": f"Bearer {running.token}"}).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(call, range(12)))
    finally:
        running.stop()
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


def test_concurrency_limit_over_loopback(mock_app: MockApp) -> None:
    entered, release = threading.Event(), threading.Event()

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_HOLD"):
            entered.set()
            release.wait(timeout=30)
        result: Iterable[bytes] = mock_app(environ, start_response)
        return result

    guarded = ServiceProtection(gate, throttle(max_concurrent=1))
    server = create_server(guarded, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    running = RunningServer(f"http://127.0.0.1:{server.effective_port}", "t", mock_app, server, thread)
    url = f"{running.base_url}/api/data/v9.2/WhoAmI"
    auth = {"Authorization": "Bearer t"}
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            held = pool.submit(requests.get, url, headers={**auth, "X-Hold": "1"}, timeout=30)
            assert entered.wait(timeout=30)
            refused = requests.get(url, headers=auth, timeout=30)
            release.set()
            assert held.result().status_code == 200
        assert refused.status_code == 429
        assert refused.json()["error"] == {"code": "0x80072326",
                                           "message": "Number of concurrent requests exceeded the limit of 1."}
        assert int(refused.headers["Retry-After"]) >= 1
        assert requests.get(url, headers=auth, timeout=30).status_code == 200
    finally:
        release.set()
        running.stop()
