"""$batch: the multipart request with a change set and Content-ID references, and its response."""

from __future__ import annotations

import pytest
import responses

from d365lab.batch import MAX_BATCH_REQUESTS
from d365lab.client import DataverseClient
from d365lab.errors import ClientValidationError, InvalidStateTransitionError

from .conftest import API

ACCOUNT_ID = "1b2c3d4e-1b7d-ef11-a671-000d3a1a2b3c"


def _response(boundary: str, body: str, status: int = 200) -> dict[str, object]:
    return {"status": status, "body": body.replace("\n", "\r\n"),
            "content_type": f"multipart/mixed; boundary={boundary}"}


def test_batch_round_trip_with_a_changeset(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    lead_id = "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c"
    flow_id = "2c3d4e5f-1b7d-ef11-a671-000d3a1a2b3c"
    reply = f"""--batchresponse_1
Content-Type: multipart/mixed; boundary=changesetresponse_2

--changesetresponse_2
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
OData-EntityId: {API}leads({lead_id})

--changesetresponse_2
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-EntityId: {API}leadtoopportunitysalesprocesses({flow_id})

--changesetresponse_2--
--batchresponse_1
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal

{{"accountid": "{ACCOUNT_ID}", "name": "Fabrikam"}}
--batchresponse_1--
"""
    rsps.post(API + "$batch", **_response("batchresponse_1", reply))  # type: ignore[arg-type]
    with client.batch() as batch:
        with batch.changeset() as changeset:
            lead = changeset.create("lead", {"subject": "Coffee", "lastname": "Doe"})
            changeset.create("leadtoopportunitysalesprocess", {"leadId@odata.bind": lead.ref, "traversedpath": "x"})
        batch.get("account", ACCOUNT_ID, select=["name"])

    request = rsps.calls[0].request
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/mixed; boundary=batch_")
    boundary = content_type.split("boundary=")[1]
    text = request.body.decode("utf-8")
    assert "\r\n" in text and text.endswith(f"--{boundary}--\r\n")
    changeset_boundary = text.split("boundary=changeset_")[1].split("\r\n")[0]
    expected_create = (
        f"--changeset_{changeset_boundary}\r\nContent-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        "POST /api/data/v9.2/leads HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
        f'{{"subject":"Coffee","lastname":"Doe","leadid":"{lead.id}"}}\r\n'
    )
    assert expected_create in text
    assert '"leadId@odata.bind":"$1"' in text
    assert "Content-ID: 2" in text
    assert f"GET /api/data/v9.2/accounts({ACCOUNT_ID})?$select=name HTTP/1.1" in text
    assert text.index("--changeset_") < text.index("GET /api")

    results = batch.results
    assert [r.status for r in results] == [204, 204, 200]
    assert results[0].content_id == "1" and results[0].entity_id == lead_id
    assert results[1].entity_id == flow_id
    assert results[2].body == {"accountid": ACCOUNT_ID, "name": "Fabrikam"}


def test_failed_batch_raises_the_typed_error_of_the_failing_part(client: DataverseClient,
                                                                  rsps: responses.RequestsMock) -> None:
    reply = """--batchresponse_9
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
Content-Type: application/json; odata.metadata=minimal

{"error":{"code":"0x80040203","message":"The lead is closed. You cannot convert or qualify a lead."}}
--batchresponse_9--
"""
    rsps.post(API + "$batch", **_response("batchresponse_9", reply, status=400))  # type: ignore[arg-type]
    batch = client.batch()
    batch.update("lead", "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c", {"statecode": 0, "statuscode": 1})
    with pytest.raises(InvalidStateTransitionError, match="lead is closed"):
        batch.execute()
    assert batch.results[0].status == 400


def test_continue_on_error_returns_every_part(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    reply = """--b
Content-Type: application/http

HTTP/1.1 404 Not Found

{"error":{"code":"0x80040217","message":"lead With Id = x Does Not Exist"}}
--b
Content-Type: application/http

HTTP/1.1 204 No Content

--b--
"""
    rsps.post(API + "$batch", **_response("b", reply))  # type: ignore[arg-type]
    with client.batch(continue_on_error=True) as batch:
        batch.delete("lead", "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c")
        batch.delete("lead", "1a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c")
    assert rsps.calls[0].request.headers["Prefer"] == "odata.continue-on-error"
    assert [r.ok for r in batch.results] == [False, True]
    error = batch.results[0].error()
    assert error is not None and error.code == "0x80040217"


def test_batch_size_is_capped(client: DataverseClient) -> None:
    batch = client.batch()
    for _ in range(MAX_BATCH_REQUESTS):
        batch.delete("lead", "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c")
    with pytest.raises(ClientValidationError, match="at most 1000"):
        batch.delete("lead", "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c")
