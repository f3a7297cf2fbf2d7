"""Values no column can hold are a 400 envelope, and nothing stored can break a later read (issue 11).

Non-finite numbers, lone surrogates, dates outside 1753-01-01..9999-12-31, integers past
their type's range (in bodies, ``$filter`` literals and aliases, FetchXML, bulk messages),
bad escapes and FetchXML paging values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.app import MockApp
from tests.mock.hostile_support import assert_client_error, option, send

HUGE = "99999999999999999999"
LOCAL_TIME = "LocalTimeFromUtcTime(TimeZoneCode=@p,UtcTime=@q)"


def _post(app: MockApp, path: str, body: bytes | dict[str, Any]) -> Any:
    return send(app, "POST", path, body=body if isinstance(body, bytes) else json.dumps(body).encode())


def _leads_readable(app: MockApp) -> list[dict[str, Any]]:
    answer = send(app, "GET", "leads", headers={"Prefer": 'odata.include-annotations="*"'})
    assert answer.status_code == 200, answer.body[:300]
    rows: list[dict[str, Any]] = json.loads(answer.body)["value"]
    return rows


@pytest.mark.parametrize("body", [
    b'{"subject":"x","estimatedvalue":1e400}',
    b'{"subject":"x","estimatedvalue":-1e400}',
    b'{"subject":"x","estimatedamount":"NaN"}',
    b'{"subject":"x","estimatedamount":"Infinity"}',
    b'{"subject":"x","estimatedvalue":"-Infinity"}',
    ('{"subject":"x","estimatedvalue":' + "9" * 400 + "}").encode(),
])
def test_non_finite_and_huge_numbers_are_refused(mock_app: MockApp, body: bytes) -> None:
    assert_client_error(_post(mock_app, "leads", body))
    assert _leads_readable(mock_app) == []


def test_huge_number_in_create_multiple_is_refused(mock_app: MockApp) -> None:
    body = ('{"Targets":[{"@odata.type":"Microsoft.Dynamics.CRM.lead","subject":"x","estimatedvalue":'
            + "9" * 400 + "}]}").encode()
    error = assert_client_error(_post(mock_app, "leads/Microsoft.Dynamics.CRM.CreateMultiple", body))
    assert "outside the range" in error["message"]
    assert _leads_readable(mock_app) == []


def test_int32_columns_refuse_values_past_their_range(mock_app: MockApp) -> None:
    error = assert_client_error(_post(mock_app, "opportunities", {"name": "x", "closeprobability": 2**31}))
    assert "outside the range of the type 'Edm.Int32'" in error["message"]


@pytest.mark.parametrize("body", [b'{"subject":"\\ud800"}', b'{"subject":"a\\udfff"}', b'{"\\ud800":"x"}',
                                  b'{"subject":"\xed\xa0\x80"}', b'{"subject":"\xff"}'])
def test_lone_surrogates_and_bad_utf8_in_bodies_are_refused(mock_app: MockApp, body: bytes) -> None:
    assert_client_error(_post(mock_app, "leads", body))


def test_a_surrogate_pair_escape_is_valid_text(mock_app: MockApp) -> None:
    assert _post(mock_app, "leads", b'{"subject":"coffee \\ud83d\\ude00"}').status_code == 204
    assert _leads_readable(mock_app)[0]["subject"] == "coffee \U0001f600"


def test_lone_surrogate_in_a_filter_string_is_refused(mock_app: MockApp) -> None:
    query = option("$filter", 'Microsoft.Dynamics.CRM.In(PropertyName=\'subject\',PropertyValues=["\\ud800"])')
    assert_client_error(send(mock_app, "GET", "leads", query=query))


def _batch(body: bytes) -> bytes:
    return (b"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            b"POST leads HTTP/1.1\r\nContent-Type: application/json\r\n\r\n" + body + b"\r\n--b--\r\n")


def test_lone_surrogates_in_batch_parts_are_refused(mock_app: MockApp) -> None:
    headers = {"Content-Type": "multipart/mixed; boundary=b"}
    raw = send(mock_app, "POST", "$batch", body=_batch(b'{"subject":"\xed\xa0\x80"}'), headers=headers)
    assert_client_error(raw)
    escaped = send(mock_app, "POST", "$batch", body=_batch(b'{"subject":"\\ud800 $1"}'), headers=headers)
    assert escaped.status_code in (200, 400) and b"surrogate" in escaped.body and b" 400 " in escaped.body
    deep = send(mock_app, "POST", "$batch", body=_batch(b'{"a":"$1","b":' + b"[" * 990 + b"]" * 990 + b"}"),
                headers=headers)
    assert deep.status_code in (200, 400) and b"JSON nesting depth" in deep.body
    assert _leads_readable(mock_app) == []


@pytest.mark.parametrize(("path", "column", "value"), [
    ("phonecalls", "scheduledstart", "0001-01-01T00:00:00+05:00"),
    ("phonecalls", "scheduledstart", "0999-01-01T00:00:00Z"),
    ("phonecalls", "scheduledstart", "1752-12-31T23:59:59Z"),
    ("leads", "estimatedclosedate", "0999-01-01"),
    ("leads", "estimatedclosedate", "1752-12-31"),
])
def test_dates_outside_the_stored_range_are_refused(mock_app: MockApp, path: str, column: str, value: str) -> None:
    error = assert_client_error(_post(mock_app, path, {"subject": "x", column: value}))
    assert "outside the range Dataverse stores (1753-01-01 to 9999-12-31)" in error["message"]
    answer = send(mock_app, "GET", path, headers={"Prefer": 'odata.include-annotations="*"'})
    assert answer.status_code == 200 and json.loads(answer.body)["value"] == []


def test_dates_at_the_range_edges_are_stored_as_iso(mock_app: MockApp) -> None:
    assert _post(mock_app, "phonecalls", {"subject": "x", "scheduledstart": "1753-01-01T00:00:00Z",
                                          "scheduledend": "9999-12-31T23:59:59Z"}).status_code == 204
    answer = send(mock_app, "GET", "phonecalls", headers={"Prefer": 'odata.include-annotations="*"'})
    row = json.loads(answer.body)["value"][0]
    assert (row["scheduledstart"], row["scheduledend"]) == ("1753-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


@pytest.mark.parametrize("query", [
    option("$filter", f"statecode eq {HUGE}"),
    option("$filter", f"versionnumber gt {HUGE}"),
    option("$filter", "statecode eq @p") + "&" + option("@p", HUGE),
    option("$filter", f"Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0','{HUGE}'])"),
    option("$filter", f"Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=[0,{HUGE}])"),
    option("$filter", "estimatedvalue gt 1e999"),
    option("$filter", "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=1e999)"),
    option("$filter", f"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue={HUGE})"),
    option("$filter", "Microsoft.Dynamics.CRM.NextXDays(PropertyName='createdon',PropertyValue='abc')"),
    option("$filter", 'subject eq "\\q"'),
    option("$filter", 'Microsoft.Dynamics.CRM.In(PropertyName=\'subject\',PropertyValues=["\\q"])'),
    option("$top", HUGE),
    option("fetchXml", "<fetch><entity name='lead'><filter><condition attribute='statecode' operator='eq' "
                       f"value='{HUGE}'/></filter></entity></fetch>"),
    option("fetchXml", "<fetch><entity name='lead'><filter><condition attribute='estimatedvalue' operator='gt' "
                       "value='nan'/></filter></entity></fetch>"),
    option("fetchXml", f"<fetch page='{HUGE}' count='5'><entity name='lead'/></fetch>"),
    option("fetchXml", "<fetch count='-5'><entity name='lead'/></fetch>"),
    option("fetchXml", "<fetch count='-1'><entity name='lead'/></fetch>"),
    option("fetchXml", "<fetch top='-1'><entity name='lead'/></fetch>"),
    option("fetchXml", "<fetch page='0' count='5'><entity name='lead'/></fetch>"),
])
def test_out_of_range_literals_and_bad_escapes_in_queries_are_400(
        mock_app: MockApp, create: Callable[[str, dict[str, Any]], str], query: str) -> None:
    create("leads", {"subject": "s", "lastname": "L"})
    assert_client_error(send(mock_app, "GET", "leads", query=query))


def test_relative_date_functions_still_accept_whole_numbers(mock_app: MockApp,
                                                            create: Callable[[str, dict[str, Any]], str]) -> None:
    create("leads", {"subject": "recent", "lastname": "L"})
    for value in ("3", "'3'", "0"):
        query = option("$filter", f"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue={value})")
        answer = send(mock_app, "GET", "leads", query=query)
        assert answer.status_code == 200 and len(json.loads(answer.body)["value"]) == 1


def _bulk_delete(condition: dict[str, Any] | str) -> dict[str, Any]:
    query: dict[str, Any] = {"EntityName": "lead", "Criteria": {"FilterOperator": "And", "Conditions": [condition]}}
    return {"QuerySet": [query], "JobName": "x", "SendEmailNotification": False, "ToRecipients": [],
            "CCRecipients": [], "RecurrencePattern": "", "StartDateTime": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize("body", [
    _bulk_delete({"AttributeName": "statecode", "Operator": "Equal",
                  "Values": [{"Value": "abc", "Type": "System.Int32"}]}),
    _bulk_delete({"AttributeName": "statecode", "Operator": "Equal",
                  "Values": [{"Value": HUGE, "Type": "System.Int64"}]}),
    _bulk_delete({"AttributeName": "statecode", "Operator": "Equal", "Values": [int(HUGE)]}),
    _bulk_delete({"AttributeName": "statecode", "Operator": "Equal", "Values": "0"}),
    _bulk_delete({"AttributeName": "subject", "Operator": "Equal", "Values": [{"Value": {"x": 1}}]}),
    _bulk_delete("statecode eq 0"),
    {"QuerySet": [{"EntityName": "lead", "Criteria": "all"}]},
    {"QuerySet": [{"EntityName": 5, "Criteria": {}}]},
    {"QuerySet": [{"EntityName": "lead", "Criteria": {"Conditions": {"a": 1}}}]},
])
def test_bulk_delete_with_a_bad_query_set_is_400(mock_app: MockApp, create: Callable[[str, dict[str, Any]], str],
                                                 body: dict[str, Any]) -> None:
    create("leads", {"subject": "stays", "lastname": "L"})
    assert_client_error(_post(mock_app, "BulkDelete", body))
    assert [row["subject"] for row in _leads_readable(mock_app)] == ["stays"]


def test_bulk_delete_with_typed_values_still_deletes(mock_app: MockApp,
                                                     create: Callable[[str, dict[str, Any]], str]) -> None:
    create("leads", {"subject": "gone", "lastname": "L"})
    body = _bulk_delete({"AttributeName": "statecode", "Operator": "Equal",
                         "Values": [{"Value": "0", "Type": "System.Int32"}]})
    assert _post(mock_app, "BulkDelete", body).status_code == 200
    assert _leads_readable(mock_app) == []


@pytest.mark.parametrize(("path", "query"), [
    (f"opportunities(closeprobability={HUGE})", ""),
    (f"leads(leadsourcecode={HUGE})", ""),
    (LOCAL_TIME, option("@p", "105") + "&" + option("@q", "'9999-12-31T23:59:59Z'")),
    (LOCAL_TIME, option("@p", "105") + "&" + option("@q", "'0001-01-01T00:00:00+05:00'")),
])
def test_found_by_fuzzing_alternate_keys_and_time_functions_out_of_range(mock_app: MockApp, path: str,
                                                                           query: str) -> None:
    assert_client_error(send(mock_app, "GET", path, query=query))
