"""Transport: 429 / Retry-After with a global pause, backoff, caps, 401 refresh, ids, dop hint, redaction."""

from __future__ import annotations

import logging
import threading

import pytest
import requests
import responses

from d365lab.client import DataverseClient
from d365lab.errors import (
    AuthenticationError,
    ClientValidationError,
    DataverseError,
    ThrottledError,
    TransportError,
)
from d365lab.transport import RetryPolicy, Transport

from .conftest import API, BASE, FakeClock

WHOAMI = {"UserId": "u", "BusinessUnitId": "b", "OrganizationId": "o"}
THROTTLED = {"error": {"code": "0x80072322",
                       "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}


def test_throttled_call_succeeds_after_retry_after(client: DataverseClient, rsps: responses.RequestsMock,
                                                   clock: FakeClock) -> None:
    rsps.get(API + "WhoAmI", json=THROTTLED, status=429, headers={"Retry-After": "7"})
    rsps.get(API + "WhoAmI", json=WHOAMI)
    assert client.whoami().user_id == "u"
    assert clock.sleeps == [7.0]
    assert client.request_count == 2


def test_throttle_wait_cap_is_honoured(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    from d365lab.auth import StaticTokenProvider

    rsps.get(API + "WhoAmI", json=THROTTLED, status=429, headers={"Retry-After": "40"})
    rsps.get(API + "WhoAmI", json=THROTTLED, status=429, headers={"Retry-After": "40"})
    client = DataverseClient(BASE, StaticTokenProvider("t"), clock=clock, sleeper=clock.sleep,
                             retry=RetryPolicy(max_attempts=10, max_total_wait=60))
    with pytest.raises(ThrottledError) as info:
        client.whoami()
    # one 40 s wait fits under the 60 s cap, the second would not: give up instead of sleeping
    assert clock.sleeps == [40.0]
    assert info.value.retry_after == 40.0
    assert info.value.code == "0x80072322"
    assert info.value.is_transient


def test_429_pauses_every_thread(client: DataverseClient, rsps: responses.RequestsMock, clock: FakeClock) -> None:
    rsps.get(API + "WhoAmI", json=THROTTLED, status=429, headers={"Retry-After": "5"})
    rsps.get(API + "accounts", json={"value": []})
    client.transport.retry = RetryPolicy(max_attempts=1)
    with pytest.raises(ThrottledError):
        client.whoami()
    assert clock.sleeps == []  # the throttled caller gave up; the pause is still recorded
    sent_after: list[float] = []

    def other_thread() -> None:
        list(client.records.list("accounts"))
        sent_after.append(clock.now)

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert clock.sleeps == [5.0]
    assert sent_after == [1005.0]


def test_503_is_retried_with_exponential_backoff(client: DataverseClient, rsps: responses.RequestsMock,
                                                 clock: FakeClock) -> None:
    for _ in range(3):
        rsps.get(API + "WhoAmI", json={"error": {"code": "", "message": "busy"}}, status=503)
    rsps.get(API + "WhoAmI", json=WHOAMI)
    client.whoami()
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_cap=8)
    assert [policy.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_max_attempts_raise_the_last_error(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    for _ in range(5):
        rsps.get(API + "WhoAmI", json={"error": {"code": "", "message": "gateway"}}, status=502)
    with pytest.raises(DataverseError) as info:
        client.whoami()
    assert info.value.status == 502
    assert client.request_count == 5


def test_connection_errors_on_reads_are_retried(client: DataverseClient, rsps: responses.RequestsMock,
                                                clock: FakeClock) -> None:
    rsps.get(API + "WhoAmI", body=requests.ConnectionError("connection reset"))
    rsps.get(API + "WhoAmI", json=WHOAMI)
    assert client.whoami().organization_id == "o"
    assert clock.sleeps == [1.0]


def test_actions_are_not_retried_after_an_ambiguous_failure(client: DataverseClient,
                                                            rsps: responses.RequestsMock) -> None:
    rsps.post(API + "WinOpportunity", body=requests.ConnectionError("connection reset"))
    with pytest.raises(TransportError, match="may or may not have been applied") as info:
        client.actions.call("WinOpportunity", {"Status": 3})
    assert info.value.ambiguous_retry
    assert client.request_count == 1


def test_401_refreshes_the_token_once(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    class Rotating:
        def __init__(self) -> None:
            self.tokens = iter(["old", "new", "newer"])
            self.current = next(self.tokens)
            self.invalidations = 0

        def get_token(self) -> str:
            return self.current

        def invalidate(self) -> None:
            self.invalidations += 1
            self.current = next(self.tokens)

    tokens = Rotating()
    rsps.get(API + "WhoAmI", status=401, body="")
    rsps.get(API + "WhoAmI", json=WHOAMI)
    client = DataverseClient(BASE, tokens, clock=clock, sleeper=clock.sleep)
    client.whoami()
    assert [c.request.headers["Authorization"] for c in rsps.calls] == ["Bearer old", "Bearer new"]
    assert tokens.invalidations == 1


def test_second_401_is_an_authentication_error(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + "WhoAmI", status=401, body="")
    rsps.get(API + "WhoAmI", status=401, body="")
    with pytest.raises(AuthenticationError, match="AZURE_CLIENT_ID"):
        client.whoami()
    assert client.request_count == 2


def test_client_request_id_is_stable_across_retries_and_new_per_call(client: DataverseClient,
                                                                     rsps: responses.RequestsMock) -> None:
    rsps.get(API + "WhoAmI", status=503, json={})
    rsps.get(API + "WhoAmI", json=WHOAMI)
    rsps.get(API + "WhoAmI", json=WHOAMI)
    client.whoami()
    client.whoami()
    ids = [c.request.headers["x-ms-client-request-id"] for c in rsps.calls]
    assert ids[0] == ids[1] != ids[2]


def test_dop_hint_is_exposed(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    assert client.recommended_parallelism == 1
    rsps.get(API + "WhoAmI", json=WHOAMI, headers={"x-ms-dop-hint": "8"})
    client.whoami()
    assert client.recommended_parallelism == 8


def test_next_links_to_other_hosts_are_refused(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="refusing to send credentials"):
        client.transport.request("GET", "https://evil.example.com/api/data/v9.2/leads")


def test_authorization_is_redacted_in_logs(client: DataverseClient, rsps: responses.RequestsMock,
                                           caplog: pytest.LogCaptureFixture) -> None:
    rsps.get(API + "WhoAmI", json=WHOAMI)
    with caplog.at_level(logging.DEBUG, logger="d365lab"):
        client.whoami()
        logging.getLogger("d365lab.http").info("token is Bearer abc.def.ghi and client_secret=hunter2")
    text = caplog.text
    assert "x-ms-client-request-id" in text
    assert "test-token-123" not in text and "abc.def.ghi" not in text and "hunter2" not in text
    assert "<redacted>" in text


def test_request_count_is_thread_safe(rsps: responses.RequestsMock) -> None:
    from d365lab.auth import StaticTokenProvider

    rsps.get(API + "WhoAmI", json=WHOAMI)
    transport = Transport(BASE, StaticTokenProvider("t"))
    threads = [threading.Thread(target=lambda: [transport.request("GET", "WhoAmI") for _ in range(25)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert transport.request_count == 100


def test_a_pause_longer_than_the_budget_fails_fast(client: DataverseClient, rsps: responses.RequestsMock,
                                                   clock: FakeClock) -> None:
    rsps.get(API + "WhoAmI", json=THROTTLED, status=429, headers={"Retry-After": "300"})
    with pytest.raises(ThrottledError):
        client.whoami()  # 300 s is over this client's 60 s budget
    with pytest.raises(ThrottledError, match="paused for 300 more seconds") as info:
        list(client.records.list("accounts"))  # another call does not sleep 300 s either
    assert clock.sleeps == []
    assert info.value.retry_after == 300
    assert client.request_count == 1
