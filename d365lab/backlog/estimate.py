"""How long an import or a triage will take on a tenant, from the server cost model.

The tenant is described by a :class:`~d365lab.mock.cost_settings.CostSettings` (by default
the ``realistic`` preset, calibrated to Microsoft's published figures, see
docs/mock-tenant.md) and the service-protection limits per user. The job sends its requests
over ``lanes`` per user (the ``x-ms-dop-hint``); the wall time is the largest of:

- the lanes: every request's round trip (latency + server time) spread over the lanes;
- the execution-time limit: over a sliding window of W seconds a user may spend B seconds of
  server time, so work of S > B server-seconds takes at least S / (B / W) seconds;
- the request-count limit: likewise R > N requests take at least R / (N / W) seconds.

A real tenant says nothing about its cost, so by default the estimate assumes the
``realistic`` model at scale 1 with Microsoft's documented limits. A mock served with a cost
model names it, its scale and the limits it enforces in the mock-only ``x-d365lab-cost-model``
header; :class:`TenantCostObserver` reads it from a client's answers and
:meth:`TenantModel.from_header` turns it into the model an estimate uses.

Example::

    estimate = estimate_import(rows=100_000, chunk_size=1000, users=1, lanes=4)
    estimate.wall_seconds, estimate.binding   # (about 230, "lanes")
    with TenantCostObserver(client) as observer:
        ...                                   # the dry run's requests
    estimate_import(rows, tenant=observer.model).describe()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from d365lab.backlog.budget import ServiceLimits
from d365lab.mock.cost_settings import (
    COST_MODEL_HEADER,
    COST_MODEL_NAMES,
    REALISTIC,
    CostSettings,
    cost_preset,
    parse_cost_model_header,
)

if TYPE_CHECKING:
    import requests

    from d365lab.client import DataverseClient

#: Rows per page of the queries that read the tenant's leads (duplicate scan, triage plan).
PAGE_ROWS = 5000


#: Why an estimate uses its model: the tenant said nothing (a real tenant never does).
ASSUMED_REAL_TENANT = "assumed: a real tenant, which does not report its cost"
#: Why an estimate uses its model: the served mock named it.
REPORTED_BY_TENANT = f"as the tenant reports in {COST_MODEL_HEADER}"
#: Limits that never bind (a mock served without service protection).
UNLIMITED = ServiceLimits(requests_per_window=10**12, execution_ms_per_window=math.inf, max_concurrent=10**6)


@dataclass(frozen=True)
class TenantModel:
    """The cost model and limits an estimate assumes, and why (``basis``)."""

    cost: CostSettings = field(default_factory=lambda: REALISTIC)
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    basis: str = ASSUMED_REAL_TENANT
    #: How the limits are described ("Microsoft's documented limits", "the tenant's limits", ...).
    limits_label: str = "Microsoft's documented limits"

    @classmethod
    def from_header(cls, value: str | None) -> TenantModel:
        """The model a served mock reports in ``x-d365lab-cost-model``; the real-tenant assumption without it."""
        reported = parse_cost_model_header(value)
        if reported is None:
            return cls()
        basis = REPORTED_BY_TENANT
        if reported.name in COST_MODEL_NAMES and reported.name != "none":
            cost = cost_preset(reported.name, reported.scale)
        else:  # a custom model: its times are unknown here, its scale and limits are not
            cost = REALISTIC.model_copy(update={"scale": reported.scale})
            basis += f"; its model '{reported.name}' is unknown here: realistic's times assumed"
        if reported.window_seconds is None:
            return cls(cost, UNLIMITED, basis, "no service protection")
        limits = ServiceLimits(reported.requests_per_window or 0, reported.execution_ms_per_window or 0.0,
                               reported.window_seconds, reported.max_concurrent or 0)
        label = (f"the tenant's limits ({limits.requests_per_window:,} requests and "
                 f"{limits.execution_ms_per_window / 1000:,.4g} s of execution per {limits.window_seconds:,.4g} s)")
        return cls(cost, limits, basis, label)

    def describe(self) -> str:
        """The assumption, e.g. "the 'realistic' cost model at scale 0.5 and the tenant's limits"."""
        return f"the '{self.cost.name}' cost model at scale {self.cost.scale:g} and {self.limits_label}"


class TenantCostObserver:
    """Watch a client's answers for the mock-only ``x-d365lab-cost-model`` header (a context manager).

    Dataverse never sends the header, so against a real tenant :attr:`model` stays the
    real-tenant assumption.
    """

    def __init__(self, client: DataverseClient) -> None:
        self.client = client
        #: The last value of the header seen, if any.
        self.header: str | None = None

    def __enter__(self) -> TenantCostObserver:
        self.client.transport.session.hooks["response"].append(self._observe)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        hooks = self.client.transport.session.hooks["response"]
        if self._observe in hooks:
            hooks.remove(self._observe)

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        value = response.headers.get(COST_MODEL_HEADER)
        if value:
            self.header = value

    @property
    def model(self) -> TenantModel:
        """What the tenant reported (or the real-tenant assumption when it said nothing)."""
        return TenantModel.from_header(self.header)


@dataclass(frozen=True)
class Estimate:
    """The predicted cost of a job."""

    rows: int
    requests: int
    server_seconds: float
    wall_seconds: float
    #: "lanes" (requests in flight), "execution time" or "request count"
    binding: str
    users: int
    lanes: int
    #: The model and limits assumed, and why.
    tenant: TenantModel = field(default_factory=TenantModel)

    def describe(self) -> str:
        """One sentence for a dry run, naming the model it assumed and why."""
        return (f"estimate with {self.tenant.describe()} ({self.tenant.basis}; docs/mock-tenant.md): "
                f"{self.rows:,} rows, {self.requests:,} requests, {_seconds(self.server_seconds)} s of server "
                f"time over {self.users} user(s) x {self.lanes} lanes: about {_duration(self.wall_seconds)} "
                f"(binding limit: {self.binding})")


def _seconds(seconds: float) -> str:
    return f"{seconds:.2g}" if seconds < 10 else f"{seconds:,.0f}"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class _Work:
    """Requests of one kind: how many, and server milliseconds each (before scale)."""

    count: int
    server_ms: float


def _estimate(rows: int, work: list[_Work], users: int, lanes: int, tenant: TenantModel) -> Estimate:
    users, lanes = max(1, users), max(1, lanes)
    cost, limits = tenant.cost, tenant.limits
    scale = cost.scale
    requests = sum(w.count for w in work)
    server_ms = sum(w.count * w.server_ms for w in work) * scale
    round_trip_ms = server_ms + requests * cost.latency_ms * scale
    per_user_server_ms = server_ms / users
    per_user_requests = requests / users
    bounds = {"lanes": round_trip_ms / 1000.0 / (users * lanes), "execution time": 0.0, "request count": 0.0}
    if per_user_server_ms > limits.execution_ms_per_window:
        bounds["execution time"] = per_user_server_ms / limits.execution_ms_per_second
    if per_user_requests > limits.requests_per_window:
        bounds["request count"] = per_user_requests / limits.requests_per_second
    binding = max(bounds, key=lambda name: bounds[name])
    return Estimate(rows, requests, server_ms / 1000.0, bounds[binding], binding, users, lanes, tenant)


def _tenant(tenant: TenantModel | None, cost: CostSettings | None, limits: ServiceLimits | None) -> TenantModel:
    """``tenant``, with ``cost`` / ``limits`` given explicitly (by a caller who knows them) put in."""
    model = tenant or TenantModel()
    if cost is not None:
        model = replace(model, cost=cost, basis="as given")
    if limits is not None:
        model = replace(model, limits=limits, basis="as given", limits_label="the given limits")
    return model


def estimate_import(rows: int, chunk_size: int = 1000, *, users: int = 1, lanes: int = 4,
                    tenant_leads: int = 0, tenant: TenantModel | None = None, cost: CostSettings | None = None,
                    limits: ServiceLimits | None = None) -> Estimate:
    """An import of ``rows`` new leads in CreateMultiple chunks (plus the duplicate scan of ``tenant_leads``).

    The model is ``tenant`` (default: the real-tenant assumption); ``cost`` and ``limits`` override it.
    """
    model = _tenant(tenant, cost, limits)
    cost = model.cost
    chunks = math.ceil(rows / max(1, chunk_size)) if rows else 0
    full, last = divmod(rows, max(1, chunk_size))
    chunk_ms = cost.request_ms + cost.bulk_request_ms
    work = [_Work(full, chunk_ms + chunk_size * cost.bulk_row_ms)]
    if last:
        work.append(_Work(1, chunk_ms + last * cost.bulk_row_ms))
    pages = math.ceil(tenant_leads / PAGE_ROWS) if tenant_leads else 1
    work.append(_Work(pages, cost.request_ms + cost.query_page_ms + PAGE_ROWS * cost.query_row_ms))
    assert sum(w.count for w in work[:-1]) == chunks
    return _estimate(rows, work, users, lanes, model)


def estimate_triage(qualify: int, disqualify: int, *, open_leads: int | None = None, users: int = 1,
                    lanes: int = 4, tenant: TenantModel | None = None, cost: CostSettings | None = None,
                    limits: ServiceLimits | None = None) -> Estimate:
    """A triage qualifying ``qualify`` leads (re-read + QualifyLead) and disqualifying ``disqualify`` (PATCH).

    The model is ``tenant`` (default: the real-tenant assumption); ``cost`` and ``limits`` override it.
    """
    model = _tenant(tenant, cost, limits)
    cost = model.cost
    planned = open_leads if open_leads is not None else qualify + disqualify
    pages = max(1, math.ceil(planned / PAGE_ROWS))
    work = [_Work(qualify, cost.request_ms + cost.read_ms),
            _Work(qualify, cost.request_ms + cost.qualify_lead_ms),
            _Work(disqualify, cost.request_ms + cost.single_write_ms),
            _Work(pages, cost.request_ms + cost.query_page_ms + PAGE_ROWS * cost.query_row_ms)]
    return _estimate(qualify + disqualify, work, users, lanes, model)
