"""What the grader reads about a tenant besides the lab's records: auditing and the user's time zone.

As ``audit-timezones-grading.md`` documents the Web API:

- organization auditing: ``GET organizations?$select=isauditenabled`` (one row), switched by
  ``PATCH organizations(<id>)``;
- table auditing: ``GET EntityDefinitions(LogicalName='lead')?$select=IsAuditEnabled``
  (``{"Value": bool, "CanBeChanged": bool}``);
- a user's time zone: ``GET usersettingscollection(<systemuserid>)?$select=timezonecode``; the
  code maps to an IANA zone through the table below (classic Windows indexes, CLDR names), else
  through ``timezonedefinitions.standardname`` (a Windows id).

Every reader returns ``None`` (never raises) when the tenant cannot say: an older tenant
without the entity set, a user without the privilege, a transient failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from d365lab.errors import DataverseError

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: Dataverse ``timezonecode`` -> IANA zone (facts sheet 2.3: Windows index, CLDR territory 001).
TIMEZONE_CODES: dict[int, str] = {
    92: "Etc/UTC", 85: "Europe/London", 105: "Europe/Paris", 110: "Europe/Berlin", 4: "America/Los_Angeles",
    35: "America/New_York", 20: "America/Chicago", 190: "Asia/Kolkata", 235: "Asia/Tokyo", 255: "Australia/Sydney",
}
#: Windows time-zone id (``timezonedefinitions.standardname``) -> IANA zone (CLDR windowsZones, territory 001).
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "Etc/UTC", "GMT Standard Time": "Europe/London", "Romance Standard Time": "Europe/Paris",
    "W. Europe Standard Time": "Europe/Berlin", "Pacific Standard Time": "America/Los_Angeles",
    "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
    "India Standard Time": "Asia/Kolkata", "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney", "Mountain Standard Time": "America/Denver",
    "Central Europe Standard Time": "Europe/Budapest", "E. Europe Standard Time": "Europe/Chisinau",
    "Atlantic Standard Time": "America/Halifax", "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage", "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore", "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Russian Standard Time": "Europe/Moscow", "E. South America Standard Time": "America/Sao_Paulo",
}
#: The reverse: an IANA zone -> its Dataverse code (what ``lab prepare`` and tests set).
CODES_BY_ZONE: dict[str, int] = {zone: code for code, zone in TIMEZONE_CODES.items()}
CODES_BY_ZONE["UTC"] = 92

_TENANT_ERRORS = (DataverseError, requests.RequestException, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class UserTimeZone:
    """A user's personal time zone as the tenant stores it."""

    user_id: str
    code: int
    #: the IANA name, or None when the code maps to no zone we know
    zone: str | None


def user_time_zone(client: DataverseClient, user_id: str) -> UserTimeZone | None:
    """The personal time zone of ``user_id`` (usersettings), or None when the tenant cannot say."""
    try:
        row = client.records.get("usersettingscollection", user_id, select=["timezonecode"])
        code = int(row["timezonecode"])
    except _TENANT_ERRORS:
        return None
    return UserTimeZone(user_id=user_id, code=code, zone=zone_of_code(client, code))


def zone_of_code(client: DataverseClient, code: int) -> str | None:
    """The IANA zone of a ``timezonecode``: the known table, else its definition's Windows id."""
    if code in TIMEZONE_CODES:
        return TIMEZONE_CODES[code]
    try:
        rows = list(client.records.list("timezonedefinitions", filter=f"timezonecode eq {code}",
                                        select=["timezonecode", "standardname"], top=1))
    except _TENANT_ERRORS:
        return None
    name = str(rows[0].get("standardname") or "") if rows else ""
    return WINDOWS_ZONES.get(name)


@dataclass(frozen=True)
class OrgAudit:
    """The environment's auditing switch."""

    organization_id: str
    enabled: bool


def organization_audit(client: DataverseClient) -> OrgAudit | None:
    """``isauditenabled`` of the organization row, or None when it cannot be read."""
    try:
        rows = list(client.records.list("organizations", select=["organizationid", "isauditenabled"], top=1))
    except _TENANT_ERRORS:
        return None
    if not rows:
        return None
    return OrgAudit(organization_id=str(rows[0].get("organizationid") or ""),
                    enabled=bool(rows[0].get("isauditenabled")))


@dataclass(frozen=True)
class TableAudit:
    """A table's ``IsAuditEnabled`` managed property."""

    table: str
    enabled: bool
    can_change: bool


def table_audit(client: DataverseClient, logical_name: str) -> TableAudit | None:
    """``EntityDefinitions(LogicalName=...).IsAuditEnabled``, or None when it cannot be read."""
    try:
        row = client.records.get("EntityDefinitions", {"LogicalName": logical_name}, select=["IsAuditEnabled"])
    except _TENANT_ERRORS:
        return None
    value: Any = row.get("IsAuditEnabled")
    if isinstance(value, dict):
        return TableAudit(logical_name, bool(value.get("Value")), bool(value.get("CanBeChanged", True)))
    if isinstance(value, bool):
        return TableAudit(logical_name, value, True)
    return None


def column_audit(client: DataverseClient, logical_name: str, columns: list[str]) -> dict[str, TableAudit] | None:
    """Column-level ``IsAuditEnabled`` of ``columns`` of a table (the third level auditing needs), or None."""
    if not columns:
        return {}
    where = " or ".join(f"LogicalName eq '{c}'" for c in columns)
    path = f"EntityDefinitions(LogicalName='{logical_name}')/Attributes"
    try:
        response = client.transport.request("GET", path, query=f"$select=LogicalName,IsAuditEnabled&$filter={where}")
        rows = response.json().get("value", [])
    except _TENANT_ERRORS:
        return None
    found: dict[str, TableAudit] = {}
    for row in rows if isinstance(rows, list) else []:
        value = row.get("IsAuditEnabled") if isinstance(row, dict) else None
        if isinstance(value, dict):
            name = str(row.get("LogicalName"))
            found[name] = TableAudit(name, bool(value.get("Value")), bool(value.get("CanBeChanged", True)))
    return found
