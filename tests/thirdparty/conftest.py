"""Fixtures shared by the third-party client tests: a fresh loopback mock tenant per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from thirdparty_mock import MockEndpoint, served_by_cli

if TYPE_CHECKING:
    from tls_mock import HttpsMock


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep loopback traffic off any HTTP proxy configured in the environment (requests honours no_proxy)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def mock_endpoint() -> Iterator[MockEndpoint]:
    """A fresh in-memory mock tenant served over loopback HTTP for one test."""
    from d365lab.mock.server import start_background

    running = start_background(":memory:")
    try:
        yield MockEndpoint(base_url=running.base_url, token=running.token)
    finally:
        running.stop()


@pytest.fixture
def https_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpsMock]:
    """A fresh mock tenant over https with a self-signed certificate that requests trusts."""
    from tls_mock import serve_mock_over_https

    with serve_mock_over_https(tmp_path) as served:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(served.ca_file))
        yield served


@pytest.fixture
def cli_served_endpoint() -> Iterator[MockEndpoint]:
    """``d365lab mock serve`` run as a user runs it (a separate process), with an in-memory tenant."""
    with served_by_cli(":memory:") as endpoint:
        yield endpoint
