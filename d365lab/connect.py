"""Glue: settings -> a client for the real tenant, or the embedded mock tenant.

>>> from d365lab.connect import connect
>>> with connect() as client:                 # doctest: +SKIP
...     print(client.tenant_label)
mock tenant (/home/me/.local/share/d365lab/mock-tenant.sqlite)
"""

from __future__ import annotations

from typing import Any

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.config import ConfigurationError, Settings, load_settings


def connect(settings: Settings | None = None, **client_options: Any) -> DataverseClient:
    """A client for the configured tenant; with no ``DATAVERSE_URL``, start the embedded mock.

    Settings come from the environment and ``.env`` when not given. A real tenant gets msal
    (or static-token) auth; the mock is started on a loopback port with its SQLite store
    (``D365LAB_MOCK_DB`` or the user data directory) and stopped when the client closes.
    Raises :class:`d365lab.config.ConfigurationError` before any request on bad settings.
    """
    settings = (settings or load_settings()).checked()
    if not settings.is_mock:
        return DataverseClient.from_settings(settings, tenant_label=settings.base_url, **client_options)
    try:
        from d365lab.mock.server import default_db_path, start_background
    except ModuleNotFoundError as exc:  # an install without the mock extras
        raise ConfigurationError("DATAVERSE_URL", f"unset, and the embedded mock tenant cannot start ({exc}); "
                                 "set DATAVERSE_URL to a real environment") from None

    db_path = default_db_path()
    running = start_background(db_path=db_path)
    try:
        return DataverseClient(running.base_url, StaticTokenProvider(running.token),
                               tenant_label=f"mock tenant ({db_path})", on_close=running.stop, **client_options)
    except BaseException:
        running.stop()
        raise
