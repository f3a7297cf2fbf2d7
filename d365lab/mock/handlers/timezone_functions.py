"""Time-zone functions: LocalTimeFromUtcTime, GetTimeZoneCodeByLocalizedName, GetAllTimeZonesWithDisplayName.

- ``GET /LocalTimeFromUtcTime(TimeZoneCode=@tz,UtcTime=@t)?@tz=105&@t=2025-07-15T14:30:00Z``
  → ``{"LocalTime": "2025-07-15T16:30:00Z"}`` (the wall time; its suffix is
  ``MockSettings.time_zones.local_time_suffix``).
- ``GET /GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@n,LocaleId=@l)?@n='Pacific Standard Time'&@l=1033``
  → ``{"TimeZoneCode": 4}``.
- ``GET /GetAllTimeZonesWithDisplayName(LocaleId=@l)?@l=1033`` → the ``timezonedefinitions`` rows.

``UtcTimeFromLocalTime`` has no Web API operation (SDK only), so the mock has none either.
"""

from __future__ import annotations

from datetime import datetime

from d365lab.mock import service_errors as errors
from d365lab.mock.codec import encode_row
from d365lab.mock.handlers.registry import OperationCall, OperationResult, function
from d365lab.mock.tenant_api import Tenant
from d365lab.mock.timezones import by_localized_name
from d365lab.mock.user_settings import zone_of_code
from d365lab.mock.validation import in_date_range, parse_datetime
from d365lab.models.schema import TABLES


def _parameter(call: OperationCall, name: str) -> object:
    if name not in call.parameters:
        raise errors.bad_request(f"The function parameter '{name}' is required.", code="0x80040203")
    return call.parameters[name]


def _utc(value: object) -> datetime:
    text = str(value).strip("'")
    moment = parse_datetime(text.replace("Z", "+00:00"))
    if moment is None:
        raise errors.bad_request(f"UtcTime '{text}' is not an Edm.DateTimeOffset (2025-07-15T14:30:00Z).")
    if not in_date_range(moment):
        raise errors.bad_request(f"UtcTime '{text}' is outside the range Dataverse stores (1753-01-01 to 9999-12-31).")
    return moment


@function("LocalTimeFromUtcTime")
def local_time_from_utc_time(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The wall-clock time of a UTC moment in a Dataverse time zone."""
    zone = zone_of_code(_parameter(call, "TimeZoneCode"))
    try:
        local = zone.local_time(_utc(_parameter(call, "UtcTime")))
    except OverflowError:  # 9999-12-31T23:59:59Z east of UTC
        raise errors.bad_request("The local time of UtcTime is after 9999-12-31 in this time zone.") from None
    if tenant.settings.time_zones.local_time_suffix == "offset":
        text = local.isoformat(timespec="seconds")
    else:
        text = local.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    return OperationResult(200, {"@odata.context": call.response_context("LocalTimeFromUtcTime"), "LocalTime": text})


@function("GetTimeZoneCodeByLocalizedName")
def get_time_zone_code_by_localized_name(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The ``timezonecode`` of a zone's standard name ("Pacific Standard Time")."""
    name = str(_parameter(call, "LocalizedStandardName")).strip("'")
    _parameter(call, "LocaleId")
    zone = by_localized_name(name)
    if zone is None:
        raise errors.bad_request(f"No time zone has the localized standard name '{name}'.")
    return OperationResult(200, {"@odata.context": call.response_context("GetTimeZoneCodeByLocalizedName"),
                                 "TimeZoneCode": zone.code})


@function("GetAllTimeZonesWithDisplayName")
def get_all_time_zones_with_display_name(tenant: Tenant, call: OperationCall) -> OperationResult:
    """Every current ``timezonedefinition`` row, westernmost first (as the Windows list)."""
    _parameter(call, "LocaleId")
    table = TABLES["timezonedefinition"]
    rows = sorted(tenant.iter_rows("timezonedefinition"), key=lambda r: (-(r.get("bias") or 0), r["timezonecode"]))
    return OperationResult(200, {
        "@odata.context": f"{call.base_url}/$metadata#timezonedefinitions",
        "value": [encode_row(tenant, table, row) for row in rows if row.get("retiredorder") == 0],
    })
