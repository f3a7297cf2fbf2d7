"""How long an import or a triage will take on a tenant, from the server cost model.

The tenant is described by a :class:`~d365lab.mock.cost_settings.CostSettings` (by default
the ``realistic`` preset, calibrated to Microsoft's published figures, see
docs/mock-tenant.md) and the service-protection limits per user. The job sends its requests
over ``lanes`` per user (the ``x-ms-dop-hint``); the wall time is the largest of:

- the lanes: every request's round trip (latency + server time) spread over the lanes;
- the execution-time limit: over a sliding window of W seconds a user may spend B seconds of
  server time, so work of S > B server-seconds takes at least S / (B / W) seconds;
- the request-count limit: likewise R > N requests take at least R / (N / W) seconds.

Example::

    estimate = estimate_import(rows=100_000, chunk_size=1000, users=1, lanes=4)
    estimate.wall_seconds, estimate.binding   # (about 250, "execution time")
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from d365lab.backlog.budget import ServiceLimits
from d365lab.mock.cost_settings import REALISTIC, CostSettings

#: Rows per page of the queries that read the tenant's leads (duplicate scan, triage plan).
PAGE_ROWS = 5000


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

    def describe(self, model: str = "realistic") -> str:
        """One sentence for a dry run."""
        return (f"estimate on a tenant like the '{model}' cost model (docs/mock-tenant.md): {self.rows:,} rows, "
                f"{self.requests:,} requests, {self.server_seconds:,.0f} s of server time over {self.users} "
                f"user(s) x {self.lanes} lanes: about {_duration(self.wall_seconds)} "
                f"(binding limit: {self.binding})")


def _duration(seconds: float) -> str:
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


def _estimate(rows: int, work: list[_Work], users: int, lanes: int, cost: CostSettings,
              limits: ServiceLimits) -> Estimate:
    users, lanes = max(1, users), max(1, lanes)
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
    return Estimate(rows, requests, server_ms / 1000.0, bounds[binding], binding, users, lanes)


def estimate_import(rows: int, chunk_size: int = 1000, *, users: int = 1, lanes: int = 4,
                    tenant_leads: int = 0, cost: CostSettings = REALISTIC,
                    limits: ServiceLimits | None = None) -> Estimate:
    """An import of ``rows`` new leads in CreateMultiple chunks (plus the duplicate scan of ``tenant_leads``)."""
    chunks = math.ceil(rows / max(1, chunk_size)) if rows else 0
    full, last = divmod(rows, max(1, chunk_size))
    chunk_ms = cost.request_ms + cost.bulk_request_ms
    work = [_Work(full, chunk_ms + chunk_size * cost.bulk_row_ms)]
    if last:
        work.append(_Work(1, chunk_ms + last * cost.bulk_row_ms))
    pages = math.ceil(tenant_leads / PAGE_ROWS) if tenant_leads else 1
    work.append(_Work(pages, cost.request_ms + cost.query_page_ms + PAGE_ROWS * cost.query_row_ms))
    assert sum(w.count for w in work[:-1]) == chunks
    return _estimate(rows, work, users, lanes, cost, limits or ServiceLimits())


def estimate_triage(qualify: int, disqualify: int, *, open_leads: int | None = None, users: int = 1,
                    lanes: int = 4, cost: CostSettings = REALISTIC,
                    limits: ServiceLimits | None = None) -> Estimate:
    """A triage qualifying ``qualify`` leads (re-read + QualifyLead) and disqualifying ``disqualify`` (PATCH)."""
    planned = open_leads if open_leads is not None else qualify + disqualify
    pages = max(1, math.ceil(planned / PAGE_ROWS))
    work = [_Work(qualify, cost.request_ms + cost.read_ms),
            _Work(qualify, cost.request_ms + cost.qualify_lead_ms),
            _Work(disqualify, cost.request_ms + cost.single_write_ms),
            _Work(pages, cost.request_ms + cost.query_page_ms + PAGE_ROWS * cost.query_row_ms)]
    return _estimate(qualify + disqualify, work, users, lanes, cost, limits or ServiceLimits())
