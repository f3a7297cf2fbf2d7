"""Hypothesis strategies for hostile requests to the mock tenant (shared by the CI fuzz test and
``benchmarks/fuzz_mock.py``).

:func:`requests` draws a :class:`FuzzRequest`: a method, a raw path under the service root,
a raw query string, headers and a body, built from the tenant's real names (entity sets,
columns, functions, actions, seeded ids) mixed with extreme values (huge and non-finite
numbers, out-of-range dates, lone surrogates, bad escapes, deep nesting, malformed
FetchXML/SQL/JSON/multipart), so most requests get past routing into the code that parses
and stores values. :func:`check_answer` states what every answer must satisfy.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import strategies as st

from d365lab.models.schema import TABLES
from tests.mock.fuzz_values import (
    ACTIONS,
    BOUND,
    DATES,
    ENTITY_SETS,
    FUNCTIONS,
    OPERATORS,
    TABLE_NAMES,
    bodies,
    columns,
    guids,
    json_values,
    numbers,
    raw_json,
    targeted_bodies,
    texts,
)


@dataclass
class FuzzRequest:
    """One generated request (``path`` and ``query`` raw: already percent-encoded where needed)."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def describe(self) -> str:
        """A short text for failure messages."""
        return f"{self.method} {self.path[:300]}?{self.query[:600]} headers={self.headers} body={self.body[:600]!r}"


def _enc(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")

@st.composite
def filters(draw: st.DrawFn, table: str | None = None, depth: int = 0) -> str:
    """A ``$filter`` from the supported grammar, with hostile literals and, sometimes, nonsense."""
    kind = draw(st.integers(0, 9 if depth < 3 else 4))
    column = draw(
        st.one_of(
            columns(table),
            st.sampled_from(["_parentaccountid_value", "parentaccountid/accountid", "x", "@p", "$it"]),
        )
    )
    literal = draw(
        st.one_of(
            numbers,
            st.sampled_from(DATES),
            guids,
            texts.map(lambda t: "'" + t.replace("'", "''") + "'"),
            texts.map(lambda t: json.dumps(t)),
            st.sampled_from(["null", "true", "false", "@p", "@q", '"\\q"', "'", "[1,2]"]),
        )
    )
    if kind <= 2:
        return f"{column} {draw(st.sampled_from(OPERATORS))} {literal}"
    if kind == 3:
        function = draw(st.sampled_from(["contains", "startswith", "endswith"]))
        return f"{function}({column},{literal})"
    if kind == 4:
        name = draw(
            st.sampled_from(
                [
                    "In",
                    "NotIn",
                    "Between",
                    "LastXDays",
                    "NextXDays",
                    "LastXHours",
                    "OlderThanXDays",
                    "Today",
                    "Null",
                    "EqualUserId",
                    "Unknown",
                ]
            )
        )
        values = ",".join(
            draw(st.lists(st.one_of(numbers, st.sampled_from(DATES).map(lambda d: f"'{d}'")), max_size=3))
        )
        return (
            f"Microsoft.Dynamics.CRM.{name}(PropertyName='{column}',"
            f"{draw(st.sampled_from(['PropertyValues=[' + values + ']', 'PropertyValue=' + literal, '']))})"
        )
    if kind <= 6:
        joiner = draw(st.sampled_from([" and ", " or "]))
        return joiner.join(draw(st.lists(filters(table, depth + 1), min_size=2, max_size=3)))
    if kind == 7:
        return f"not ({draw(filters(table, depth + 1))})"
    if kind == 8:
        n = draw(st.sampled_from([19, 20, 21, 40, 260]))
        return draw(
            st.sampled_from(
                [
                    "(" * n + "statecode eq 0" + ")" * n,
                    "not " * n + "statecode eq 0",
                    " and ".join(["statecode eq 0"] * (n * 3)),
                ]
            )
        )
    return draw(st.text(max_size=40))


def _skiptoken(draw: st.DrawFn) -> str:
    raw = draw(
        st.one_of(
            st.binary(max_size=40),
            json_values.map(raw_json),
            st.sampled_from([b"[" * 900 + b"]" * 900, b'[{"a":1}]', b"[" + b"9" * 30 + b"]"]),
        )
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FETCH_OPERATORS = ["eq", "ne", "gt", "like", "in", "null", "between", "x"]


def _condition(draw: st.DrawFn, table: str | None) -> str:
    value = draw(st.one_of(numbers, st.sampled_from(DATES), texts.map(lambda t: t.replace("'", ""))))
    operator = draw(st.sampled_from(FETCH_OPERATORS))
    return f"<condition attribute='{draw(columns(table))}' operator='{operator}' value='{value.replace('<', '')}'/>"


@st.composite
def fetch_xml(draw: st.DrawFn, table: str | None = None) -> str:
    """A FetchXML document (well-formed or not) for the entity the request addresses."""
    entity = draw(st.sampled_from([table or "lead", table or "lead", "lead", "account", "x"]))
    attrs = "".join(
        f" {k}='{draw(numbers)}'"
        for k in draw(st.lists(st.sampled_from(["top", "count", "page"]), max_size=2, unique=True))
    )
    conditions = "".join(_condition(draw, table) for _ in range(draw(st.integers(0, 3))))
    nest = draw(st.sampled_from([1, 1, 2, 21, 300]))
    filters_xml = "<filter type='or'>" * nest + conditions + "</filter>" * nest
    extra = draw(
        st.sampled_from(
            [
                "",
                "<order attribute='createdon' descending='true'/>",
                "<link-entity name='account' from='accountid' to='parentaccountid'/>",
                "<attribute name='subject'/>",
                "<all-attributes/>",
                "<attribute name='x'/>",
            ]
        )
    )
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=60))
    return f"<fetch{attrs}><entity name='{entity}'>{extra}{filters_xml}</entity></fetch>"


