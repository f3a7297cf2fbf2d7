"""Requests past the mock's stated limits are a 400 naming the limit, never a 500 (issue 11).

Deep JSON, deeply nested or very long ``$filter``/FetchXML/``?sql=`` conditions and forged
``$skiptoken``s used to reach Python's recursion limit or SQLite's expression-depth and
parser-stack limits. Each is refused with the error envelope, and the tenant still answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.app import MockApp
from d365lab.mock.limits import (
    MAX_FETCH_CONDITIONS,
    MAX_FETCH_DEPTH,
    MAX_FILTER_DEPTH,
    MAX_FILTER_TERMS,
    MAX_JSON_DEPTH,
)
from tests.mock.hostile_support import assert_client_error, option, send

LIMIT = "0x80040203"


def _get(app: MockApp, query: str) -> Any:
    return send(app, "GET", "leads", query=query)


def _fetch(filters: str) -> str:
    return option("fetchXml", f"<fetch><entity name='lead'>{filters}</entity></fetch>")


def _condition(value: str = "0") -> str:
    return f"<condition attribute='statecode' operator='eq' value='{value}'/>"


def test_json_body_nested_past_the_limit_is_400_naming_it(mock_app: MockApp) -> None:
    for body in (b"[" * 990 + b"]" * 990, ('{"subject":' + '{"a":' * 989 + "1" + "}" * 990).encode(),
                 json.dumps({"subject": "x",
                             "deep": json.loads("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))}).encode()):
        error = assert_client_error(send(mock_app, "POST", "leads", body=body))
        assert error["code"] == LIMIT and f"JSON nesting depth (at most {MAX_JSON_DEPTH})" in error["message"]


def test_json_body_within_the_limit_reaches_the_usual_validation(mock_app: MockApp) -> None:
    nested = json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    error = assert_client_error(send(mock_app, "POST", "leads", body=json.dumps({"subject": nested}).encode()))
    assert "JSON nesting" not in error["message"]


@pytest.mark.parametrize("text", [
    "(" * 250 + "statecode eq 0" + ")" * 250,
    "not " * 250 + "statecode eq 0",
    "(" * (MAX_FILTER_DEPTH + 1) + "statecode eq 0" + ")" * (MAX_FILTER_DEPTH + 1),
    "not " * (MAX_FILTER_DEPTH + 1) + "statecode eq 0",
])
def test_filter_nested_past_the_limit_is_400(mock_app: MockApp, text: str) -> None:
    error = assert_client_error(_get(mock_app, option("$filter", text)))
    assert error["code"] == LIMIT and f"$filter (at most {MAX_FILTER_DEPTH})" in error["message"]


def test_filter_with_too_many_terms_is_400(mock_app: MockApp) -> None:
    text = " and ".join(["statecode eq 0"] * 1000)
    error = assert_client_error(_get(mock_app, option("$filter", text)))
    assert f"(at most {MAX_FILTER_TERMS})" in error["message"]


def test_filters_at_the_limits_still_run(mock_app: MockApp, create: Callable[[str, dict[str, Any]], str]) -> None:
    create("leads", {"subject": "kept", "lastname": "L"})
    mixed = "subject ne 'x'"
    for level in range(MAX_FILTER_DEPTH // 2):
        mixed = f"not (statecode eq 1 {'and' if level % 2 else 'or'} {mixed})" if level % 2 else f"({mixed})"
    for text in ("(" * MAX_FILTER_DEPTH + "statecode eq 0" + ")" * MAX_FILTER_DEPTH,
                 "not " * MAX_FILTER_DEPTH + "statecode eq 0",
                 " or ".join(["subject ne 'x'"] * MAX_FILTER_TERMS), mixed):
        answer = _get(mock_app, option("$filter", text))
        assert answer.status_code == 200, answer.body[:300]


def test_fetchxml_nested_filters_and_many_conditions_are_400(mock_app: MockApp) -> None:
    deep = "<filter>" * 500 + _condition() + "</filter>" * 500
    error = assert_client_error(_get(mock_app, _fetch(deep)))
    assert f"<filter> elements in FetchXML (at most {MAX_FETCH_DEPTH})" in error["message"]
    many = "<filter>" + _condition() * (MAX_FETCH_CONDITIONS + 1) + "</filter>"
    error = assert_client_error(_get(mock_app, _fetch(many)))
    assert f"(at most {MAX_FETCH_CONDITIONS})" in error["message"]
    at_limit = "<filter>" * MAX_FETCH_DEPTH + _condition() + "</filter>" * MAX_FETCH_DEPTH
    assert _get(mock_app, _fetch(at_limit)).status_code == 200


def test_sql_with_too_many_conditions_or_parentheses_is_400(mock_app: MockApp) -> None:
    terms = "SELECT * FROM lead WHERE " + " AND ".join(["statecode = 0"] * 1000)
    error = assert_client_error(_get(mock_app, option("sql", terms)))
    assert "conditions in the WHERE clause of ?sql= (at most" in error["message"]
    parens = "SELECT * FROM lead WHERE " + "(" * 100 + "statecode = 0" + ")" * 100
    error = assert_client_error(_get(mock_app, option("sql", parens)))
    assert "nesting of parentheses in the WHERE clause of ?sql=" in error["message"]


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("raw", [
    b"[" * 1000 + b"]" * 1000,        # nested past Python's recursion limit
    b'[{"a":1}]',                     # a dict where a sort value belongs
    b"[" + b"9" * 30 + b"]",          # past SQLite's 64-bit integers
    b'["\\ud800"]',                   # a lone surrogate
    b"[1e999]",                       # an infinite float
    b"not json",
])
def test_forged_skiptoken_is_400(mock_app: MockApp, raw: bytes) -> None:
    error = assert_client_error(_get(mock_app, option("$skiptoken", _token(raw))))
    assert error["message"] == "The $skiptoken is not valid for this query."


def test_tenant_still_answers_after_hostile_queries(mock_app: MockApp) -> None:
    _get(mock_app, option("$filter", "not " * 300 + "statecode eq 0"))
    send(mock_app, "POST", "leads", body=b"[" * 990 + b"]" * 990)
    assert _get(mock_app, "$select=subject").status_code == 200
