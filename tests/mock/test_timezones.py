"""``timezonedefinitions`` and the time-zone functions through the Web API of the mock."""

from __future__ import annotations

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

#: The facts sheet's table (§2.3): code, Windows standard name, 16:30 local on 15 Jan / 15 Jul 2025 in UTC.
SHEET = [
    (92, "UTC", "2025-01-15T16:30:00Z", "2025-07-15T16:30:00Z"),
    (85, "GMT Standard Time", "2025-01-15T16:30:00Z", "2025-07-15T15:30:00Z"),
    (105, "Romance Standard Time", "2025-01-15T15:30:00Z", "2025-07-15T14:30:00Z"),
    (110, "W. Europe Standard Time", "2025-01-15T15:30:00Z", "2025-07-15T14:30:00Z"),
    (4, "Pacific Standard Time", "2025-01-16T00:30:00Z", "2025-07-15T23:30:00Z"),
    (35, "Eastern Standard Time", "2025-01-15T21:30:00Z", "2025-07-15T20:30:00Z"),
    (20, "Central Standard Time", "2025-01-15T22:30:00Z", "2025-07-15T21:30:00Z"),
    (190, "India Standard Time", "2025-01-15T11:00:00Z", "2025-07-15T11:00:00Z"),
    (235, "Tokyo Standard Time", "2025-01-15T07:30:00Z", "2025-07-15T07:30:00Z"),
    (255, "AUS Eastern Standard Time", "2025-01-15T05:30:00Z", "2025-07-15T06:30:00Z"),
]


def local_time(api: ServiceRootSession, code: int, utc: str) -> str:
    response = api.get(f"LocalTimeFromUtcTime(TimeZoneCode=@tz,UtcTime=@t)?@tz={code}&@t={utc}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.LocalTimeFromUtcTimeResponse")
    return str(body["LocalTime"])


def test_every_zone_of_the_facts_sheet_is_defined(api: ServiceRootSession) -> None:
    response = api.get("timezonedefinitions?$select=timezonecode,standardname,userinterfacename,bias"
                       "&$filter=retiredorder eq 0")
    rows = {r["timezonecode"]: r for r in response.json()["value"]}
    assert {code: rows[code]["standardname"] for code, *_ in SHEET} == {code: name for code, name, *_ in SHEET}
    assert rows[105]["userinterfacename"] == "(GMT+01:00) Brussels, Copenhagen, Madrid, Paris"
    assert (rows[105]["bias"], rows[4]["bias"], rows[92]["bias"], rows[190]["bias"]) == (-60, 480, 0, -330)


@pytest.mark.parametrize(("code", "name", "january", "july"), SHEET)
def test_local_time_from_utc_time_inverts_the_sheets_conversions(api: ServiceRootSession, code: int, name: str,
                                                                 january: str, july: str) -> None:
    assert local_time(api, code, january) == "2025-01-15T16:30:00Z"
    assert local_time(api, code, july) == "2025-07-15T16:30:00Z"


@pytest.mark.parametrize("mock_settings", [
    MockSettings.model_validate({"time_zones": {"local_time_suffix": "offset"}})])
def test_the_local_time_suffix_is_a_setting(api: ServiceRootSession) -> None:
    assert local_time(api, 105, "2025-07-15T14:30:00Z") == "2025-07-15T16:30:00+02:00"
    assert local_time(api, 4, "2025-01-16T00:30:00Z") == "2025-01-15T16:30:00-08:00"


@pytest.mark.parametrize(("code", "name", "january", "july"), SHEET)
def test_time_zone_code_by_localized_name(api: ServiceRootSession, code: int, name: str, january: str,
                                          july: str) -> None:
    response = api.get(f"GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@n,LocaleId=@l)?@n='{name}'&@l=1033")
    assert response.status_code == 200, response.text
    assert response.json()["TimeZoneCode"] == code


def test_bad_time_zone_calls_are_4xx(api: ServiceRootSession) -> None:
    assert api.get("LocalTimeFromUtcTime(TimeZoneCode=@tz,UtcTime=@t)?@tz=9999&@t=2025-07-15T14:30:00Z"
                   ).status_code == 400
    assert api.get("LocalTimeFromUtcTime(TimeZoneCode=@tz,UtcTime=@t)?@tz=105&@t='yesterday'").status_code == 400
    assert api.get("LocalTimeFromUtcTime(TimeZoneCode=@tz)?@tz=105").status_code == 400
    assert api.get("GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@n,LocaleId=@l)?@n='Mars Time'&@l=1033"
                   ).status_code == 400
    assert api.post("LocalTimeFromUtcTime", json={}).status_code == 404


def test_time_zone_definitions_are_read_only(api: ServiceRootSession) -> None:
    row = api.get("timezonedefinitions?$filter=timezonecode eq 105&$select=timezonecode").json()["value"][0]
    assert api.post("timezonedefinitions", json={"timezonecode": 1}).status_code == 400
    assert api.patch(f"timezonedefinitions({row['timezonedefinitionid']})", json={"bias": 0}).status_code == 400
    assert api.delete(f"timezonedefinitions({row['timezonedefinitionid']})").status_code == 400


def test_all_time_zones_with_display_name(api: ServiceRootSession) -> None:
    response = api.get("GetAllTimeZonesWithDisplayName(LocaleId=@l)?@l=1033")
    assert response.status_code == 200, response.text
    codes = [r["timezonecode"] for r in response.json()["value"]]
    assert sorted(codes) == sorted(code for code, *_ in SHEET)
    assert codes[0] == 4  # westernmost first, as the Windows list is ordered