@st.composite
def queries(draw: st.DrawFn, table: str | None = None) -> str:
    """A raw query string of system query options, aliases and junk."""
    parts: list[str] = []
    options = draw(
        st.lists(
            st.sampled_from(
                [
                    "$select",
                    "$filter",
                    "$orderby",
                    "$top",
                    "$expand",
                    "$count",
                    "$skiptoken",
                    "fetchXml",
                    "sql",
                    "@p",
                    "@q",
                    "$skip",
                    "$apply",
                    "$unknown",
                    "x",
                ]
            ),
            max_size=4,
            unique=True,
        )
    )
    for option in options:
        if option == "$filter":
            value = draw(filters(table))
        elif option == "$select":
            value = ",".join(draw(st.lists(st.one_of(columns(table), texts), max_size=4)))
        elif option == "$orderby":
            value = ",".join(
                f"{c} {d}"
                for c, d in draw(
                    st.lists(st.tuples(columns(table), st.sampled_from(["asc", "desc", "", "x"])), max_size=3)
                )
            )
        elif option in ("$top", "@p", "@q"):
            value = draw(st.one_of(numbers, guids, st.sampled_from(DATES), texts.map(lambda t: f"'{t}'")))
        elif option == "$expand":
            value = draw(
                st.sampled_from(
                    [
                        "parentaccountid",
                        "contact_customer_accounts($top=" + draw(numbers) + ")",
                        "parentaccountid($select=name;$expand=primarycontactid($select=fullname))",
                        "x",
                        "lead_phonecalls($filter=" + draw(filters(table)) + ")",
                        "(",
                        "a(b",
                    ]
                )
            )
        elif option == "$skiptoken":
            value = _skiptoken(draw)
        elif option == "fetchXml":
            value = draw(fetch_xml(table))
        elif option == "sql":
            value = draw(
                st.sampled_from(
                    [
                        "SELECT * FROM lead WHERE "
                        + " AND ".join(["statecode = 0"] * draw(st.sampled_from([1, 2, 600]))),
                        "SELECT TOP " + draw(numbers) + " subject FROM lead WHERE subject LIKE '%" + draw(texts) + "%'",
                        "SELECT * FROM lead WHERE statecode IN (" + draw(numbers) + ") ORDER BY createdon DESC",
                        "SELECT * FROM lead WHERE " + "(" * 50 + "statecode = 0" + ")" * 50,
                        "DROP TABLE lead",
                        draw(texts),
                    ]
                )
            )
        else:
            value = draw(texts)
        parts.append(f"{option}={_enc(value)}")
    return "&".join(parts)


