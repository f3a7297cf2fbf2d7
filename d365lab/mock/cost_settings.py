"""Settings of the mock's server cost model, and its presets (``none``, ``realistic``).

The cost model makes the mock spend time like a real tenant: a network round trip per
request (not server time) and server time by message, spent by waiting so a small machine
can simulate a busy tenant. Server time feeds the execution-time limit of service
protection. Calibration and sources: ``docs/mock-tenant.md`` ("Server cost model").

Example::

    settings = with_cost_model(MockSettings(), "realistic", scale=0.1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from d365lab.mock.settings import MockSettings

CostModelName = Literal["none", "realistic"]
COST_MODEL_NAMES: tuple[str, ...] = ("none", "realistic")


class CostSettings(BaseModel):
    """Modelled times in milliseconds (before ``scale``). Off (``enabled=False``) by default."""

    enabled: bool = False
    name: str = "none"
    #: Multiplies every modelled time (the limit windows are scaled by :func:`with_cost_model`).
    scale: float = Field(default=1.0, gt=0)
    #: Network round trip per request, seen by the client, not counted as server time.
    latency_ms: float = Field(default=0.0, ge=0)
    #: Server time of any request before its message's own cost.
    request_ms: float = Field(default=0.0, ge=0)
    #: A single create, update, upsert, delete or SetState.
    single_write_ms: float = Field(default=0.0, ge=0)
    #: A single read (one row by key, WhoAmI, a function).
    read_ms: float = Field(default=0.0, ge=0)
    #: CreateMultiple / UpdateMultiple / UpsertMultiple: per request, and per row.
    bulk_request_ms: float = Field(default=0.0, ge=0)
    bulk_row_ms: float = Field(default=0.0, ge=0)
    #: A create inside a ``$batch`` (on top of the batch's ``request_ms``); every other operation
    #: saves the same overhead on its own cost (:func:`d365lab.mock.cost_model.batch_operation_ms`).
    batch_operation_ms: float = Field(default=0.0, ge=0)
    qualify_lead_ms: float = Field(default=0.0, ge=0)
    close_opportunity_ms: float = Field(default=0.0, ge=0)
    #: Any other action (POST to an unbound or bound action).
    action_ms: float = Field(default=0.0, ge=0)
    #: A query: per page answered, and per row in it.
    query_page_ms: float = Field(default=0.0, ge=0)
    query_row_ms: float = Field(default=0.0, ge=0)
    #: The ``x-ms-dop-hint`` the tenant sends while the model is on.
    dop_hint: int = Field(default=4, ge=1)


#: Calibrated to Microsoft's bulk-operation samples (100 rows: ~10 s one request at a time,
#: ~4 s ExecuteMultiple/$batch, ~1 s CreateMultiple) -- see docs/mock-tenant.md.
REALISTIC = CostSettings(
    enabled=True, name="realistic", latency_ms=20.0, request_ms=10.0, single_write_ms=70.0,
    read_ms=20.0, bulk_request_ms=90.0, bulk_row_ms=9.0, batch_operation_ms=38.0,
    qualify_lead_ms=400.0, close_opportunity_ms=250.0, action_ms=60.0, query_page_ms=40.0,
    query_row_ms=0.2, dop_hint=4)


def cost_preset(name: str, scale: float = 1.0) -> CostSettings:
    """The named preset at ``scale``; ValueError for an unknown name or a scale <= 0."""
    if scale <= 0:
        raise ValueError(f"cost scale must be > 0 (got {scale:g})")
    if name == "none":
        return CostSettings(scale=scale)
    if name == "realistic":
        return REALISTIC.model_copy(update={"scale": scale})
    raise ValueError(f"unknown cost model {name!r}; choose one of {', '.join(COST_MODEL_NAMES)}")


def with_cost_model(settings: MockSettings, name: str, scale: float = 1.0) -> MockSettings:
    """``settings`` with the named cost model; ``realistic`` also turns service protection on.

    ``scale`` multiplies every modelled time and every limit window (window length and
    execution time per window; the request and concurrency counts stay). ``none`` leaves
    the settings as they are (today's behaviour) apart from recording the choice.
    """
    cost = cost_preset(name, scale)
    if not cost.enabled:
        return settings.model_copy(update={"cost": cost})
    throttle = settings.throttle.model_copy(update={
        "enabled": True,
        "window_seconds": settings.throttle.window_seconds * scale,
        "execution_ms_per_window": max(1, round(settings.throttle.execution_ms_per_window * scale)),
    })
    return settings.model_copy(update={"cost": cost, "throttle": throttle, "dop_hint": cost.dop_hint})


#: Mock-only response header (Dataverse never sends it): the served cost model, its scale and
#: the service-protection limits the mock enforces, e.g. ``realistic; scale=0.1;
#: window-seconds=30; requests=6000; execution-ms=120000; concurrent=52``. Sent on every answer
#: while the model is on; ``d365lab backlog ... --dry-run`` estimates from it.
COST_MODEL_HEADER = "x-d365lab-cost-model"
#: Mock-only response header: the modelled server time of this request, in ms after ``scale``.
SERVER_MS_HEADER = "x-d365lab-server-ms"


@dataclass(frozen=True)
class ReportedCostModel:
    """What a served mock says about itself in :data:`COST_MODEL_HEADER`."""

    name: str
    scale: float
    #: None when the mock does not enforce service protection (``service-protection=off``).
    window_seconds: float | None = None
    requests_per_window: int | None = None
    execution_ms_per_window: float | None = None
    max_concurrent: int | None = None


def cost_model_header(settings: MockSettings) -> str:
    """The value of :data:`COST_MODEL_HEADER` for ``settings`` (its cost model is on)."""
    cost, throttle = settings.cost, settings.throttle
    fields = [cost.name, f"scale={cost.scale:g}"]
    if throttle.enabled:
        fields += [f"window-seconds={throttle.window_seconds:g}", f"requests={throttle.requests_per_window}",
                   f"execution-ms={throttle.execution_ms_per_window}", f"concurrent={throttle.max_concurrent}"]
    else:
        fields.append("service-protection=off")
    return "; ".join(fields)


def parse_cost_model_header(value: str | None) -> ReportedCostModel | None:
    """The :class:`ReportedCostModel` in a :data:`COST_MODEL_HEADER` value; None when absent or unreadable."""
    if not value:
        return None
    name, *pairs = (field.strip() for field in value.split(";"))
    params = dict(pair.partition("=")[::2] for pair in pairs)
    try:
        scale = float(params["scale"])
        if not name or not scale > 0:
            return None
        if "window-seconds" not in params:
            return ReportedCostModel(name, scale)
        return ReportedCostModel(name, scale, float(params["window-seconds"]), int(params["requests"]),
                                 float(params["execution-ms"]), int(params["concurrent"]))
    except (KeyError, ValueError):
        return None
