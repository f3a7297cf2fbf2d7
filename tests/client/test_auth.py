"""Auth: msal token refresh before expiry, forced refresh after a 401, a 0600 token cache, provider choice."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from d365lab.auth import MsalTokenProvider, PersistentTokenCache, StaticTokenProvider, provider_from_settings
from d365lab.config import Settings
from d365lab.errors import AuthenticationError

from .certs import write_self_signed_pem


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_reused_until_five_minutes_before_expiry() -> None:
    calls: list[bool] = []
    clock = Clock()

    def acquire(force: bool) -> dict[str, Any]:
        calls.append(force)
        return {"access_token": f"t{len(calls)}", "expires_in": 3600}

    provider = MsalTokenProvider(acquire, clock=clock)
    assert provider.get_token() == "t1"
    clock.now = 3000
    assert provider.get_token() == "t1"
    clock.now = 3301
    assert provider.get_token() == "t2"
    provider.invalidate()
    assert provider.get_token() == "t3"
    assert calls == [False, False, True]


def test_msal_errors_become_authentication_errors() -> None:
    provider = MsalTokenProvider(lambda force: {"error": "invalid_client",
                                                "error_description": "AADSTS7000215: Invalid client secret.\nTrace"})
    with pytest.raises(AuthenticationError, match="AADSTS7000215: Invalid client secret.") as info:
        provider.get_token()
    assert "Trace" not in str(info.value)


def test_token_cache_file_is_private(tmp_path: Path) -> None:
    cache = PersistentTokenCache(tmp_path / "sub" / "cache.json")
    cache.cache.has_state_changed = True
    cache.save()
    mode = stat.S_IMODE((tmp_path / "sub" / "cache.json").stat().st_mode)
    assert mode == 0o600


def test_static_token_settings_give_a_static_provider() -> None:
    settings = Settings(dataverse_url="https://org.crm.dynamics.com", token="abc").checked()
    provider = provider_from_settings(settings)
    assert isinstance(provider, StaticTokenProvider)
    assert provider.get_token() == "abc"
    assert "abc" not in repr(provider)


def test_client_secret_settings_build_a_confidential_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import msal

    seen: dict[str, Any] = {}

    class FakeApp:
        def __init__(self, client_id: str, client_credential: str, authority: str, token_cache: Any) -> None:
            seen.update(client_id=client_id, authority=authority, secret=client_credential)
            self.token_cache = token_cache

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            seen["scopes"] = scopes
            return {"access_token": "from-msal", "expires_in": 3599}

    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeApp)
    settings = Settings(dataverse_url="https://org.crm4.dynamics.com", tenant_id="tid", client_id="cid",
                        client_secret="s3").checked()
    provider = provider_from_settings(settings, cache_path=tmp_path / "c.json")
    assert provider.get_token() == "from-msal"
    provider.invalidate()  # after a 401: cached access tokens are dropped and msal asked again
    assert provider.get_token() == "from-msal"
    assert seen == {"client_id": "cid", "authority": "https://login.microsoftonline.com/tid", "secret": "s3",
                    "scopes": ["https://org.crm4.dynamics.com/.default"]}


def test_certificate_settings_pass_key_thumbprint_and_certificate(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import msal
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    path = write_self_signed_pem(tmp_path / "app.pem")
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    seen: dict[str, Any] = {}

    class FakeApp:
        def __init__(self, client_id: str, client_credential: dict[str, Any], authority: str,
                     token_cache: Any) -> None:
            seen.update(client_credential)
            self.token_cache = token_cache

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            return {"access_token": "cert-token", "expires_in": 3599}

    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeApp)
    settings = Settings(dataverse_url="https://org.crm.dynamics.com", tenant_id="t", client_id="c",
                        client_certificate_path=str(path)).checked()
    assert provider_from_settings(settings, cache_path=tmp_path / "c.json").get_token() == "cert-token"
    assert seen["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex()
    assert "BEGIN PRIVATE KEY" in seen["private_key"] and "BEGIN CERTIFICATE" in seen["public_certificate"]


def test_device_code_uses_the_well_known_client_and_shows_the_prompt(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import msal

    seen: dict[str, Any] = {"prompts": []}

    class FakePublic:
        def __init__(self, client_id: str, authority: str, token_cache: Any) -> None:
            seen.update(client_id=client_id, authority=authority)
            self.accounts: list[dict[str, str]] = []

        def get_accounts(self) -> list[dict[str, str]]:
            return self.accounts

        def acquire_token_silent_with_error(self, scopes: list[str], account: Any,
                                            force_refresh: bool = False) -> dict[str, Any]:
            seen["silent_force"] = force_refresh
            return {"access_token": "silent", "expires_in": 3599}

        def initiate_device_flow(self, scopes: list[str]) -> dict[str, Any]:
            return {"user_code": "ABCD", "message": "Go to https://microsoft.com/devicelogin and enter ABCD"}

        def acquire_token_by_device_flow(self, flow: dict[str, Any]) -> dict[str, Any]:
            self.accounts.append({"username": "me"})
            return {"access_token": "interactive", "expires_in": 3599}

    monkeypatch.setattr(msal, "PublicClientApplication", FakePublic)
    settings = Settings(dataverse_url="https://org.crm.dynamics.com").checked()
    provider = provider_from_settings(settings, cache_path=tmp_path / "c.json", prompt=seen["prompts"].append)
    assert provider.get_token() == "interactive"
    assert seen["prompts"] == ["Go to https://microsoft.com/devicelogin and enter ABCD"]
    assert seen["client_id"] == "51f81489-12ee-4a9e-aaae-a2591f45987d"
    assert seen["authority"] == "https://login.microsoftonline.com/organizations"
    provider.invalidate()  # after a 401: the cached account is refreshed silently, no new prompt
    assert provider.get_token() == "silent"
    assert seen["silent_force"] is True and len(seen["prompts"]) == 1
