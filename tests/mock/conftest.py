"""Fixtures for the mock tenant's tests (used by every ``tests/mock`` module).

- ``mock_settings`` -- the :class:`MockSettings` the app is built with. Override it in a
  test module (``@pytest.fixture def mock_settings(): return MockSettings(token="t")``)
  to build the app differently; the app reads it per request, so a test may also
  change it after the app exists (e.g. ``mock_settings.throttle.enabled = True``).
- ``mock_app`` -- a fresh ``create_app(":memory:", mock_settings)`` per test.
- ``api`` -- a ``requests.Session`` routed in-process into ``mock_app`` (real WSGI
  environs, no sockets) whose relative URLs resolve against the service root and that
  sends the bearer token: ``api.post("leads", json={...})``,
  ``api.get("leads(<id>)?$select=subject")``. ``api.service_root`` is the absolute root.
- ``create`` -- ``create("leads", {...}) -> id``: POST and return the new id (asserts 204).

Everything goes through HTTP semantics; no test writes to the store directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from d365lab.mock.app import MockApp, create_app
from d365lab.mock.inprocess import ServiceRootSession, route_requests
from d365lab.mock.settings import MockSettings

BASE_URL = "https://mock.d365lab.test"
SERVICE_ROOT = BASE_URL + "/api/data/v9.2/"
TOKEN = "test-token"


@pytest.fixture
def mock_settings() -> MockSettings:
    """Settings of the app under test (override per module)."""
    return MockSettings.model_validate({})


@pytest.fixture
def mock_app(mock_settings: MockSettings) -> Iterator[MockApp]:
    """A fresh in-memory mock tenant."""
    app = create_app(":memory:", mock_settings)
    yield app
    app.close()


@pytest.fixture
def api(mock_app: MockApp, mock_settings: MockSettings) -> Iterator[ServiceRootSession]:
    """A requests session routed in-process into ``mock_app``, relative to the service root."""
    token = mock_settings.token or TOKEN
    with route_requests(mock_app, BASE_URL):
        with ServiceRootSession(BASE_URL, token) as session:
            yield session


@pytest.fixture
def create(api: ServiceRootSession) -> Callable[[str, dict[str, Any]], str]:
    """POST a record and return its id."""

    def _create(entity_set: str, body: dict[str, Any]) -> str:
        response = api.post(entity_set, json=body)
        assert response.status_code == 204, response.text
        entity_id = response.headers["OData-EntityId"]
        return entity_id[entity_id.rindex("(") + 1:-1]

    return _create