@st.composite
def headers(draw: st.DrawFn) -> dict[str, str]:
    """Prefer, If-Match, Content-Type and other headers, sometimes odd."""
    out: dict[str, str] = {}
    prefer = draw(
        st.lists(
            st.sampled_from(
                [
                    "return=representation",
                    'odata.include-annotations="*"',
                    "odata.maxpagesize=" + draw(numbers),
                    'odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
                    "odata.continue-on-error",
                    "x="
                    + draw(texts).encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", ""),
                ]
            ),
            max_size=3,
        )
    )
    if prefer:
        out["Prefer"] = ",".join(prefer)
    if draw(st.booleans()):
        out["If-Match"] = draw(st.sampled_from(["*", 'W/"1"', 'W/"99999999999999999999"', "garbage", ""]))
    if draw(st.booleans()):
        out["If-None-Match"] = draw(st.sampled_from(["*", 'W/"1"', "null"]))
    out["Content-Type"] = draw(
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
                "multipart/mixed; boundary=b",
                "multipart/mixed",
                "",
            ]
        )
    )
    if draw(st.integers(0, 5)) == 0:
        out["MSCRM.SuppressDuplicateDetection"] = draw(st.sampled_from(["false", "true", "x"]))
    if draw(st.integers(0, 5)) == 0:
        out["CallerObjectId"] = draw(guids)
    return out


@st.composite
def paths(draw: st.DrawFn, table: str | None = None) -> str:
    """A path under the service root (raw, percent-encoded where the text needs it)."""
    kind = draw(st.integers(0, 9))
    own = [TABLES[table].entity_set] if table in TABLES else ENTITY_SETS
    entity_set = draw(
        st.one_of(
            st.sampled_from(own),
            st.sampled_from(own),
            st.sampled_from(ENTITY_SETS),
            st.sampled_from(["Leads", "x", "$metadata", "EntityDefinitions", "$batch", ""]),
        )
    )
    key = draw(
        st.one_of(
            guids,
            st.sampled_from(
                [
                    "accountnumber='A1'",
                    "name='x',y=1",
                    "statecode=99999999999999999999",
                    "'",
                    "fullname='" + "x" * 300 + "'",
                ]
            ),
            texts,
        )
    )
    if kind <= 2:
        return entity_set
    if kind <= 5:
        suffix = draw(
            st.sampled_from(
                [
                    "",
                    "/$count",
                    "/subject",
                    "/statecode",
                    "/parentaccountid/$ref",
                    "/contact_customer_accounts",
                    "/lead_phonecalls/$count",
                    *(f"/{b}" for b in BOUND),
                    "/Microsoft.Dynamics.CRM.Unknown",
                    "/x/y/z",
                ]
            )
        )
        return f"{entity_set}({_enc(key)}){suffix}"
    if kind == 6:
        return _enc_path(draw(st.sampled_from(FUNCTIONS)))
    if kind == 7:
        return draw(st.sampled_from(ACTIONS))
    if kind == 8:
        return "EntityDefinitions" + draw(
            st.sampled_from(
                [
                    "",
                    "(LogicalName='lead')",
                    "(LogicalName='lead')/Attributes",
                    "(LogicalName='x')",
                    "(" + _enc(key) + ")/Keys",
                    "(LogicalName='lead')/Attributes(LogicalName='statecode')",
                ]
            )
        )
    return f"{entity_set}/{draw(texts.map(_enc))}"


def _enc_path(text: str) -> str:
    return quote(text, safe="()=,@'[]$./")


