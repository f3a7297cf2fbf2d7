"""pytest fixtures for testing code that uses d365lab against a fresh mock tenant.

Loaded automatically through the ``pytest11`` entry point when d365lab is installed.

* ``d365_mock_app``: a fresh in-memory mock tenant (WSGI app) per test.
* ``d365_client``: a :class:`~d365lab.DataverseClient` whose requests are routed in-process
  into ``d365_mock_app`` (no sockets, fast).
* ``d365_server``: a real loopback HTTP server around a fresh in-memory tenant.
* ``d365_server_client``: a client talking to ``d365_server`` over HTTP.

>>> def test_qualify(d365_client):                           # doctest: +SKIP
...     lead_id = d365_client.records.create("lead", {"subject": "x", "lastname": "Doe"})
...     assert d365_client.leads.qualify(lead_id).opportunity_id
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

# Imports of d365lab's client and mock live inside the fixtures: pytest loads this plugin in
# every run of an environment where d365lab is installed, and most runs use none of them.

#: The base URL the in-process client uses (never resolved: requests are routed into the app).
MOCK_BASE_URL = "https://mock.d365lab.test"
#: Bearer token the in-process client sends (the default mock accepts any token).
MOCK_TOKEN = "d365lab-test-token"


@pytest.fixture
def d365_mock_app() -> Iterator[Any]:
    """A fresh in-memory mock tenant (a WSGI application) for one test."""
    from d365lab.mock.app import create_app

    app = create_app(":memory:")
    try:
        yield app
    finally:
        close = getattr(app, "close", None)
        if callable(close):
            close()


@pytest.fixture
def d365_client(d365_mock_app: Any) -> Iterator[DataverseClient]:
    """A client wired in-process into ``d365_mock_app``."""
    from d365lab.auth import StaticTokenProvider
    from d365lab.client import DataverseClient
    from d365lab.mock.inprocess import route_requests

    with route_requests(d365_mock_app, base_url=MOCK_BASE_URL):
        client = DataverseClient(MOCK_BASE_URL, StaticTokenProvider(MOCK_TOKEN),
                                 tenant_label="mock tenant (in-process, in-memory)")
        with client:
            yield client


@pytest.fixture
def d365_server() -> Iterator[Any]:
    """A real loopback mock server around a fresh in-memory tenant (``.base_url``, ``.token``)."""
    from d365lab.mock.server import start_background

    running = start_background(db_path=":memory:")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def d365_server_client(d365_server: Any) -> Iterator[DataverseClient]:
    """A client talking to ``d365_server`` over HTTP."""
    from d365lab.auth import StaticTokenProvider
    from d365lab.client import DataverseClient

    client = DataverseClient(d365_server.base_url, StaticTokenProvider(d365_server.token),
                             tenant_label=f"mock tenant ({d365_server.base_url})")
    with client:
        yield client
