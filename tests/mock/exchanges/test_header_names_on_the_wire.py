"""Header names go out over a real socket exactly as Dataverse spells them.

waitress re-cases response header names (``OData-EntityId`` -> ``Odata-Entityid``); clients
that read headers from a plain dict (the Python SDK's async client) then miss them. These
tests read the raw header names with ``http.client``, which keeps them as sent.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from d365lab.mock.server import RunningServer, start_background

ROOT = "/api/data/v9.2/"


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_background(":memory:")
    yield running
    running.stop()


def _exchange(server: RunningServer, method: str, path: str, body: object | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, list[str], bytes]:
    parts = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        sent = {"Authorization": f"Bearer {server.token}", "Accept": "application/json", **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        connection.request(method, ROOT + path, body=payload, headers=sent)
        response = connection.getresponse()
        return response.status, [name for name, _ in response.getheaders()], response.read()
    finally:
        connection.close()


def test_create_answers_odata_entityid_spelled_as_dataverse_does(server: RunningServer) -> None:
    status, names, _ = _exchange(server, "POST", "leads", {"subject": "wire", "lastname": "Doe"})
    assert status == 204
    for name in ("OData-EntityId", "OData-Version", "REQ_ID", "x-ms-service-request-id", "x-ms-dop-hint"):
        assert name in names, f"{name} not among {names}"
    assert "Odata-Entityid" not in names


def test_retrieve_answers_etag_and_preference_applied_spelled_as_dataverse_does(server: RunningServer) -> None:
    _, _, _ = _exchange(server, "POST", "accounts", {"name": "Wire"})
    status, names, body = _exchange(server, "GET", "accounts?$select=name&$top=1",
                                    headers={"Prefer": 'odata.include-annotations="*"'})
    assert status == 200
    assert "Preference-Applied" in names
    account_id = json.loads(body)["value"][0]["accountid"]
    status, names, _ = _exchange(server, "GET", f"accounts({account_id})?$select=name")
    assert status == 200
    assert "ETag" in names and "Etag" not in names
