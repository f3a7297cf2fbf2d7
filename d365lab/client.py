"""The :class:`DataverseClient` facade.

>>> from d365lab import DataverseClient
>>> from d365lab.auth import StaticTokenProvider
>>> with DataverseClient("https://contoso.crm4.dynamics.com", StaticTokenProvider("t")) as client:  # doctest: +SKIP
...     print(client.whoami().user_id)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from d365lab.auth import TokenProvider, provider_from_settings
from d365lab.batch import Batch
from d365lab.config import ConfigurationError, Settings, normalize_url
from d365lab.errors import TransportError
from d365lab.operations import Actions, Functions
from d365lab.records import Records
from d365lab.sales import Leads, Opportunities, PhoneCalls, ProcessFlows
from d365lab.tables import bind_path
from d365lab.transport import RetryPolicy, Transport
from d365lab.webapi.request import Request

T = TypeVar("T")


@dataclass(frozen=True)
class WhoAmI:
    """The caller as Dataverse sees it."""

    user_id: str
    business_unit_id: str
    organization_id: str


class DataverseClient:
    """One environment's Web API: generic records, actions, functions, batches, and Sales verbs.

    Thread-safe; share one client between threads (its 429 pause applies to all of them).
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        clock: Callable[[], float] | None = None,
        sleeper: Callable[[float], None] | None = None,
        tenant_label: str | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        if clock is not None:
            extra["clock"] = clock
        if sleeper is not None:
            extra["sleeper"] = sleeper
        self.transport = Transport(normalize_url(base_url), tokens, retry=retry, timeout=timeout, **extra)
        self.records = Records(self.transport)
        self.actions = Actions(self.transport)
        self.functions = Functions(self.transport)
        self.leads = Leads(self.transport)
        self.opportunities = Opportunities(self.transport)
        self.phonecalls = PhoneCalls(self.transport)
        self.process_flows = ProcessFlows(self.transport)
        self.tenant_label = tenant_label or self.transport.base_url
        self._on_close = on_close
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> DataverseClient:
        """A client for the real tenant described by checked settings (msal or static token).

        Raises :class:`ConfigurationError` (``DATAVERSE_URL``) when no tenant is configured, and
        for a tenant id the sign-in service does not know; :class:`AuthenticationError` when the
        sign-in service cannot be reached. Nothing is sent to the environment itself.
        """
        settings = settings.checked()
        if settings.is_mock:
            raise ConfigurationError("DATAVERSE_URL", "not set, so there is no real tenant to connect to; set it, "
                                     "or use d365lab.connect.connect() for the embedded mock tenant")
        read = settings.read_timeout
        return cls(settings.base_url, provider_from_settings(settings), timeout=(10.0, read), **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def base_url(self) -> str:
        """The organisation URL (``https://org.crm.dynamics.com`` or the mock's URL)."""
        return self.transport.base_url

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.transport.request_count

    @property
    def recommended_parallelism(self) -> int:
        """The service's ``x-ms-dop-hint`` (>= 1)."""
        return self.transport.recommended_parallelism

    # ------------------------------------------------------------------ operations
    def whoami(self) -> WhoAmI:
        """The calling user, business unit and organization (also a cheap connection check)."""
        result = self.functions.call("WhoAmI")
        if not isinstance(result, dict) or "UserId" not in result:
            raise TransportError("WhoAmI returned no UserId; is this a Dataverse Web API endpoint?")
        return WhoAmI(str(result["UserId"]), str(result.get("BusinessUnitId", "")),
                      str(result.get("OrganizationId", "")))

    def bind(self, table: str, record_id: str) -> str:
        """``/accounts(<id>)``, the value for ``<navigation>@odata.bind``."""
        return bind_path(table, record_id)

    def send(self, request: Request[T]) -> T:
        """Send any request value now (see :mod:`d365lab.webapi`) and return its decoded answer."""
        return self.transport.send(request)

    def batch(self, *, continue_on_error: bool = False) -> Batch:
        """Start a ``$batch`` (a context manager that executes on a clean exit)."""
        return Batch(self.transport, continue_on_error=continue_on_error)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close connections (and stop the embedded mock tenant if this client started it)."""
        if self._closed:
            return
        self._closed = True
        self.transport.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> DataverseClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataverseClient({self.tenant_label!r})"
