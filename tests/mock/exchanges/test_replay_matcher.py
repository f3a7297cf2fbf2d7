"""The replay comparison itself: a documented answer that differs is reported, not waved through."""

from __future__ import annotations

import json
from typing import Any

import requests

from .replay import Replay, check

ROOT = "https://org.test/api/data/v9.2/"
GUID = "0928bcb4-bb27-ed11-9db1-002248274ada"


def _response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"" if body is None else json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def _step(**expected: Any) -> dict[str, Any]:
    return {"name": "x", "request": {"method": "GET", "path": "x"}, "response": expected}


def test_masks_and_captured_values_match() -> None:
    replay = Replay(ROOT, {"contact": GUID})
    step = _step(status=200, headers={"ETag": "<etag>"},
                 body={"@odata.context": "{root}/$metadata#contacts/$entity", "id": "{contact}", "other": "<guid>"})
    answer = _response(200, {"@odata.context": ROOT.rstrip("/") + "/$metadata#contacts/$entity", "id": GUID,
                             "other": GUID}, {"ETag": 'W/"12"'})
    assert check(replay, step, answer) == []


def test_differences_are_reported() -> None:
    replay = Replay(ROOT)
    step = _step(status=200, headers={"ETag": "<etag>"}, body={"name": "Contoso", "id": "<guid>"})
    assert check(replay, step, _response(204))[0].startswith("status 204")
    problems = check(replay, step, _response(200, {"name": "Fabrikam", "id": "not-a-guid", "extra": 1}))
    assert any("header ETag missing" in p for p in problems)
    assert any("'Fabrikam'" in p for p in problems)
    assert any("'not-a-guid'" in p for p in problems)
    assert any("['extra'] unexpected" in p for p in problems)


def test_order_matters_unless_declared_unordered() -> None:
    replay = Replay(ROOT)
    answer = _response(200, {"value": [{"n": 2}, {"n": 1}]})
    assert check(replay, _step(status=200, body={"value": [{"n": 1}, {"n": 2}]}), answer)
    assert check(replay, _step(status=200, unordered=["value"], body={"value": [{"n": 1}, {"n": 2}]}), answer) == []
    assert check(replay, _step(status=200, items_of={"value": 2}, body={"value": [{"n": 1}, {"n": 3}]}), answer)
