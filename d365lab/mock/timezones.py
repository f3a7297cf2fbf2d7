"""Dataverse time zones: ``timezonecode`` <-> Windows name <-> IANA zone, and conversions.

The codes are the Windows time-zone indexes Dataverse uses (facts sheet §2.3: 92 = UTC,
105 = Paris, 35 = New York, 4 = Pacific…); each maps to the IANA zone CLDR gives its
Windows name (territory ``001``) plus common aliases, so ``--user-timezone`` takes either.
Offsets and daylight saving come from :mod:`zoneinfo`, as Dataverse now takes them from
Windows time-zone data (``timezonerule`` is deprecated).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_NAMESPACE = uuid.UUID("5f6c1a8e-2b7d-4c3e-9a10-0d365a10e000")


@dataclass(frozen=True)
class TimeZone:
    """One ``timezonedefinition`` row and the IANA names that map to it."""

    code: int
    standard_name: str
    daylight_name: str
    user_interface_name: str
    iana: str
    aliases: tuple[str, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        """The IANA zone (from the system's tz database, or the ``tzdata`` package)."""
        return ZoneInfo(self.iana)

    @property
    def definition_id(self) -> str:
        """The stable ``timezonedefinitionid`` of this zone in the mock."""
        return str(uuid.uuid5(_NAMESPACE, str(self.code)))

    def biases(self) -> tuple[int, int]:
        """``(bias, daylight bias)`` in minutes, Windows sign (UTC = local + bias): Paris ``(-60, -60)``."""
        offsets = [self.zone.utcoffset(datetime(2025, month, 15)) or timedelta() for month in (1, 7)]
        savings = [self.zone.dst(datetime(2025, month, 15)) or timedelta() for month in (1, 7)]
        standard = offsets[0] - savings[0]
        daylight = max(savings)
        return -int(standard.total_seconds() // 60), -int(daylight.total_seconds() // 60)

    def local_time(self, utc: datetime) -> datetime:
        """The wall-clock time of a UTC moment in this zone (aware)."""
        return utc.astimezone(UTC).astimezone(self.zone)


#: The zones of the facts sheet (§2.3), the first column of ``timezonedefinitions``.
ZONES: tuple[TimeZone, ...] = (
    TimeZone(92, "UTC", "UTC", "(GMT) Coordinated Universal Time", "Etc/UTC", ("UTC", "Etc/GMT", "GMT")),
    TimeZone(85, "GMT Standard Time", "GMT Daylight Time", "(GMT+00:00) Dublin, Edinburgh, Lisbon, London",
             "Europe/London", ("Europe/Dublin", "Europe/Lisbon")),
    TimeZone(105, "Romance Standard Time", "Romance Daylight Time",
             "(GMT+01:00) Brussels, Copenhagen, Madrid, Paris", "Europe/Paris",
             ("Europe/Brussels", "Europe/Copenhagen", "Europe/Madrid")),
    TimeZone(110, "W. Europe Standard Time", "W. Europe Daylight Time",
             "(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Berlin",
             ("Europe/Amsterdam", "Europe/Rome", "Europe/Stockholm", "Europe/Vienna", "Europe/Zurich")),
    TimeZone(4, "Pacific Standard Time", "Pacific Daylight Time", "(GMT-08:00) Pacific Time (US & Canada)",
             "America/Los_Angeles", ("America/Vancouver", "America/Tijuana", "US/Pacific")),
    TimeZone(35, "Eastern Standard Time", "Eastern Daylight Time", "(GMT-05:00) Eastern Time (US & Canada)",
             "America/New_York", ("America/Toronto", "America/Montreal", "America/Detroit", "US/Eastern")),
    TimeZone(20, "Central Standard Time", "Central Daylight Time", "(GMT-06:00) Central Time (US & Canada)",
             "America/Chicago", ("America/Winnipeg", "US/Central")),
    TimeZone(190, "India Standard Time", "India Daylight Time", "(GMT+05:30) Chennai, Kolkata, Mumbai, New Delhi",
             "Asia/Calcutta", ("Asia/Kolkata",)),
    TimeZone(235, "Tokyo Standard Time", "Tokyo Daylight Time", "(GMT+09:00) Osaka, Sapporo, Tokyo",
             "Asia/Tokyo"),
    TimeZone(255, "AUS Eastern Standard Time", "AUS Eastern Daylight Time",
             "(GMT+10:00) Canberra, Melbourne, Sydney", "Australia/Sydney",
             ("Australia/Melbourne", "Australia/Canberra")),
)
BY_CODE: dict[int, TimeZone] = {z.code: z for z in ZONES}
_BY_NAME: dict[str, TimeZone] = {name.lower(): z for z in ZONES for name in (z.iana, *z.aliases)}


def resolve(text: str | int) -> TimeZone:
    """A zone from a ``timezonecode`` (``105``, ``"105"``), an IANA name or a Windows standard name.

    Raises ``ValueError`` listing the known zones.
    """
    key = str(text).strip()
    found = BY_CODE.get(int(key)) if key.isdigit() else _BY_NAME.get(key.lower()) or next(
        (z for z in ZONES if z.standard_name.lower() == key.lower()), None)
    if found is None:
        known = ", ".join(f"{z.code} ({z.iana})" for z in ZONES)
        raise ValueError(f"unknown time zone {text!r}; the mock knows: {known}")
    return found


def by_localized_name(name: str) -> TimeZone | None:
    """The zone whose standard, daylight or display name is ``name`` (case-insensitive)."""
    wanted = name.strip().lower()
    return next((z for z in ZONES if wanted in (z.standard_name.lower(), z.daylight_name.lower(),
                                                 z.user_interface_name.lower())), None)
