"""Contract suite targets: the mock tenant always (in-process and over loopback HTTP), a live tenant when configured.

The same tests run against both. The live target needs ``DATAVERSE_URL`` and credentials
(see docs/client.md); without them its tests are skipped with the reason, never passed.
Every row a test creates is registered with :meth:`Target.track` and deleted afterwards
(live runs clean up after themselves).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from d365lab.client import DataverseClient
from d365lab.config import ConfigurationError, Settings
from d365lab.errors import DataverseError
from d365lab.pytest_plugin import d365_client, d365_mock_app, d365_server, d365_server_client  # noqa: F401

MOCK_URL = "https://mock.d365lab.test"


@dataclass
class Target:
    """A tenant under test: a client, a unique tag for this test's rows, and cleanup."""

    name: str
    client: DataverseClient
    tag: str = field(default_factory=lambda: f"d365lab-contract-{uuid.uuid4().hex[:8]}")
    created: list[tuple[str, str]] = field(default_factory=list)

    def track(self, table: str, record_id: str | None) -> str:
        """Remember a row to delete after the test; returns the id."""
        assert record_id, f"no id for a created {table}"
        self.created.append((table, record_id))
        return record_id

    def create(self, table: str, data: dict[str, object]) -> str:
        """Create and track a row."""
        return self.track(table, self.client.records.create(table, data))

    def cleanup(self) -> None:
        for table, record_id in reversed(self.created):
            try:
                self.client.records.delete(table, record_id)
            except DataverseError:
                pass  # already gone (cascade) or not deletable; never hide a test failure behind cleanup


def _live_client() -> DataverseClient:
    try:
        settings = Settings().checked()
    except ConfigurationError as exc:
        pytest.skip(f"live tenant misconfigured: {exc}")
    if settings.is_mock:
        pytest.skip("live tenant not configured: set DATAVERSE_URL and credentials (docs/client.md)")
    return DataverseClient.from_settings(settings, tenant_label=settings.base_url)


@pytest.fixture(params=[pytest.param("mock"), pytest.param("mock-http"),
                        pytest.param("live", marks=pytest.mark.live)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """A client on the mock (in-process, or over loopback HTTP; fresh per test) or on the live tenant."""
    if request.param == "mock-http":
        from d365lab.auth import StaticTokenProvider
        from d365lab.mock.server import start_background

        running = start_background(db_path=":memory:")
        try:
            with DataverseClient(running.base_url, StaticTokenProvider(running.token)) as client:
                tenant = Target("mock", client)
                try:
                    yield tenant
                finally:
                    tenant.cleanup()
        finally:
            running.stop()
        return
    if request.param == "mock":
        from d365lab.auth import StaticTokenProvider
        from d365lab.mock.app import create_app
        from d365lab.mock.inprocess import route_requests

        app = create_app(":memory:")
        try:
            with route_requests(app, base_url=MOCK_URL), \
                    DataverseClient(MOCK_URL, StaticTokenProvider("contract")) as client:
                tenant = Target("mock", client)
                try:
                    yield tenant
                finally:
                    tenant.cleanup()
        finally:
            app.close()
        return
    with _live_client() as client:
        tenant = Target("live", client)
        try:
            yield tenant
        finally:
            tenant.cleanup()