@st.composite
def batches(draw: st.DrawFn) -> FuzzRequest:
    """A ``$batch`` of generated parts (sometimes in a change set, sometimes malformed)."""
    parts: list[bytes] = []
    for index in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]))
        table = draw(st.sampled_from(TABLE_NAMES))
        url = draw(paths(table))
        query = draw(queries(table))
        body = draw(bodies(table)) if method in ("POST", "PATCH", "PUT") else b""
        ref = draw(st.sampled_from(["", "$1", "$2"]))
        target = f"{ref}/{url}" if ref and draw(st.booleans()) else url
        parts.append(
            b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            + f"Content-ID: {index + 1}\r\n\r\n{method} {target}{'?' + query if query else ''} HTTP/1.1\r\n".encode()
            + b"Content-Type: application/json\r\n\r\n"
            + body
            + b"\r\n"
        )
    if draw(st.booleans()):
        inner = b"".join(b"--cs\r\n" + part for part in parts) + b"--cs--\r\n"
        payload = b"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + inner + b"--b--\r\n"
    else:
        payload = b"".join(b"--b\r\n" + part for part in parts) + b"--b--\r\n"
    if draw(st.integers(0, 6)) == 0:
        payload = draw(
            st.sampled_from(
                [
                    payload[: len(payload) // 2],
                    payload.replace(b"\r\n", b"\n"),
                    payload + b"\xed\xa0\x80",
                    b"--b\r\n\r\n--b--",
                    b"",
                ]
            )
        )
    headers = {
        "Content-Type": draw(st.sampled_from(["multipart/mixed; boundary=b", "multipart/mixed", "application/json"]))
    }
    if draw(st.booleans()):
        headers["Prefer"] = "odata.continue-on-error"
    return FuzzRequest("POST", "$batch", "", headers, payload)


@st.composite
def requests(draw: st.DrawFn) -> FuzzRequest:
    """Any generated request: focused writes and queries on one table, ``$batch``, or anything."""
    table = draw(st.sampled_from(TABLE_NAMES))
    entity_set = TABLES[table].entity_set
    kind = draw(st.integers(0, 19))
    if kind <= 5:  # a create on the table's collection (or a bulk create) with extreme values
        bulk = draw(st.integers(0, 4)) == 0
        body = (
            draw(targeted_bodies(table))
            if not bulk
            else b'{"Targets":['
            + draw(targeted_bodies(table))[:-1]
            + (f',"@odata.type":"Microsoft.Dynamics.CRM.{table}"}}]}}'.encode())
        )
        path = f"{entity_set}/Microsoft.Dynamics.CRM.CreateMultiple" if bulk else entity_set
        return FuzzRequest("POST", path, "", {"Content-Type": "application/json"}, body)
    if kind <= 9:  # a query on the table's collection with hostile options
        return FuzzRequest(
            draw(st.sampled_from(["GET", "GET", "HEAD"])), entity_set, draw(queries(table)), draw(headers()), b""
        )
    if kind <= 11:
        return draw(batches())
    method = draw(
        st.sampled_from(["GET", "GET", "GET", "POST", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "MERGE"])
    )
    body = draw(bodies(table)) if method in ("POST", "PATCH", "PUT", "MERGE") or draw(st.integers(0, 9)) == 0 else b""
    return FuzzRequest(method, draw(paths(table)), draw(queries(table)), draw(headers()), body)


_PART_STATUS = re.compile(rb"^HTTP/1\.1 (\d{3}) [^\r\n]*\r\n(.*?)\r\n\r\n(.*?)\r\n--", re.M | re.S)


def check_answer(request: FuzzRequest, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """Why an answer breaks the contract (None when it does not): a 5xx, or a 4xx without the envelope.

    A ``$batch`` answer (``multipart/mixed``) is checked part by part.
    """
    if status >= 500:
        return f"{status}: {body[:300]!r}"
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if content_type.startswith("multipart/mixed"):
        for found in _PART_STATUS.finditer(body):
            problem = check_answer(FuzzRequest("GET", ""), int(found.group(1)), {}, found.group(3))
            if problem is not None:
                return f"batch part {problem}"
        return None
    if status < 400 or request.method == "HEAD":
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"{status} without a JSON error body: {body[:200]!r}"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("code"), str)
        or not isinstance(error.get("message"), str)
    ):
        return f"{status} without the error envelope: {body[:200]!r}"
    return None
