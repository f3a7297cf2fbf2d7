"""Several application users for one triage: one client per credential file.

Service-protection limits are per user, so spreading a triage over N application users
of the same organization allows about N times the throughput. Each credential file is a
``.env``-style file with the same variables as the main configuration
(``DATAVERSE_URL``, ``D365LAB_AUTH``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ...);
only the file's values are used (the process environment is not consulted).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from d365lab.config import ConfigurationError, Settings

if TYPE_CHECKING:
    from d365lab.client import DataverseClient


def settings_from_file(path: Path) -> Settings:
    """Checked settings of one credential file (ConfigurationError when unusable)."""
    if not path.is_file():
        raise ConfigurationError(str(path), "credential file not found")
    values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    # model_validate, not Settings(): only the file's values count, never the process environment.
    settings = Settings.model_validate(values).checked()
    if settings.is_mock:
        raise ConfigurationError("DATAVERSE_URL", f"{path} names no DATAVERSE_URL (the embedded mock has one user)")
    return settings


def clients_from_files(paths: list[Path]) -> list[DataverseClient]:
    """One client per credential file (secrets stay inside the token providers)."""
    from d365lab.client import DataverseClient

    clients: list[DataverseClient] = []
    try:
        for number, path in enumerate(paths, start=2):
            settings = settings_from_file(path)
            clients.append(DataverseClient.from_settings(settings, tenant_label=f"user {number} ({path.name})"))
    except BaseException:
        for client in clients:
            client.close()
        raise
    return clients


def check_same_organization(clients: list[DataverseClient]) -> str:
    """The organization id all clients share; ConfigurationError naming the odd one out."""
    first = clients[0].whoami().organization_id
    for client in clients[1:]:
        other = client.whoami().organization_id
        if other != first:
            raise ConfigurationError("credentials", f"{client.tenant_label} is in organization {other}, "
                                                    f"not {first}: every user must be in the same environment")
    return first
