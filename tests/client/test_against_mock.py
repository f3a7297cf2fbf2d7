"""The client against the mock tenant under faults and throttling, in-process and over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.errors import ThrottledError
from d365lab.odata import eq
from d365lab.transport import RetryPolicy

pytest.importorskip("d365lab.mock.inprocess")
from d365lab.mock.app import create_app  # noqa: E402
from d365lab.mock.inprocess import route_requests  # noqa: E402
from d365lab.mock.settings import FaultSettings, MockSettings, ThrottleSettings  # noqa: E402

URL = "https://faulty.d365lab.test"


@pytest.fixture
def faulty_client() -> Iterator[DataverseClient]:
    settings = MockSettings(faults=FaultSettings(seed=7, error_rate=0.1, drop_rate=0.3))
    app = create_app(":memory:", settings)
    with route_requests(app, base_url=URL), DataverseClient(
            URL, StaticTokenProvider("t"), sleeper=lambda _s: None,
            retry=RetryPolicy(max_attempts=12, max_total_wait=1000)) as client:
        yield client
    app.close()


def test_creates_are_never_duplicated_under_dropped_connections(faulty_client: DataverseClient) -> None:
    ids = [faulty_client.records.create("lead", {"subject": "faults", "lastname": f"L{i}"}) for i in range(40)]
    assert len(set(ids)) == 40
    rows = list(faulty_client.records.list("lead", filter=eq("subject", "faults"), select=["lastname"]))
    assert sorted(r["leadid"] for r in rows) == sorted(ids)
    # the faults really happened: more requests than calls
    assert faulty_client.request_count > 41


def test_bulk_create_is_not_duplicated_under_faults(faulty_client: DataverseClient) -> None:
    ids = faulty_client.records.create_multiple("lead", [{"subject": "bulk-faults", "lastname": f"B{i}"}
                                                         for i in range(30)], chunk_size=5)
    assert faulty_client.records.count("lead", filter=eq("subject", "bulk-faults")) == len(set(ids)) == 30


def test_throttled_mock_calls_succeed_after_retry_after() -> None:
    settings = MockSettings(throttle=ThrottleSettings(enabled=True, requests_per_window=4, window_seconds=1.0,
                                                      retry_after_seconds=1))
    app = create_app(":memory:", settings)
    waits: list[float] = []

    def sleeper(seconds: float) -> None:
        import time

        waits.append(seconds)
        time.sleep(seconds)

    with route_requests(app, base_url=URL), DataverseClient(URL, StaticTokenProvider("t"), sleeper=sleeper) as client:
        for _ in range(6):
            client.whoami()
        assert waits and max(waits) <= 1.0  # the pause honours Retry-After: 1
        assert client.request_count == 6 + len(waits)
        client.transport.retry = RetryPolicy(max_attempts=1)
        with pytest.raises(ThrottledError) as info:
            for _ in range(6):
                client.whoami()
        assert info.value.code in ("0x80072322", "0x80072321", "0x80072326") and info.value.retry_after == 1.0
    app.close()


def test_fixture_client_in_process(d365_client: DataverseClient) -> None:
    lead_id = d365_client.records.create("lead", {"subject": "fixture", "lastname": "Doe"})
    assert d365_client.leads.qualify(lead_id).opportunity_id


def test_fixture_client_over_loopback_http(d365_server_client: DataverseClient) -> None:
    assert d365_server_client.base_url.startswith("http://127.0.0.1:")
    lead_id = d365_server_client.records.create("lead", {"subject": "http", "lastname": "O'Brien"})
    rows = list(d365_server_client.records.list("lead", filter=eq("lastname", "O'Brien"), select=["fullname"]))
    assert [r["leadid"] for r in rows] == [lead_id]
    assert d365_server_client.recommended_parallelism >= 1


def test_one_client_shared_by_threads_over_http(d365_server_client: DataverseClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = d365_server_client
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda i: client.records.create("lead", {"subject": "threads", "lastname": f"T{i}"}),
                            range(40)))
    assert len(set(ids)) == 40
    assert client.records.count("lead", filter=eq("subject", "threads")) == 40
    assert client.request_count == 41
