"""Sign-in failures and missing settings reach the user as one line and exit 2, in every command.

msal is the real library; only the network is fake (``responses``): no route at all stands for
"login.microsoftonline.com cannot be reached", a 400 on the tenant's OpenID configuration for
a tenant id Entra does not know.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from d365lab.client import DataverseClient
from d365lab.config import ConfigurationError, Settings, load_settings
from d365lab.errors import AuthenticationError, DataverseError

from .certs import write_self_signed_pem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"
TENANT = "00000000-0000-0000-0000-000000000001"
SECRET = "secret-abc-123"
DISCOVERY = re.compile(r"https://login\.microsoftonline\.com/.*")

COMMANDS = {
    "whoami": ["whoami"],
    "pipeline": ["pipeline"],
    "import": ["backlog", "import", "leads-example.csv", "--dry-run"],
    "triage": ["backlog", "triage", "rules-example.yaml", "--dry-run"],
}


@pytest.fixture(autouse=True)
def real_tenant_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("D365LAB_AUTH", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "DATAVERSE_TOKEN",
                "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "DATAVERSE_URL"):
        monkeypatch.delenv(var, raising=False)
    for name in ("leads-example.csv", "rules-example.yaml"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # msal's token cache file
    monkeypatch.setenv("D365LAB_BACKLOG_JOURNAL", str(tmp_path / "journal.sqlite"))
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000002")


@pytest.fixture
def offline() -> Iterator[responses.RequestsMock]:
    """No route to anything: every request fails with a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _client_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365LAB_AUTH", "client_secret")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)


def _certificate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pem = write_self_signed_pem(tmp_path / "app.pem")
    monkeypatch.setenv("D365LAB_AUTH", "certificate")
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(pem))


def _run(args: list[str]) -> tuple[int, str]:
    from d365lab.cli import app

    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unreachable_sign_in_service_is_one_line_and_exit_2(command: str, monkeypatch: pytest.MonkeyPatch,
                                                            offline: responses.RequestsMock) -> None:
    _client_secret(monkeypatch)
    code, output = _run(COMMANDS[command])
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "cannot reach login.microsoftonline.com to sign in" in lines[0]
    assert "Traceback" not in output and SECRET not in output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_tenant_names_azure_tenant_id(command: str, monkeypatch: pytest.MonkeyPatch,
                                              offline: responses.RequestsMock) -> None:
    _client_secret(monkeypatch)
    monkeypatch.setenv("AZURE_TENANT_ID", "contoso-typo")
    offline.get(DISCOVERY, status=400, json={"error": "invalid_tenant",
                                             "error_description": "AADSTS90002: Tenant 'contoso-typo' not found."})
    code, output = _run(COMMANDS[command])
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1, output
    assert "AZURE_TENANT_ID" in output and "'contoso-typo' is not a known tenant" in output
    assert SECRET not in output


def test_certificate_sign_in_without_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             offline: responses.RequestsMock) -> None:
    _certificate(monkeypatch, tmp_path)
    code, output = _run(["whoami"])
    assert code == 2, output
    assert "cannot reach login.microsoftonline.com to sign in" in output


def test_device_code_sign_in_without_network(monkeypatch: pytest.MonkeyPatch,
                                             offline: responses.RequestsMock) -> None:
    monkeypatch.setenv("D365LAB_AUTH", "device_code")
    code, output = _run(["whoami"])
    assert code == 2, output
    assert "cannot reach login.microsoftonline.com to sign in" in output


def test_the_client_api_raises_dataverse_errors(monkeypatch: pytest.MonkeyPatch,
                                                offline: responses.RequestsMock) -> None:
    _client_secret(monkeypatch)
    with pytest.raises(AuthenticationError, match="cannot reach login.microsoftonline.com"):
        DataverseClient.from_settings(load_settings(env_file=None))
    monkeypatch.setenv("AZURE_TENANT_ID", "nope")
    offline.get(DISCOVERY, status=400, json={"error": "invalid_tenant"})
    with pytest.raises(ConfigurationError) as info:
        DataverseClient.from_settings(load_settings(env_file=None))
    assert info.value.variable == "AZURE_TENANT_ID"
    assert isinstance(info.value, DataverseError)


def test_from_settings_without_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAVERSE_URL")
    with pytest.raises(ConfigurationError) as info:
        DataverseClient.from_settings(load_settings(env_file=None))
    assert info.value.variable == "DATAVERSE_URL"
    assert "may or may not have been applied" not in str(info.value)


def test_token_request_failing_later_is_an_authentication_error(monkeypatch: pytest.MonkeyPatch,
                                                               offline: responses.RequestsMock) -> None:
    """Discovery worked, then the token endpoint could not be reached."""
    from d365lab.auth import provider_from_settings

    _client_secret(monkeypatch)
    offline.get(DISCOVERY, json={
        "token_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
        "authorization_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
        "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "device_authorization_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/devicecode",
    })
    settings = Settings(_env_file=None).checked()  # type: ignore[call-arg]
    provider = provider_from_settings(settings)  # the token endpoint has no route: unreachable
    with pytest.raises(AuthenticationError, match="cannot reach login.microsoftonline.com"):
        provider.get_token()


def test_a_401_with_an_app_registration_names_its_variables(monkeypatch: pytest.MonkeyPatch,
                                                            offline: responses.RequestsMock) -> None:
    """Signed in, but the environment refuses the token: the hint is about the app registration."""
    _client_secret(monkeypatch)
    login = f"https://login.microsoftonline.com/{TENANT}"
    offline.get(DISCOVERY, json={
        "token_endpoint": f"{login}/oauth2/v2.0/token", "authorization_endpoint": f"{login}/oauth2/v2.0/authorize",
        "issuer": f"{login}/v2.0", "device_authorization_endpoint": f"{login}/oauth2/v2.0/devicecode"})
    offline.post(f"{login}/oauth2/v2.0/token",
                 json={"access_token": "tok", "expires_in": 3599, "token_type": "Bearer"})
    offline.get("https://contoso.crm4.dynamics.com/api/data/v9.2/WhoAmI", status=401, body="")
    with DataverseClient.from_settings(load_settings(env_file=None)) as client, \
            pytest.raises(AuthenticationError) as info:
        client.whoami()
    assert "AZURE_CLIENT_SECRET" in str(info.value) and "application user" in str(info.value)
    assert "DATAVERSE_TOKEN" not in str(info.value) and SECRET not in str(info.value)
