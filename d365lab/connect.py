"""Glue: settings -> a client for the real tenant, or the embedded mock tenant.

>>> from d365lab.connect import connect
>>> with connect() as client:                 # doctest: +SKIP
...     print(client.tenant_label)
mock tenant (/home/me/.local/share/d365lab/mock-tenant.sqlite)
"""

from __future__ import annotations

import logging
from typing import Any

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.config import ConfigurationError, Settings, ignored_credentials, load_settings

log = logging.getLogger(__name__)


def connect(settings: Settings | None = None, **client_options: Any) -> DataverseClient:
    """A client for the configured tenant; with no ``DATAVERSE_URL``, start the embedded mock.

    Settings come from the environment and ``.env`` when not given. A real tenant gets msal
    (or static-token) auth; the mock is started on a loopback port with its SQLite store
    (``D365LAB_MOCK_DB`` or the user data directory) and stopped when the client closes.
    Raises :class:`d365lab.config.ConfigurationError` before any request on bad settings,
    ``D365LAB_MOCK_DB`` included (a folder that does not exist, a file that is not a database).
    """
    settings = (settings or load_settings()).checked()
    if not settings.is_mock:
        return DataverseClient.from_settings(settings, tenant_label=settings.base_url, **client_options)
    ignored = ignored_credentials(settings)
    if ignored:
        log.warning("%s set but DATAVERSE_URL is empty: using the embedded mock tenant, the credentials are ignored",
                    ", ".join(ignored))
    try:
        from d365lab.mock.server import DB_ENV, MockDatabaseError, default_db_path, start_background
    except ModuleNotFoundError as exc:  # an install without the mock extras
        raise ConfigurationError("DATAVERSE_URL", f"unset, and the embedded mock tenant cannot start ({exc}); "
                                 "set DATAVERSE_URL to a real environment") from None

    try:
        db_path = default_db_path()
    except OSError as exc:  # the user data directory cannot be created
        raise ConfigurationError(DB_ENV, f"unset, and the default database folder cannot be created ({exc}); "
                                 "set it to a writable file path") from None
    try:
        running = start_background(db_path=db_path)
    except MockDatabaseError as exc:
        raise ConfigurationError(DB_ENV, f"cannot open {exc.path} ({exc.reason}); "
                                 "give a writable SQLite file in an existing folder, or :memory:") from None
    try:
        return DataverseClient(running.base_url, StaticTokenProvider(running.token),
                               tenant_label=f"mock tenant ({db_path})", on_close=running.stop, **client_options)
    except BaseException:
        running.stop()
        raise
