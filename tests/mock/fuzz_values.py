"""Hostile values for fuzzing the mock tenant: the tenant's real names mixed with extreme values
(huge and non-finite numbers, out-of-range dates, lone surrogates, bad escapes), and request
bodies built from them. Used by :mod:`tests.mock.fuzz_requests`.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from d365lab.mock.seed import BUSINESS_UNIT_ID, ORGANIZATION_ID, USD_CURRENCY_ID, USER_ID
from d365lab.models.schema import BY_ENTITY_SET, LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS, TABLES

ENTITY_SETS = sorted(BY_ENTITY_SET)
FUNCTIONS = [
    "WhoAmI()",
    "RetrieveVersion()",
    "RetrieveCurrentOrganization(AccessType='Default')",
    "RetrieveTotalRecordCount(EntityNames=['lead'])",
    "RetrieveActivePath(ProcessInstanceId=@p)",
    "LocalTimeFromUtcTime(TimeZoneCode=@p,UtcTime=@q)",
    "GetTimeZoneCodeByLocalizedName(LocalizedStandardName=@p,LocaleId=@q)",
    "FormatAddress(Line1=@p,City=@q)",
    "InitializeFrom(EntityMoniker=@p,TargetEntityName='opportunity',TargetFieldType=0)",
    "RetrieveProcessInstances(EntityId=@p,EntityLogicalName='lead')",
    "GetAllTimeZonesWithDisplayName(LocaleId=@p)",
]
ACTIONS = ["WinOpportunity", "LoseOpportunity", "BulkDelete", "Microsoft.Dynamics.CRM.WinOpportunity"]
BOUND = [
    "Microsoft.Dynamics.CRM.QualifyLead",
    "Microsoft.Dynamics.CRM.CreateMultiple",
    "Microsoft.Dynamics.CRM.UpdateMultiple",
    "Microsoft.Dynamics.CRM.UpsertMultiple",
    "Microsoft.Dynamics.CRM.DeleteMultiple",
    "Microsoft.Dynamics.CRM.RetrieveAuditDetails",
]
SYSTEM_IDS = [
    USER_ID,
    BUSINESS_UNIT_ID,
    ORGANIZATION_ID,
    USD_CURRENCY_ID,
    LEAD_TO_OPPORTUNITY_PROCESS_ID,
    *STAGE_IDS.values(),
]
NASTY_TEXT = [
    "\ud800",
    "a\udfff",
    "\x00",
    "'",
    "''",
    '"',
    "\\",
    "\\q",
    "%",
    "_",
    "(",
    ")",
    "/",
    "$",
    "\u202e",
    "é",
    "\U0001f600",
    "x" * 5000,
    "\n",
    "\r\n",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "@p",
    "%00",
]
HUGE_NUMBERS = [
    "99999999999999999999",
    "-99999999999999999999",
    "1e400",
    "-1e400",
    "1e999",
    "9" * 400,
    "NaN",
    "Infinity",
    "-Infinity",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "0.0000001",
    "-0",
    "1.5",
    "00012",
    "1e-400",
    "4.9e-324",
]
DATES = [
    "0001-01-01T00:00:00+05:00",
    "0999-01-01T00:00:00Z",
    "1752-12-31",
    "1753-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
    "2026-02-30",
    "2026-13-01",
    "2026-06-01T25:00:00Z",
    "2026-06-01",
    "2026-06-01T10:00:00",
    "10000-01-01",
    "2026-06-01T10:00:00.123456789Z",
]
COLUMNS = sorted({name for table in TABLES.values() for name in table.columns})
#: The tables requests are aimed at (the Sales ones more often).
TABLE_NAMES = ["lead", "lead", "opportunity", "opportunity", "phonecall", "account", "contact", *sorted(TABLES)]
OPERATORS = ["eq", "ne", "gt", "ge", "lt", "le", "has", "in", "eqq", ""]




texts = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=30))
numbers = st.one_of(
    st.sampled_from(HUGE_NUMBERS),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
guids = st.one_of(
    st.sampled_from(SYSTEM_IDS),
    st.uuids().map(str),
    st.sampled_from(["not-a-guid", "{" + USER_ID + "}", USER_ID.upper(), "", "00000000-0000-0000-0000-000000000000"]),
)


def json_scalars() -> st.SearchStrategy[Any]:
    """Scalars a JSON body may hold, extreme ones included."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        texts,
        st.sampled_from(DATES),
        guids,
        st.sampled_from(HUGE_NUMBERS),
    )


