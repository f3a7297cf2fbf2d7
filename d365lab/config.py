"""Settings from the environment and ``.env``, checked before any request is sent.

==================================  =============================================================
Variable                            Meaning
==================================  =============================================================
``DATAVERSE_URL``                   ``https://contoso.crm4.dynamics.com``; unset = embedded mock
``D365LAB_AUTH``                    ``client_secret`` | ``certificate`` | ``device_code`` | ``token``
``AZURE_TENANT_ID``                 Entra tenant id (``organizations`` for device code if unset)
``AZURE_CLIENT_ID``                 app registration id (device code: well-known public client)
``AZURE_CLIENT_SECRET``             secret of the app registration
``AZURE_CLIENT_CERTIFICATE_PATH``   PEM file with private key and certificate
``AZURE_CLIENT_CERTIFICATE_PASSWORD`` password of that key, if any
``DATAVERSE_TOKEN``                 a static bearer token
``D365LAB_TIMEOUT``                 read timeout in seconds (default 120)
==================================  =============================================================

>>> settings = load_settings()          # doctest: +SKIP
>>> settings.is_mock
True
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from d365lab.errors import DataverseError

#: Microsoft's well-known public client id used by Dataverse samples (device code flow).
WELL_KNOWN_PUBLIC_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
API_PATH = "/api/data/v9.2"


class ConfigurationError(DataverseError, ValueError):
    """A setting is missing, malformed or contradicts another; raised before any request.

    ``variable`` names the environment variable to fix. It is also a :class:`DataverseError`
    so one ``except DataverseError`` covers "cannot talk to the tenant" in all its forms.
    """

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        DataverseError.__init__(self, f"{variable}: {problem}")


class AuthMode(StrEnum):
    """How d365lab obtains a bearer token."""

    CLIENT_SECRET = "client_secret"
    CERTIFICATE = "certificate"
    DEVICE_CODE = "device_code"
    TOKEN = "token"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Connection settings; use :func:`load_settings` or :meth:`checked` to validate them."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True, frozen=True)

    dataverse_url: str | None = Field(None, validation_alias=_env("DATAVERSE_URL", "dataverse_url"))
    auth: str | None = Field(None, validation_alias=_env("D365LAB_AUTH", "auth"))
    tenant_id: str | None = Field(None, validation_alias=_env("AZURE_TENANT_ID", "tenant_id"))
    client_id: str | None = Field(None, validation_alias=_env("AZURE_CLIENT_ID", "client_id"))
    client_secret: SecretStr | None = Field(None, validation_alias=_env("AZURE_CLIENT_SECRET", "client_secret"))
    client_certificate_path: str | None = Field(
        None, validation_alias=_env("AZURE_CLIENT_CERTIFICATE_PATH", "client_certificate_path"))
    client_certificate_password: SecretStr | None = Field(
        None, validation_alias=_env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "client_certificate_password"))
    token: SecretStr | None = Field(None, validation_alias=_env("DATAVERSE_TOKEN", "token"))
    timeout: str | None = Field(None, validation_alias=_env("D365LAB_TIMEOUT", "timeout"))

    @property
    def is_mock(self) -> bool:
        """True when no real tenant is configured (``DATAVERSE_URL`` unset or empty)."""
        return not (self.dataverse_url or "").strip()

    @property
    def base_url(self) -> str:
        """The organisation URL without trailing slash or API path (``https://org.crm.dynamics.com``)."""
        return normalize_url(self.dataverse_url or "")

    @property
    def auth_mode(self) -> AuthMode:
        """The explicit or inferred authentication mode (see :meth:`checked`)."""
        return _auth_mode(self)

    @property
    def read_timeout(self) -> float:
        """Read timeout in seconds."""
        if not self.timeout:
            return 120.0
        try:
            value = float(self.timeout)
        except ValueError:
            raise ConfigurationError("D365LAB_TIMEOUT", f"expected seconds, got {self.timeout!r}") from None
        if value <= 0:
            raise ConfigurationError("D365LAB_TIMEOUT", "must be positive")
        return value

    def checked(self) -> Settings:
        """Validate the combination of settings; raise :class:`ConfigurationError` naming the variable."""
        _ = self.read_timeout
        if self.is_mock:
            if self.auth:
                raise ConfigurationError("DATAVERSE_URL", "D365LAB_AUTH is set but DATAVERSE_URL is not; "
                                         "set the environment URL, or unset D365LAB_AUTH to use the mock tenant")
            return self
        normalize_url(self.dataverse_url or "")
        mode = self.auth_mode
        secret = self.client_secret is not None and bool(self.client_secret.get_secret_value())
        cert = bool(self.client_certificate_path)
        if mode in (AuthMode.CLIENT_SECRET, AuthMode.CERTIFICATE):
            _require(self.tenant_id, "AZURE_TENANT_ID", mode)
            _require(self.client_id, "AZURE_CLIENT_ID", mode)
        if mode is AuthMode.CLIENT_SECRET:
            if not secret:
                raise ConfigurationError("AZURE_CLIENT_SECRET", "required when D365LAB_AUTH=client_secret")
            if cert:
                raise ConfigurationError("AZURE_CLIENT_CERTIFICATE_PATH",
                                         "set together with AZURE_CLIENT_SECRET; choose one (D365LAB_AUTH)")
        if mode is AuthMode.CERTIFICATE:
            if not cert:
                raise ConfigurationError("AZURE_CLIENT_CERTIFICATE_PATH", "required when D365LAB_AUTH=certificate")
            if secret:
                raise ConfigurationError("AZURE_CLIENT_SECRET",
                                         "set together with a certificate; choose one (D365LAB_AUTH)")
            if not Path(self.client_certificate_path or "").expanduser().is_file():
                raise ConfigurationError("AZURE_CLIENT_CERTIFICATE_PATH",
                                         f"file not found: {self.client_certificate_path}")
        if mode is AuthMode.TOKEN and (self.token is None or not self.token.get_secret_value()):
            raise ConfigurationError("DATAVERSE_TOKEN", "required when D365LAB_AUTH=token")
        if mode is AuthMode.DEVICE_CODE and secret:
            raise ConfigurationError("AZURE_CLIENT_SECRET", "device_code is a public-client flow; "
                                     "unset the secret or use D365LAB_AUTH=client_secret")
        return self


#: Settings that only matter for a real tenant (their variable names, in display order).
_CREDENTIAL_VARIABLES = (
    ("tenant_id", "AZURE_TENANT_ID"), ("client_id", "AZURE_CLIENT_ID"), ("client_secret", "AZURE_CLIENT_SECRET"),
    ("client_certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH"),
    ("client_certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD"), ("token", "DATAVERSE_TOKEN"),
)


def ignored_credentials(settings: Settings) -> list[str]:
    """Names of the credential variables that are set while ``DATAVERSE_URL`` is empty (so unused).

    Only names: values (secrets among them) are never returned.
    """
    if not settings.is_mock:
        return []
    names = []
    for field, variable in _CREDENTIAL_VARIABLES:
        value = getattr(settings, field)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if (text or "").strip():
            names.append(variable)
    return names


def _require(value: str | None, variable: str, mode: AuthMode) -> None:
    if not (value or "").strip():
        raise ConfigurationError(variable, f"required when D365LAB_AUTH={mode.value}")


def _auth_mode(settings: Settings) -> AuthMode:
    if settings.auth:
        try:
            return AuthMode(settings.auth.strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in AuthMode)
            raise ConfigurationError("D365LAB_AUTH", f"unknown mode {settings.auth!r}; use one of {choices}") from None
    has_secret = settings.client_secret is not None and bool(settings.client_secret.get_secret_value())
    has_cert = bool(settings.client_certificate_path)
    has_token = settings.token is not None and bool(settings.token.get_secret_value())
    found = [m for m, present in ((AuthMode.CLIENT_SECRET, has_secret), (AuthMode.CERTIFICATE, has_cert),
                                  (AuthMode.TOKEN, has_token)) if present]
    if len(found) > 1:
        raise ConfigurationError("D365LAB_AUTH", "several credentials are set ("
                                 + ", ".join(m.value for m in found) + "); say which to use")
    return found[0] if found else AuthMode.DEVICE_CODE


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """Return ``scheme://host[:port]`` of an environment URL; refuse plain http except on loopback.

    >>> normalize_url("https://contoso.crm4.dynamics.com/api/data/v9.2/")
    'https://contoso.crm4.dynamics.com'
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("DATAVERSE_URL", f"expected https://<org>.crm.dynamics.com, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError("DATAVERSE_URL", "plain http:// is refused (tokens would travel unencrypted); "
                                 "use https://, http is only allowed for loopback hosts")
    path = parts.path.rstrip("/")
    if path and path.lower() not in (API_PATH, "/api/data"):
        raise ConfigurationError("DATAVERSE_URL", f"unexpected path {parts.path!r}; give the organisation URL only")
    return f"{parts.scheme}://{parts.netloc}"


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read settings from the environment and ``env_file`` and validate them.

    Raises :class:`ConfigurationError` naming the first bad variable.
    """
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:  # pragma: no cover - every field is a plain string
        raise ConfigurationError("settings", str(exc)) from None
    return settings.checked()
