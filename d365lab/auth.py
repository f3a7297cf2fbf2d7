"""Bearer tokens for Dataverse: msal confidential/public clients or a static token.

A :class:`TokenProvider` hands the transport a token and can be told to drop it after a
401. msal tokens are cached in memory until five minutes before expiry and persisted in
``<user cache dir>/d365lab/msal-token-cache.json`` (mode 0600), so device-code sign-in
survives between runs.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import platformdirs

from d365lab.config import WELL_KNOWN_PUBLIC_CLIENT_ID, AuthMode, ConfigurationError, Settings
from d365lab.errors import AuthenticationError

#: The sign-in service msal talks to.
LOGIN_HOST = "login.microsoftonline.com"
#: What to fix when the tenant answers 401, per authentication mode.
REJECTED_HINTS: dict[AuthMode, str] = {
    AuthMode.TOKEN: "DATAVERSE_TOKEN is invalid or expired; get a new token for this environment",
    AuthMode.CLIENT_SECRET: "check AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET and that the "
                            "application user exists in the environment",
    AuthMode.CERTIFICATE: "check AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_CERTIFICATE_PATH and that the "
                          "application user exists in the environment",
    AuthMode.DEVICE_CODE: "the signed-in account has no access to this environment; check DATAVERSE_URL "
                          "and sign in with an account that is a user of it",
}

_T = TypeVar("_T")

#: Refresh tokens this many seconds before they expire.
REFRESH_MARGIN_SECONDS = 300.0


class TokenProvider(Protocol):
    """Something that hands out bearer tokens."""

    def get_token(self) -> str:
        """A valid bearer token (without the ``Bearer`` prefix)."""
        ...

    def invalidate(self) -> None:
        """Forget the current token; the next :meth:`get_token` fetches a fresh one."""
        ...


class StaticTokenProvider:
    """A fixed token (``DATAVERSE_TOKEN``, the mock's token). Cannot refresh.

    ``rejected_hint`` is the advice attached to a 401 (what to fix), None for the default.
    """

    def __init__(self, token: str, *, rejected_hint: str | None = None) -> None:
        self._token = token
        self.rejected_hint = rejected_hint

    def get_token(self) -> str:
        """Return the fixed token."""
        return self._token

    def invalidate(self) -> None:
        """Nothing to refresh; the retry after a 401 resends the same token."""

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=<redacted>)"


def default_cache_path() -> Path:
    """Where the persistent msal token cache lives."""
    return Path(platformdirs.user_cache_dir("d365lab")) / "msal-token-cache.json"


class PersistentTokenCache:
    """An ``msal.SerializableTokenCache`` stored in a file only the user can read (0600)."""

    def __init__(self, path: Path) -> None:
        import msal

        self.path = path
        self.cache: Any = msal.SerializableTokenCache()
        if path.is_file():
            try:
                self.cache.deserialize(path.read_text(encoding="utf-8"))
            except ValueError:
                pass  # a corrupt cache only costs a new sign-in

    def save(self) -> None:
        """Write the cache if msal changed it, creating the file with mode 0600."""
        if not self.cache.has_state_changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.cache.serialize())
        os.chmod(self.path, 0o600)
        self.cache.has_state_changed = False


class MsalTokenProvider:
    """Tokens from msal for one environment (scope ``<url>/.default``).

    ``acquire`` is the msal call that returns a token dict; ``rejected_hint`` the advice
    attached to a 401. A sign-in service that cannot be reached becomes an
    :class:`AuthenticationError` saying so.
    """

    def __init__(self, acquire: Callable[[bool], dict[str, Any]], *, cache: PersistentTokenCache | None = None,
                 clock: Callable[[], float] = time.time, rejected_hint: str | None = None) -> None:
        self.rejected_hint = rejected_hint
        self._acquire = acquire
        self._cache = cache
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._force = False

    def get_token(self) -> str:
        """A token valid for at least five more minutes, refreshed through msal when needed."""
        with self._lock:
            if self._token and self._clock() < self._expires_at - REFRESH_MARGIN_SECONDS and not self._force:
                return self._token
            result = signing_in(lambda: self._acquire(self._force), None)
            self._force = False
            if self._cache is not None:
                self._cache.save()
            if "access_token" not in result:
                description = result.get("error_description") or result.get("error") or "no token returned"
                raise AuthenticationError(f"could not obtain a token: {str(description).splitlines()[0]}")
            self._token = str(result["access_token"])
            self._expires_at = self._clock() + float(result.get("expires_in", 3599))
            return self._token

    def invalidate(self) -> None:
        """Drop the in-memory token and ask msal for a fresh one next time."""
        with self._lock:
            self._token = None
            self._force = True

    def __repr__(self) -> str:
        return "MsalTokenProvider(<redacted>)"


def _authority(settings: Settings, default: str) -> str:
    return f"https://{LOGIN_HOST}/{settings.tenant_id or default}"


def signing_in(call: Callable[[], _T], tenant_id: str | None) -> _T:
    """Run an msal call, turning "cannot reach the sign-in service" / "unknown tenant" into d365lab errors.

    msal discovers the tenant's endpoints over the network as soon as an application object
    is built, and raises raw ``requests`` exceptions or ``ValueError``; a person needs to know
    which setting (or which network access) to fix.
    """
    import requests

    try:
        return call()
    except requests.RequestException as exc:
        cause = re.search(r"Caused by (\w+)", str(exc))  # urllib3's pool text is long and says little more
        reason = f"{type(exc).__name__}: {cause.group(1)}" if cause else type(exc).__name__
        raise AuthenticationError(f"cannot reach {LOGIN_HOST} to sign in ({reason})",
                                  hint=f"check network access (proxy, firewall) to https://{LOGIN_HOST}") from None
    except ValueError as exc:
        text = str(exc)
        if "authority" in text.lower() or "discovery" in text.lower():  # the wording varies between msal versions
            shown = tenant_id or "organizations"
            raise ConfigurationError("AZURE_TENANT_ID", f"{shown!r} is not a known tenant "
                                     f"({LOGIN_HOST} has no configuration for it); use the directory "
                                     "(tenant) id or domain of your Entra tenant") from None
        raise AuthenticationError(f"sign-in failed: {text.splitlines()[0] if text else type(exc).__name__}") from None


def provider_from_settings(settings: Settings, *, cache_path: Path | None = None,
                           prompt: Callable[[str], None] | None = None) -> TokenProvider:
    """Build the token provider the settings ask for (they must be :meth:`Settings.checked`).

    Raises :class:`AuthenticationError` when the sign-in service cannot be reached and
    :class:`ConfigurationError` (``AZURE_TENANT_ID``) for a tenant it does not know.
    """
    mode = settings.auth_mode
    hint = REJECTED_HINTS[mode]
    if mode is AuthMode.TOKEN:
        assert settings.token is not None
        return StaticTokenProvider(settings.token.get_secret_value(), rejected_hint=hint)
    import msal

    scopes = [f"{settings.base_url}/.default"]
    cache = PersistentTokenCache(cache_path or default_cache_path())
    tenant = settings.tenant_id
    if mode in (AuthMode.CLIENT_SECRET, AuthMode.CERTIFICATE):
        credential: Any
        if mode is AuthMode.CLIENT_SECRET:
            assert settings.client_secret is not None
            credential = settings.client_secret.get_secret_value()
        else:
            credential = _certificate_credential(settings)
        app = signing_in(lambda: msal.ConfidentialClientApplication(
            settings.client_id, client_credential=credential, authority=_authority(settings, "organizations"),
            token_cache=cache.cache), tenant)

        def acquire_for_client(force: bool) -> dict[str, Any]:
            if force:
                # msal serves client-credential tokens from its cache; a rejected token must go.
                # search() is a generator over the cache: removing while it runs breaks it.
                for entry in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    app.token_cache.remove_at(entry)
            result: dict[str, Any] = app.acquire_token_for_client(scopes=scopes)
            return result

        return MsalTokenProvider(acquire_for_client, cache=cache, rejected_hint=hint)

    public = signing_in(lambda: msal.PublicClientApplication(
        settings.client_id or WELL_KNOWN_PUBLIC_CLIENT_ID, authority=_authority(settings, "organizations"),
        token_cache=cache.cache), tenant)
    show = prompt or (lambda text: print(text, file=sys.stderr, flush=True))

    def acquire_device(force: bool) -> dict[str, Any]:
        accounts = public.get_accounts()
        if accounts:
            silent = public.acquire_token_silent_with_error(scopes, account=accounts[0], force_refresh=force)
            if silent and "access_token" in silent:
                return dict(silent)
        flow = public.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            return dict(flow)
        show(str(flow["message"]))
        return dict(public.acquire_token_by_device_flow(flow))

    return MsalTokenProvider(acquire_device, cache=cache, rejected_hint=hint)


def _certificate_credential(settings: Settings) -> dict[str, Any]:
    """msal's certificate credential: private key, thumbprint and public certificate from one PEM file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    path = Path(settings.client_certificate_path or "").expanduser()
    try:
        pem = path.read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError) as exc:
        raise ConfigurationError("AZURE_CLIENT_CERTIFICATE_PATH",
                                 f"cannot read a PEM certificate from {path} ({exc})") from None
    credential: dict[str, Any] = {
        "private_key": pem.decode("ascii"),
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S324 - Entra uses SHA-1 thumbprints
        "public_certificate": certificate.public_bytes(Encoding.PEM).decode("ascii"),
    }
    if settings.client_certificate_password is not None:
        credential["passphrase"] = settings.client_certificate_password.get_secret_value()
    return credential
