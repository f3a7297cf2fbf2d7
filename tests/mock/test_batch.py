"""``$batch`` through the Web API of the mock: change sets, Content-ID references, errors, wire format."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
CRLF = "\r\n"


# ------------------------------------------------------------------ building requests

def part(method: str, url: str, body: dict[str, Any] | None = None, content_id: str | None = None,
         headers: dict[str, str] | None = None) -> str:
    """One application/http part (PY SDK layout: blank line after the inner headers)."""
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        mime.append(f"Content-ID: {content_id}")
    inner = [f"{method} {url} HTTP/1.1"]
    if body is not None:
        inner.append("Content-Type: application/json; type=entry")
    inner += [f"{k}: {v}" for k, v in (headers or {}).items()]
    text = CRLF.join(mime) + CRLF + CRLF + CRLF.join(inner) + CRLF + CRLF
    if body is not None:
        text += json.dumps(body) + CRLF
    return text


def change_set(boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}{CRLF}{p}" for p in parts) + f"--{boundary}--{CRLF}"
    return f'Content-Type: multipart/mixed; boundary="{boundary}"{CRLF}{CRLF}{inner}'


def batch_body(boundary: str, items: list[str]) -> str:
    return "".join(f"--{boundary}{CRLF}{item}" for item in items) + f"--{boundary}--{CRLF}"


def send(api: ServiceRootSession, items: list[str], continue_on_error: bool = False) -> Any:
    headers = {"Content-Type": 'multipart/mixed; boundary="batch_abc"'}
    if continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    return api.post("$batch", data=batch_body("batch_abc", items).encode(), headers=headers)


# ------------------------------------------------------------------ reading responses

@dataclass
class Answer:
    status: int
    content_id: str | None
    headers: dict[str, str]
    body: Any
    in_change_set: bool


def _split(text: str, boundary: str) -> list[str]:
    pieces = re.split(rf"(?:^|\r\n)--{re.escape(boundary)}(?:--)?(?:\r\n|$)", text)
    return [p for p in pieces[1:] if p.strip()]


def answers(response: Any) -> list[Answer]:
    """The inner responses of a batch answer, flattened, in order."""
    content_type = response.headers["Content-Type"]
    boundary = re.search(r"boundary=([^;\s]+)", content_type).group(1)  # type: ignore[union-attr]
    out: list[Answer] = []

    def read(piece: str, in_change_set: bool) -> None:
        mime, _, rest = piece.partition(CRLF + CRLF)
        inner_boundary = re.search(r"boundary=(changesetresponse_[\w-]+)", mime)
        if inner_boundary is not None:
            for sub in _split(rest, inner_boundary.group(1)):
                read(sub, True)
            return
        content_id = re.search(r"Content-ID: (\S+)", mime)
        status_line, _, after = rest.partition(CRLF)
        head, _, body = after.partition(CRLF + CRLF)
        headers = dict(line.split(": ", 1) for line in head.split(CRLF) if line)
        body = body.strip()
        out.append(Answer(int(status_line.split()[1]), content_id.group(1) if content_id else None,
                          headers, json.loads(body) if body else None, in_change_set))

    for piece in _split(response.text, boundary):
        read(piece, False)
    return out


def entity_id(answer: Answer) -> str:
    return answer.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def count(api: ServiceRootSession, entity_set: str) -> int:
    return int(api.get(f"{entity_set}/$count").text.lstrip("\ufeff"))


# ------------------------------------------------------------------ tests

def test_round_trip_with_change_set_and_references(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Fabrikam"})
    root = api.service_root
    items = [
        change_set("changeset_1", [
            part("POST", f"{root}leads", {"subject": "Batch lead", "lastname": "Doe"}, "1"),
            part("PATCH", "$1", {"jobtitle": "Buyer"}, "2", {"If-Match": "*"}),
            part("POST", "/api/data/v9.2/contacts", {"lastname": "Lee", "originatingleadid@odata.bind": "$1"}, "3"),
            part("PUT", "$1/companyname", {"value": "Fabrikam"}, "4"),
        ]),
        part("GET", f"{root}accounts({account})?$select=name"),
    ]
    response = send(api, items)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    got = answers(response)
    assert [a.status for a in got] == [204, 204, 204, 204, 200]
    assert [a.content_id for a in got[:4]] == ["1", "2", "3", "4"]
    assert all(a.in_change_set for a in got[:4]) and not got[4].in_change_set
    assert got[4].body["name"] == "Fabrikam"
    lead = entity_id(got[0])
    assert got[0].headers["Location"] == got[0].headers["OData-EntityId"]
    row = api.get(f"leads({lead})?$select=jobtitle,companyname").json()
    assert (row["jobtitle"], row["companyname"]) == ("Buyer", "Fabrikam")
    contact = entity_id(got[2])
    assert api.get(f"contacts({contact})?$select=_originatingleadid_value").json()[
        "_originatingleadid_value"] == lead


def test_response_wire_format_is_strict(api: ServiceRootSession) -> None:
    items = [change_set("cs", [part("POST", "leads", {"subject": "a"}, "1")]), part("GET", "WhoAmI")]
    text = send(api, items).text
    assert text.startswith("--batchresponse_")
    assert "\n" not in text.replace(CRLF, "")
    change_set_part = text.split(CRLF + CRLF, 1)[0]
    assert re.fullmatch(r"--batchresponse_[0-9a-f-]+\r\nContent-Type: multipart/mixed; "
                        r"boundary=changesetresponse_[0-9a-f-]+", change_set_part)
    assert "Content-Transfer-Encoding: binary" in text
    assert re.search(r"^HTTP/1\.1 204 No Content\r$", text, re.M)
    assert re.search(r"^HTTP/1\.1 200 OK\r$", text, re.M)
    assert text.endswith("--" + CRLF)


def test_failing_change_set_rolls_back_and_stops(api: ServiceRootSession) -> None:
    items = [
        change_set("cs", [
            part("POST", "leads", {"subject": "first write"}, "1"),
            part("POST", "leads", {"subject": "x" * 301}, "2"),
        ]),
        part("POST", "leads", {"subject": "never runs"}),
    ]
    response = send(api, items)
    assert response.status_code == 400
    got = answers(response)
    assert len(got) == 1
    assert got[0].status == 400 and got[0].content_id == "2"
    assert got[0].body["error"]["code"] == "0x80044331"
    assert count(api, "leads") == 0


def test_stop_at_first_failure_keeps_earlier_parts(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-0000000000ee"
    items = [part("POST", "leads", {"subject": "kept"}), part("GET", f"leads({missing})"),
             part("POST", "leads", {"subject": "never runs"})]
    response = send(api, items)
    assert response.status_code == 404
    assert [a.status for a in answers(response)] == [204, 404]
    assert count(api, "leads") == 1


def test_continue_on_error_runs_every_part(api: ServiceRootSession) -> None:
    items = [
        change_set("cs1", [part("POST", "leads", {"subject": "a"}, "1"),
                           part("POST", "leads", {"subject": "y" * 301}, "2")]),
        part("POST", "leads", {"subject": "b"}),
        change_set("cs2", [part("POST", "leads", {"subject": "c"}, "3")]),
    ]
    response = send(api, items, continue_on_error=True)
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "odata.continue-on-error"
    assert [a.status for a in answers(response)] == [400, 204, 204]
    subjects = sorted(r["subject"] for r in api.get("leads?$select=subject").json()["value"])
    assert subjects == ["b", "c"]


def test_unknown_content_id_reference_is_400(api: ServiceRootSession) -> None:
    response = send(api, [change_set("cs", [part("PATCH", "$7", {"subject": "x"}, "1")])])
    assert response.status_code == 400
    (got,) = answers(response)
    assert got.body["error"]["message"] == "Content-ID Reference: '$7' does not exist in the batch context."


def test_get_inside_a_change_set_is_refused(api: ServiceRootSession) -> None:
    response = send(api, [change_set("cs", [part("POST", "leads", {"subject": "a"}, "1"),
                                            part("GET", "leads", None, "2")])])
    assert response.status_code == 400
    assert count(api, "leads") == 0


def test_more_than_1000_requests_is_400(api: ServiceRootSession) -> None:
    response = send(api, [part("GET", "WhoAmI") for _ in range(1001)])
    assert response.status_code == 400
    assert "1000" in response.json()["error"]["message"]


def test_actions_run_inside_a_change_set(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "qualify me", "lastname": "Doe"})
    body = {"CreateAccount": False, "CreateContact": False, "CreateOpportunity": True, "Status": 3}
    response = send(api, [change_set("cs", [
        part("PATCH", f"leads({lead})", {"jobtitle": "Buyer"}, "1"),
        part("POST", f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", body, "2")])])
    assert response.status_code == 200, response.text
    got = answers(response)
    assert got[1].status == 200
    assert got[1].body["value"][0]["@odata.type"] == "#Microsoft.Dynamics.CRM.opportunity"


def test_lenient_parsing_of_the_js_client_layout(api: ServiceRootSession, create: Create) -> None:
    """Unquoted boundary without a space, CRLF preamble, a part without a blank line after its headers."""
    lead = create("leads", {"subject": "delete me"})
    root = api.service_root
    body = (f"{CRLF}--dwa_batch_1{CRLF}"
            f"Content-Type: multipart/mixed;boundary=changeset_2{CRLF}{CRLF}"
            f"--changeset_2{CRLF}Content-Type: application/http{CRLF}Content-Transfer-Encoding: binary{CRLF}"
            f"Content-ID: 100001{CRLF}{CRLF}"
            f"DELETE {root}leads({lead}) HTTP/1.1{CRLF}Content-Type: application/json{CRLF}"
            f"--changeset_2{CRLF}Content-Type: application/http{CRLF}Content-Transfer-Encoding: binary{CRLF}"
            f"Content-ID: 100002{CRLF}{CRLF}"
            f"POST {root}leads HTTP/1.1{CRLF}Content-Type: application/json{CRLF}{CRLF}"
            f'{{"subject":"new"}}{CRLF}{CRLF}'
            f"--changeset_2--{CRLF}{CRLF}"
            f"--dwa_batch_1{CRLF}Content-Type: application/http{CRLF}Content-Transfer-Encoding: binary{CRLF}{CRLF}"
            f"GET {root}leads?$select=subject HTTP/1.1{CRLF}Accept: application/json{CRLF}{CRLF}"
            f"--dwa_batch_1--{CRLF}")
    response = api.post("$batch", data=body.encode(), headers={"Content-Type": "multipart/mixed;boundary=dwa_batch_1"})
    assert response.status_code == 200, response.text
    got = answers(response)
    assert [(a.status, a.content_id) for a in got] == [(204, "100001"), (204, "100002"), (200, None)]
    assert [r["subject"] for r in got[2].body["value"]] == ["new"]


def test_malformed_batch_is_400(api: ServiceRootSession) -> None:
    response = api.post("$batch", data=b"--x\r\nno end", headers={"Content-Type": "multipart/mixed; boundary=x"})
    assert response.status_code == 400
    response = api.post("$batch", data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_lf_line_endings_are_accepted(api: ServiceRootSession) -> None:
    body = ("--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
            "POST leads HTTP/1.1\nContent-Type: application/json\n\n{\"subject\": \"lf\"}\n--b--\n")
    response = api.post("$batch", data=body.encode(), headers={"Content-Type": "multipart/mixed; boundary=b"})
    assert response.status_code == 200, response.text
    assert [a.status for a in answers(response)] == [204]
    assert count(api, "leads") == 1


def test_nested_batch_is_refused(api: ServiceRootSession) -> None:
    response = send(api, [part("POST", "$batch", {"x": 1})])
    assert response.status_code == 400
    assert "nested" in answers(response)[0].body["error"]["message"]


def test_raw_spaces_in_a_part_url_are_taken_as_odatalib_does(api: ServiceRootSession, create: Create) -> None:
    """Third-party clients leave ``$filter``/``$orderby`` unencoded inside a batch: the URL runs to the last space."""
    create("leads", {"subject": "Spaced A", "lastname": "X"})
    create("leads", {"subject": "Spaced B", "lastname": "Y"})
    response = send(api, [part("GET", "leads?$select=subject&$filter=statecode eq 0&$orderby=subject desc")])
    assert response.status_code == 200, response.text
    (answer,) = answers(response)
    assert answer.status == 200
    assert [row["subject"] for row in answer.body["value"]] == ["Spaced B", "Spaced A"]
