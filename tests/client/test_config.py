"""Settings: every missing or contradictory setting fails before any request, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.config import AuthMode, ConfigurationError, Settings, load_settings, normalize_url

_VARS = ("DATAVERSE_URL", "D365LAB_AUTH", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
         "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "DATAVERSE_TOKEN", "D365LAB_TIMEOUT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_no_url_means_the_mock_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _load(monkeypatch).is_mock


def test_auth_without_url_is_contradictory(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(monkeypatch, D365LAB_AUTH="client_secret")
    assert info.value.variable == "DATAVERSE_URL"


def test_client_secret_needs_tenant_client_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_URL", "https://contoso.crm4.dynamics.com")
    monkeypatch.setenv("D365LAB_AUTH", "client_secret")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == "AZURE_TENANT_ID"
    monkeypatch.setenv("AZURE_TENANT_ID", "t")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == "AZURE_CLIENT_ID"
    monkeypatch.setenv("AZURE_CLIENT_ID", "c")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == "AZURE_CLIENT_SECRET"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret")
    settings = load_settings()
    assert settings.auth_mode is AuthMode.CLIENT_SECRET
    assert "s3cret" not in repr(settings)


def test_secret_and_certificate_together_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ConfigurationError) as info:
        _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com", AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c",
              AZURE_CLIENT_SECRET="s", AZURE_CLIENT_CERTIFICATE_PATH=str(cert))
    assert info.value.variable == "D365LAB_AUTH"
    monkeypatch.setenv("D365LAB_AUTH", "certificate")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.variable == "AZURE_CLIENT_SECRET"


def test_missing_certificate_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com", D365LAB_AUTH="certificate",
              AZURE_TENANT_ID="t", AZURE_CLIENT_ID="c", AZURE_CLIENT_CERTIFICATE_PATH="/nope/cert.pem")
    assert info.value.variable == "AZURE_CLIENT_CERTIFICATE_PATH"
    assert "/nope/cert.pem" in str(info.value)


def test_unknown_auth_mode_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="client_secret, certificate, device_code, token") as info:
        _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com", D365LAB_AUTH="password")
    assert info.value.variable == "D365LAB_AUTH"


def test_token_mode_needs_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com", D365LAB_AUTH="token")
    assert info.value.variable == "DATAVERSE_TOKEN"


def test_device_code_is_the_default_with_only_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com/")
    assert settings.auth_mode is AuthMode.DEVICE_CODE
    assert settings.base_url == "https://org.crm.dynamics.com"


def test_static_token_is_inferred(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, DATAVERSE_URL="https://org.crm.dynamics.com", DATAVERSE_TOKEN="abc")
    assert settings.auth_mode is AuthMode.TOKEN


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATAVERSE_URL=https://fromfile.crm.dynamics.com\nDATAVERSE_TOKEN=t\n")
    settings = load_settings()
    assert settings.base_url == "https://fromfile.crm.dynamics.com"
    assert settings.auth_mode is AuthMode.TOKEN


@pytest.mark.parametrize("url", ["http://contoso.crm.dynamics.com", "ftp://x", "contoso.crm.dynamics.com"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalize_url(url)
    assert info.value.variable == "DATAVERSE_URL"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:8765/", "http://[::1]:9000"])
def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    assert normalize_url(url).startswith("http://")


def test_api_path_is_stripped() -> None:
    assert normalize_url("https://org.crm4.dynamics.com/api/data/v9.2/") == "https://org.crm4.dynamics.com"


def test_bad_timeout_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(monkeypatch, D365LAB_TIMEOUT="soon")
    assert info.value.variable == "D365LAB_TIMEOUT"
