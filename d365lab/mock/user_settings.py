"""``usersettings`` (one row per system user) and the ``timezonedefinitions`` rows of a tenant.

Both tables are written by the platform only: ``timezonedefinitions`` is read-only, and
``usersettingscollection`` answers Retrieve, RetrieveMultiple and Update (a PATCH of a
user's row, as Personal Options does) but no create or delete. The platform's own writes
(seeding, the row of a new user) run inside :func:`platform_writes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from d365lab.mock import service_errors as errors
from d365lab.mock import timezones
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Row, Tenant

_PLATFORM_WRITING: ContextVar[bool] = ContextVar("d365lab_mock_platform_writing", default=False)


@contextmanager
def platform_writes() -> Iterator[None]:
    """Let the platform create and delete rows of its read-only tables."""
    token = _PLATFORM_WRITING.set(True)
    try:
        yield
    finally:
        _PLATFORM_WRITING.reset(token)


def is_platform_writing() -> bool:
    """True inside :func:`platform_writes`."""
    return _PLATFORM_WRITING.get()


def zone_of_code(code: object) -> timezones.TimeZone:
    """The zone of a ``timezonecode`` value, or a 400 naming the valid codes."""
    if isinstance(code, int) and not isinstance(code, bool) and code in timezones.BY_CODE:
        return timezones.BY_CODE[code]
    valid = ", ".join(str(z.code) for z in timezones.ZONES)
    raise errors.bad_request(f"timezonecode {code!r} is not a timezonedefinition of this tenant (valid: {valid}).")


def derive_biases(row: Row) -> None:
    """Fill the bias columns a ``timezonecode`` implies (Windows sign: UTC = local + bias)."""
    bias, daylight = zone_of_code(row.get("timezonecode")).biases()
    row["timezonebias"], row["timezonestandardbias"], row["timezonedaylightbias"] = bias, 0, daylight


def new_user_settings(tenant: Tenant, user_id: str) -> Row:
    """The ``usersettings`` row of a new user (``MockSettings.time_zones`` defaults)."""
    defaults = tenant.settings.time_zones
    language = defaults.default_localeid
    return {
        "systemuserid": user_id,
        "timezonecode": timezones.resolve(defaults.default_user_timezone).code,
        "localeid": language, "uilanguageid": defaults.default_uilanguageid, "helplanguageid": language,
        "dateformatstring": "dd/MM/yyyy" if language == 1036 else "M/d/yyyy",
        "timeformatstring": "HH:mm" if language == 1036 else "h:mm tt",
        "dateseparator": "/", "timeseparator": ":",
    }


def create_user_settings(tenant: Tenant, user_id: str) -> None:
    """Give a user its settings row (no-op when it has one)."""
    if tenant.get("usersettings", user_id) is None:
        with platform_writes():
            tenant.create("usersettings", new_user_settings(tenant, user_id))


def seed_user_settings(tenant: SqliteTenant) -> None:
    """Time-zone definitions, a settings row per user, and the mock user's zone when set."""
    with platform_writes():
        for zone in timezones.ZONES:
            if tenant.get("timezonedefinition", zone.definition_id) is None:
                bias, _ = zone.biases()
                tenant.create("timezonedefinition", {
                    "timezonedefinitionid": zone.definition_id, "timezonecode": zone.code,
                    "standardname": zone.standard_name, "daylightname": zone.daylight_name,
                    "userinterfacename": zone.user_interface_name, "bias": bias, "retiredorder": 0,
                })
    for user in list(tenant.iter_rows("systemuser")):
        create_user_settings(tenant, user["systemuserid"])
    chosen = tenant.settings.time_zones.user_timezone
    if chosen is not None:
        code = timezones.resolve(chosen).code
        current = tenant.get("usersettings", tenant.caller.user_id)
        if current is not None and current.get("timezonecode") != code:
            tenant.update("usersettings", tenant.caller.user_id, {"timezonecode": code})
