"""The embedded mock tenant stays quiet under parallel requests (no waitress queue warnings in command output)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.mock.server import THREADS, start_background


def test_a_burst_of_parallel_requests_logs_no_queue_warning(caplog: pytest.LogCaptureFixture) -> None:
    running = start_background(":memory:")
    try:
        with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client, \
                caplog.at_level(logging.WARNING):
            burst = 6 * THREADS        # more requests at once than the server has threads: they queue
            with ThreadPoolExecutor(max_workers=burst) as pool:
                ids = list(pool.map(lambda n: client.records.create("lead", {"subject": f"s{n}", "lastname": "Q"}),
                                    range(burst)))
            assert len(set(ids)) == burst
            assert client.records.count("lead", filter="lastname eq 'Q'") == burst
    finally:
        running.stop()
    assert not [r for r in caplog.records if "queue depth" in r.getMessage()]
