"""Fixtures shared by the third-party client tests: a fresh loopback mock tenant per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thirdparty_mock import MockEndpoint


@pytest.fixture
def mock_endpoint() -> Iterator[MockEndpoint]:
    """A fresh in-memory mock tenant served over loopback HTTP for one test."""
    from d365lab.mock.server import start_background

    running = start_background(":memory:")
    try:
        yield MockEndpoint(base_url=running.base_url, token=running.token)
    finally:
        running.stop()
