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
        raise ConfigurationError(f"--credentials {path}", "credential file not found")
    values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    try:
        # model_validate, not Settings(): only the file's values count, never the process environment.
        settings = Settings.model_validate(values).checked()
    except (ConfigurationError, ValueError) as exc:
        raise ConfigurationError(f"--credentials {path}", str(exc)) from None
    if settings.is_mock:
        raise ConfigurationError(f"--credentials {path}",
                                 "names no DATAVERSE_URL (the embedded mock has one user)")
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


def check_same_organization(clients: list[DataverseClient], files: list[Path] | None = None) -> str:
    """The organization id all clients share; ConfigurationError naming the odd one out.

    ``files[i]`` is the credential file of ``clients[i + 1]`` (the first client is the main
    connection): a user that cannot sign in is reported as ``--credentials FILE: ...``, since
    every user talks to the same URL and the URL alone does not say which file is wrong.
    """
    from d365lab.errors import DataverseError

    first = clients[0].whoami().organization_id
    for index, client in enumerate(clients[1:]):
        source = f"--credentials {files[index]}" if files and index < len(files) else client.tenant_label
        try:
            other = client.whoami().organization_id
        except ConfigurationError:
            raise
        except DataverseError as exc:
            raise ConfigurationError(source, str(exc)) from None
        if other != first:
            raise ConfigurationError(source, f"{client.tenant_label} is in organization {other}, "
                                             f"not {first}: every user must be in the same environment")
    return first
