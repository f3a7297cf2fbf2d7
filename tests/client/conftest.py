"""Fixtures for wire-format tests: a client on a fake URL, ``responses`` strict mode, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient

# the plugin's fixtures, also when d365lab is not pip-installed (no pytest11 entry point then)
from d365lab.pytest_plugin import d365_client, d365_mock_app, d365_server, d365_server_client  # noqa: F401
from d365lab.transport import RetryPolicy

BASE = "https://contoso.crm4.dynamics.com"
API = f"{BASE}/api/data/v9.2/"
TOKEN = "test-token-123"


class FakeClock:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client(rsps: responses.RequestsMock, clock: FakeClock) -> Iterator[DataverseClient]:
    with DataverseClient(BASE, StaticTokenProvider(TOKEN), clock=clock, sleeper=clock.sleep,
                         retry=RetryPolicy(max_attempts=5, max_total_wait=60, backoff_base=1, backoff_cap=8)) as c:
        yield c
    # every request of every verb carries the OData headers, a bearer token and a client request id
    for call in rsps.calls:
        headers = call.request.headers
        assert headers["OData-Version"] == headers["OData-MaxVersion"] == "4.0", call.request.url
        assert headers["Accept"] == "application/json"
        assert headers["Authorization"].startswith("Bearer ")
        assert headers["x-ms-client-request-id"]
        if call.request.body is not None:
            assert headers["Content-Type"].startswith(("application/json", "multipart/mixed")), call.request.url


def body_of(call: Any) -> Any:
    """The JSON body of a recorded call."""
    raw = call.request.body
    if raw is None:
        return None
    return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)


def assert_odata_headers(call: Any) -> None:
    """Headers every Web API call must carry."""
    headers = call.request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["OData-MaxVersion"] == "4.0"
    assert headers["OData-Version"] == "4.0"
    assert headers["Accept"] == "application/json"
    assert headers["x-ms-client-request-id"]
