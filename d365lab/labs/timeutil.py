"""Time zones and relative dates of a lab ("today", "tomorrow", "16:30 local time").

Dataverse stores UserLocal date-times in UTC (``"2026-11-29T15:30:00Z"``) and DateOnly
columns as ``"YYYY-MM-DD"``. The lab's relative values are judged against the *day of the
step* in the lab time zone, never against the grader's clock.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from d365lab.labs.spec import LabSpec, Language

TIMEZONE_ENV = "D365LAB_TIMEZONE"


def resolve_time_zone(lab: LabSpec, lang: Language, explicit: str | None = None,
                      remembered: str | None = None) -> str:
    """The lab time zone: ``explicit`` (``--timezone``), ``$D365LAB_TIMEZONE``, the run journal's, the lab default.

    Raises ``ValueError`` for a name that is not an IANA time zone.
    """
    name = explicit or os.environ.get(TIMEZONE_ENV) or remembered or lab.lab.time_zones.get(lang, "UTC")
    zone_of(name)
    return name


def zone_of(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name; ``ValueError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris or UTC)") from None


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def parse_timestamp(value: str) -> datetime:
    """Parse a Web API date-time (``...Z`` or with an offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def local_date(value: str | datetime, tz: str) -> date:
    """The calendar day of a timestamp in time zone ``tz``."""
    moment = parse_timestamp(value) if isinstance(value, str) else value
    return moment.astimezone(zone_of(tz)).date()


def relative_date(step_day: date, days: int) -> date:
    """``step_day`` moved by ``days`` (``+1`` = "tomorrow")."""
    return step_day + timedelta(days=days)


def local_moment(day: date, hhmm: str, tz: str) -> datetime:
    """The aware datetime of ``hhmm`` (``"16:30"``) on ``day`` in ``tz``, converted to UTC."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone_of(tz)).astimezone(UTC)


def to_wire(moment: datetime) -> str:
    """A UTC timestamp as the Web API writes it (``2026-11-29T15:30:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_local(value: str, tz: str) -> str:
    """``"2026-11-29 16:30 Europe/Paris"`` for a stored UTC timestamp."""
    moment = parse_timestamp(value).astimezone(zone_of(tz))
    return f"{moment:%Y-%m-%d %H:%M} {tz}"
