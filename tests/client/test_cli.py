"""``d365lab whoami`` and ``--version`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from d365lab import __version__
from d365lab.cli import app

from .conftest import API


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DATAVERSE_URL", "D365LAB_AUTH", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                "DATAVERSE_TOKEN", "AZURE_TENANT_ID", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"d365lab {__version__}"


def test_whoami_against_a_configured_tenant(monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("DATAVERSE_TOKEN", "secret-token")
    rsps.get(API + "WhoAmI", json={"UserId": "u-1", "BusinessUnitId": "b-1", "OrganizationId": "o-1"},
             headers={"x-ms-dop-hint": "4"})
    result = CliRunner().invoke(app, ["whoami"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "u-1" in result.output and "o-1" in result.output and "https://contoso.crm4.dynamics.com" in result.output
    assert "secret-token" not in result.output
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer secret-token"


def test_whoami_configuration_error_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "http://contoso.crm4.dynamics.com")
    result = CliRunner().invoke(app, ["whoami"], terminal_width=200)
    assert result.exit_code == 2
    assert "DATAVERSE_URL" in result.output and "plain http://" in result.output


def test_whoami_with_a_rejected_token_names_dataverse_token(monkeypatch: pytest.MonkeyPatch,
                                                            rsps: responses.RequestsMock) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("DATAVERSE_TOKEN", "bad")
    rsps.get(API + "WhoAmI", status=401, body="")
    rsps.get(API + "WhoAmI", status=401, body="")
    result = CliRunner().invoke(app, ["whoami"], terminal_width=200)
    assert result.exit_code == 2
    assert "HTTP 401" in result.output and "DATAVERSE_TOKEN is invalid or expired" in result.output
    # the tenant answered: neither "cannot reach" nor the app-registration variables apply
    assert "cannot reach" not in result.output and "AZURE_TENANT_ID" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_whoami_when_the_tenant_cannot_be_reached_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                         rsps: responses.RequestsMock) -> None:
    import requests

    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("DATAVERSE_TOKEN", "t")
    for _ in range(5):
        rsps.get(API + "WhoAmI", body=requests.ConnectionError("refused"))
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    result = CliRunner().invoke(app, ["whoami"], terminal_width=200)
    assert result.exit_code == 2
    assert "cannot reach the tenant" in result.output


def test_whoami_against_the_embedded_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365LAB_MOCK_DB", ":memory:")
    result = CliRunner().invoke(app, ["whoami"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "mock tenant (:memory:)" in result.output
    assert "http://127.0.0.1:" in result.output


def test_connect_starts_the_mock_and_closing_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    from d365lab.connect import connect

    monkeypatch.setenv("D365LAB_MOCK_DB", ":memory:")
    client = connect()
    with client:
        assert client.tenant_label == "mock tenant (:memory:)"
        assert client.whoami().user_id
        url = client.transport.service_root + "WhoAmI"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_config_shows_settings_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com/")
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant-1")
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "hunter2")
    result = CliRunner().invoke(app, ["config"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "client_secret" in result.output and "tenant-1" in result.output and "set" in result.output
    assert "hunter2" not in result.output


def test_config_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D365LAB_AUTH", "token")
    result = CliRunner().invoke(app, ["config"], terminal_width=200)
    assert result.exit_code == 2
    assert "DATAVERSE_URL" in result.output