json_values = st.recursive(
    json_scalars(),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def columns(table: str | None) -> st.SearchStrategy[str]:
    """Column names: mostly the table's own (writable first), sometimes any table's."""
    if table is None or table not in TABLES:
        return st.sampled_from(COLUMNS)
    own = sorted(TABLES[table].columns)
    writable = sorted(n for n, c in TABLES[table].columns.items() if not c.read_only and not c.is_lookup) or own
    return st.one_of(
        st.sampled_from(writable), st.sampled_from(writable), st.sampled_from(own), st.sampled_from(COLUMNS)
    )


@st.composite
def entity_bodies(draw: st.DrawFn, table: str | None = None) -> dict[str, Any]:
    """A JSON object of columns (real names), binds and annotations with hostile values."""
    body: dict[str, Any] = {}
    for name in draw(st.lists(columns(table), max_size=6)):
        body[name] = draw(json_values)
    if draw(st.booleans()):
        nav = draw(
            st.sampled_from(
                [
                    "parentaccountid",
                    "customerid_account",
                    "regardingobjectid_lead",
                    "ownerid",
                    "transactioncurrencyid",
                    "nonexistent",
                ]
            )
        )
        body[f"{nav}@odata.bind"] = draw(
            st.one_of(st.builds(lambda s, g: f"/{s}({g})", st.sampled_from(ENTITY_SETS), guids), json_values)
        )
    if draw(st.booleans()):
        body["@odata.type"] = draw(
            st.one_of(st.sampled_from(["Microsoft.Dynamics.CRM.lead", "#Microsoft.Dynamics.CRM.x"]), json_values)
        )
    return body


#: JSON value texts that Python's json.dumps cannot write but a client can send.
RAW_VALUES = [
    "1e400",
    "-1e400",
    "99999999999999999999",
    "9" * 400,
    '"NaN"',
    '"Infinity"',
    '"\\ud800"',
    '"a\\udfff"',
    '"\\q"',
    '"0999-01-01"',
    '"0001-01-01T00:00:00+05:00"',
    '"9999-12-31T23:59:59-05:00"',
    '"1752-12-31T00:00:00Z"',
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "1e308",
    "4.9e-324",
    "[" * 150 + "]" * 150,
    '"' + "x" * 5000 + '"',
    "-0",
    "0.5",
]


_TEXT_VALUES = ['"\\ud800"', '"a\\udfff"', '"\\q"', '"' + "x" * 5000 + '"', '"\\u0000"', '"\\ud83d\\ude00"']
_NUMBER_VALUES = [
    "1e400",
    "-1e400",
    "99999999999999999999",
    "9" * 400,
    '"NaN"',
    '"Infinity"',
    '"-Infinity"',
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "1e308",
    "4.9e-324",
    "-0",
    "0.5",
    '"1e400"',
]
_DATE_VALUES = [
    '"0999-01-01"',
    '"0001-01-01T00:00:00+05:00"',
    '"9999-12-31T23:59:59-05:00"',
    '"1752-12-31T00:00:00Z"',
    '"0999-01-01T00:00:00Z"',
    '"2026-02-30"',
    '"10000-01-01"',
    '"1753-01-01T00:00:00Z"',
]


def _raw_for(table: str | None, name: str) -> st.SearchStrategy[str]:
    """Raw JSON value texts aimed at a column's type (text, number or date), sometimes any."""
    column = TABLES[table].columns.get(name) if table in TABLES else None
    kind = column.type.value if column is not None else ""
    aimed = (
        _DATE_VALUES
        if kind in ("DateTime", "DateOnly")
        else _TEXT_VALUES
        if kind in ("String", "Memo")
        else _NUMBER_VALUES
    )
    return st.one_of(st.sampled_from(aimed), st.sampled_from(aimed), st.sampled_from(RAW_VALUES))


@st.composite
def targeted_bodies(draw: st.DrawFn, table: str | None = None) -> bytes:
    """A body of the table's own writable columns, each with an extreme value (for its type) as raw JSON."""
    names = draw(st.lists(columns(table), min_size=1, max_size=3, unique=True))
    values = [draw(_raw_for(table, name)) for name in names]
    text = "{" + ",".join(f'"{name}":{value}' for name, value in zip(names, values, strict=True)) + "}"
    return text.encode("utf-8", "surrogatepass")


def raw_json(value: Any) -> bytes:
    """``value`` as JSON bytes (ASCII escapes, so lone surrogates survive as text)."""
    return json.dumps(value, ensure_ascii=True).encode()


@st.composite
def bodies(draw: st.DrawFn, table: str | None = None) -> bytes:
    """A request body: an entity, a bulk/action payload, deep or malformed JSON, or raw bytes."""
    kind = draw(st.integers(0, 9))
    if kind <= 1:
        return raw_json(draw(entity_bodies(table)))
    if kind <= 3:
        return draw(targeted_bodies(table))
    if kind == 4:
        targets = draw(st.lists(entity_bodies(table), max_size=3))
        for target in targets:
            if draw(st.booleans()):
                target["@odata.type"] = "Microsoft.Dynamics.CRM.lead"
        return raw_json({"Targets": targets})
    if kind == 5:
        condition = {
            "AttributeName": draw(columns(table)),
            "Operator": draw(st.sampled_from(["Equal", "In", "x"])),
            "Values": draw(
                st.lists(
                    st.one_of(
                        json_values,
                        st.builds(
                            lambda v, t: {"Value": v, "Type": t},
                            json_values,
                            st.sampled_from(["System.Int32", "System.Int64", "System.Boolean", "System.String"]),
                        ),
                    ),
                    max_size=3,
                )
            ),
        }
        query = {
            "EntityName": draw(st.one_of(st.sampled_from(["lead", "workflow", "organization"]), json_values)),
            "Criteria": draw(st.one_of(st.just({"Conditions": [condition]}), json_values)),
        }
        return raw_json({"QuerySet": draw(st.one_of(st.just([query]), json_values)), "JobName": "fuzz"})
    if kind == 6:
        depth = draw(st.sampled_from([50, 99, 101, 500, 1200]))
        return b'{"subject":' + b"[" * depth + b"]" * depth + b"}"
    if kind == 7:
        return draw(
            st.sampled_from(
                [
                    b'{"subject":"\\ud800"}',
                    b'{"subject":"\xed\xa0\x80"}',
                    b"{",
                    b"NaN",
                    b'{"estimatedvalue":1e400}',
                    b'{"subject":"\\q"}',
                    b"\xff\xfe",
                    b"[]",
                    b"null",
                    b'{"subject":"x",}',
                    b'{"a":1}' * 3,
                ]
            )
        )
    if kind == 8:
        action = {
            "Status": draw(json_values),
            "OpportunityClose": draw(st.one_of(entity_bodies(table), json_values)),
            "CreateAccount": draw(json_values),
            "CreateContact": draw(json_values),
            "CreateOpportunity": draw(json_values),
            "Target": draw(json_values),
        }
        return raw_json({k: v for k, v in action.items() if draw(st.booleans())})
    return draw(st.binary(max_size=64))
