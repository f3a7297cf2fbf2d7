"""OData query building: escaping, literals, encoding."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from d365lab.errors import ClientValidationError
from d365lab.models.enums import LeadStatus
from d365lab.odata import (
    Expand,
    Guid,
    Query,
    any_of,
    contains,
    dumps,
    eq,
    format_filter,
    key_segment,
    literal,
)


def test_quotes_are_doubled_so_obrien_works_and_cannot_inject() -> None:
    assert str(eq("lastname", "O'Brien")) == "lastname eq 'O''Brien'"
    hostile = "x' or 1 eq 1 or lastname eq '"
    text = str(eq("lastname", hostile))
    # the whole hostile value stays inside one literal: strip it and no operator remains
    assert text == "lastname eq 'x'' or 1 eq 1 or lastname eq '''"
    assert text.removeprefix("lastname eq ").startswith("'") and text.endswith("'")


def test_literals_of_each_type() -> None:
    assert literal(None) == "null"
    assert literal(True) == "true"
    assert literal(3) == "3"
    assert literal(Decimal("17000.50")) == "17000.50"
    assert literal(LeadStatus.CANNOT_CONTACT) == "5"
    assert literal(Guid("{5A0C0C2E-1B7D-EF11-A671-000D3A1A2B3C}")) == "5a0c0c2e-1b7d-ef11-a671-000d3a1a2b3c"
    assert literal(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert literal(date(2026, 3, 31)) == "2026-03-31"
    paris = timezone(timedelta(hours=2))
    assert literal(datetime(2026, 3, 31, 16, 0, 5, 123, tzinfo=paris)) == "2026-03-31T14:00:05Z"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ClientValidationError, match="time zone"):
        literal(datetime(2026, 3, 31, 16, 0))


def test_column_names_cannot_carry_syntax() -> None:
    with pytest.raises(ClientValidationError):
        eq("lastname eq 'x' or statecode", 1)


def test_combinators_and_functions() -> None:
    expr = (eq("statecode", 0) & contains("companyname", "Caf'e")) | ~eq("leadsourcecode", 8)
    assert str(expr) == "(statecode eq 0 and contains(companyname,'Caf''e') or not (leadsourcecode eq 8))"
    assert str(any_of("statuscode", [4, 5])) == "(statuscode eq 4 or statuscode eq 5)"


def test_format_filter_escapes_and_checks_placeholders() -> None:
    assert format_filter("lastname eq {n} and statecode eq {s}", n="O'Brien", s=0) == \
        "lastname eq 'O''Brien' and statecode eq 0"
    with pytest.raises(ClientValidationError, match="placeholder"):
        format_filter("lastname eq {n}")


def test_query_encoding_uses_percent_20_and_keeps_odata_syntax() -> None:
    query = Query(select=["fullname", "statecode"], filter=eq("lastname", "O'Brien & Co+"),
                  orderby="createdon desc", top=10,
                  expand=[Expand("parentaccountid", select=["name"])], count=True)
    assert query.encode() == (
        "$select=fullname,statecode"
        "&$filter=lastname%20eq%20'O''Brien%20%26%20Co%2B'"
        "&$orderby=createdon%20desc&$top=10"
        "&$expand=parentaccountid($select=name)&$count=true"
    )


def test_bad_orderby_is_refused() -> None:
    with pytest.raises(ClientValidationError):
        Query(orderby="createdon; drop").encode()


def test_key_segments() -> None:
    assert key_segment("leads", "5A0C0C2E-1B7D-EF11-A671-000D3A1A2B3C") == "leads(5a0c0c2e-1b7d-ef11-a671-000d3a1a2b3c)"
    assert key_segment("accounts", {"accountnumber": "A'1"}) == "accounts(accountnumber='A''1')"
    with pytest.raises(ClientValidationError, match="not a GUID"):
        key_segment("leads", "not-a-guid")


def test_json_encoding_of_money_dates_and_enums() -> None:
    body = dumps({"budgetamount": Decimal("17000"), "estimatedvalue": Decimal("12.5"),
                  "estimatedclosedate": date(2026, 3, 31), "scheduledend": datetime(2026, 3, 2, 9, tzinfo=UTC),
                  "statuscode": LeadStatus.LOST, "subject": "Café"})
    assert body == ('{"budgetamount":17000,"estimatedvalue":12.5,"estimatedclosedate":"2026-03-31",'
                    '"scheduledend":"2026-03-02T09:00:00Z","statuscode":4,"subject":"Café"}').encode()
