"""Answers the middlewares give themselves (a 429, an injected 503) carry request ids like every other answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.errors import DataverseError, ThrottledError
from d365lab.mock.server import RunningServer, start_background
from d365lab.mock.settings import MockSettings
from d365lab.transport import RetryPolicy

SERVICE_PATH = "/api/data/v9.2/"


def serving(settings: MockSettings) -> Iterator[RunningServer]:
    running = start_background(settings=settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def throttled_server() -> Iterator[RunningServer]:
    """One request per caller per 300 s: the second is refused with 429."""
    yield from serving(MockSettings.model_validate(
        {"throttle": {"enabled": True, "requests_per_window": 1, "window_seconds": 300}}))


@pytest.fixture
def unavailable_server() -> Iterator[RunningServer]:
    """Every request answered 503 by fault injection."""
    yield from serving(MockSettings.model_validate({"faults": {"error_rate": 1.0}}))


def one_attempt_client(running: RunningServer) -> DataverseClient:
    return DataverseClient(running.base_url, StaticTokenProvider(running.token), sleeper=lambda _s: None,
                           retry=RetryPolicy(max_attempts=1))


def request_id_of(response: requests.Response) -> str:
    """The response's request id: both headers present, equal, and a GUID."""
    request_id = response.headers["x-ms-service-request-id"]
    assert response.headers["REQ_ID"] == request_id
    assert str(uuid.UUID(request_id)) == request_id
    return request_id


def test_a_429_over_http_carries_a_fresh_request_id(throttled_server: RunningServer) -> None:
    url = throttled_server.base_url + SERVICE_PATH + "WhoAmI"
    auth = {"Authorization": f"Bearer {throttled_server.token}"}
    answers = [requests.get(url, headers=auth, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 429, 429]
    ids = [request_id_of(a) for a in answers]
    assert len(set(ids)) == 3  # one id per answer, as the service does
    assert answers[1].json()["error"]["code"] == "0x80072322"
    assert answers[1].headers["Retry-After"]


def test_the_client_reports_the_request_id_of_a_429(throttled_server: RunningServer) -> None:
    with one_attempt_client(throttled_server) as client:
        client.whoami()
        with pytest.raises(ThrottledError) as refused:
            client.whoami()
    assert refused.value.status == 429
    assert refused.value.request_id is not None and uuid.UUID(refused.value.request_id)
    assert f"[request id {refused.value.request_id}]" in str(refused.value)


def test_an_injected_503_carries_a_request_id(unavailable_server: RunningServer) -> None:
    url = unavailable_server.base_url + SERVICE_PATH + "WhoAmI"
    answer = requests.get(url, headers={"Authorization": f"Bearer {unavailable_server.token}"}, timeout=10)
    assert answer.status_code == 503
    request_id_of(answer)
    with one_attempt_client(unavailable_server) as client, pytest.raises(DataverseError) as failed:
        client.whoami()
    assert failed.value.status == 503 and failed.value.request_id is not None
