"""Validating mapped CSV rows into lead payloads with pydantic, before anything is sent.

The rows are validated in one call into pydantic-core (a list of :class:`LeadPayload`
typed dicts): the output is the Web API body itself, with no model object per row. A row
that fails validation becomes one :class:`Rejection` per bad field (row number, field,
reason, value); the other rows go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Required, cast

from annotated_types import Interval, MaxLen
from pydantic import BeforeValidator, ConfigDict, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs it for TypedDict on Python < 3.12

from d365lab.backlog.mapping import parse_option
from d365lab.models.schema import LEAD

#: What an email address looks like here (checked by pydantic-core's own regex engine).
_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_TRUE = {"1", "true", "yes", "y", "oui", "o", "vrai", "x"}
_FALSE = {"0", "false", "no", "n", "non", "faux"}


@dataclass(frozen=True)
class Rejection:
    """Why one CSV row was not imported."""

    line: int
    field: str
    reason: str
    value: str = ""


def _money(value: Any) -> Any:
    """Accept ``12500``, ``12 500,50`` (French), ``12,500.50`` and a currency sign."""
    if not isinstance(value, str):
        return value
    if "," not in value:
        try:
            return float(value)  # most cells are plain numbers: no need to clean them first
        except ValueError:
            pass
    text = re.sub(r"[\s\u00a0\u202f€$£]", "", value)
    if "," in text and "." in text:
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".") if len(text.split(",")[-1]) != 3 else text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an amount") from None


_GROUPED = re.compile(r"\d{1,3}(?:([ ,.\u00a0\u202f'])\d{3})(?:\1\d{3})*")


def _whole_number(value: Any) -> Any:
    """Accept ``1200``, ``1 200``, ``1,200`` and ``1.200`` (one thousands separator) for a whole number."""
    if not isinstance(value, str) or value.isdigit():
        return value
    if _GROUPED.fullmatch(value):
        return int(re.sub(r"\D", "", value))
    raise ValueError(f"{value!r} is not a whole number")


def _boolean(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no (oui/non, true/false, 1/0)")


def _iso_date(value: Any) -> Any:
    """A date cell (``YYYY-MM-DD``, ``DD/MM/YYYY`` or ``DD.MM.YYYY``) as the ISO text the Web API takes."""
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return value
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _limit(column: str) -> MaxLen:
    """The lead column's max length (checked natively by pydantic-core)."""
    limit = LEAD.columns[column].max_length
    assert limit is not None, f"{column} has no max length"
    return MaxLen(limit)


def _option(column: str) -> BeforeValidator:
    """An option-set column given by number or label (English or French)."""
    seen: dict[str, int] = {}  # the few spellings a file repeats on every row

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        found = seen.get(value)
        if found is None:
            found = parse_option(column, value)  # ValueError for an unknown label
            if len(seen) < 1024:
                seen[value] = found
        return found
    return BeforeValidator(parse)


def _range(column: str) -> Interval:
    """The lead number column's range (money and whole numbers)."""
    spec = LEAD.columns[column]
    return Interval(ge=spec.min_value, le=spec.max_value)


@with_config(ConfigDict(extra="forbid"))
class LeadPayload(TypedDict, total=False):
    """The Web API body of one lead to create, as validated from a CSV row (lead logical names).

    Only the columns the row fills are present; dates are ISO text. Values arrive stripped
    (the CSV reader and the mapping defaults strip them), so pydantic does not strip again.
    """

    subject: Required[Annotated[str, _limit("subject")]]
    lastname: Required[Annotated[str, _limit("lastname")]]
    firstname: Annotated[str, _limit("firstname")]
    companyname: Annotated[str, _limit("companyname")]
    jobtitle: Annotated[str, _limit("jobtitle")]
    emailaddress1: Annotated[str, _limit("emailaddress1"), StringConstraints(pattern=_EMAIL_PATTERN)]
    telephone1: Annotated[str, _limit("telephone1")]
    mobilephone: Annotated[str, _limit("mobilephone")]
    websiteurl: Annotated[str, _limit("websiteurl")]
    description: Annotated[str, _limit("description")]
    address1_line1: Annotated[str, _limit("address1_line1")]
    address1_city: Annotated[str, _limit("address1_city")]
    address1_stateorprovince: Annotated[str, _limit("address1_stateorprovince")]
    address1_postalcode: Annotated[str, _limit("address1_postalcode")]
    address1_country: Annotated[str, _limit("address1_country")]
    address1_line2: Annotated[str, _limit("address1_line2")]
    address1_line3: Annotated[str, _limit("address1_line3")]
    salutation: Annotated[str, _limit("salutation")]
    industrycode: Annotated[int, _option("industrycode")]
    revenue: Annotated[float, BeforeValidator(_money), _range("revenue")]
    numberofemployees: Annotated[int, BeforeValidator(_whole_number), _range("numberofemployees")]
    leadsourcecode: Annotated[int, _option("leadsourcecode")]
    leadqualitycode: Annotated[int, _option("leadqualitycode")]
    budgetstatus: Annotated[int, _option("budgetstatus")]
    purchasetimeframe: Annotated[int, _option("purchasetimeframe")]
    purchaseprocess: Annotated[int, _option("purchaseprocess")]
    need: Annotated[int, _option("need")]
    estimatedamount: Annotated[float, BeforeValidator(_money), _range("estimatedamount")]
    budgetamount: Annotated[float, BeforeValidator(_money), _range("budgetamount")]
    decisionmaker: Annotated[bool, BeforeValidator(_boolean)]
    estimatedclosedate: Annotated[str, BeforeValidator(_iso_date)]


_ROWS = TypeAdapter(list[LeadPayload])


def _payloads(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The validated rows: pydantic-core returns plain dicts (a typed dict is one)."""
    return cast("list[dict[str, Any]]", _ROWS.validate_python(rows))


def validate_rows(lines: list[int], rows: list[dict[str, str]]) -> tuple[list[tuple[int, dict[str, Any]]],
                                                                        list[Rejection]]:
    """Validate mapped rows (empty cells left out): ``(line, payload)`` of the valid ones, and the rejections.

    One pass through pydantic-core for the whole file; when some rows fail, their errors
    are collected and the others validated again (validation of a row never depends on
    another row).
    """
    try:
        return list(zip(lines, _payloads(rows), strict=True)), []
    except ValidationError as exc:
        errors = exc.errors()
    by_row: dict[int, list[Rejection]] = {}
    for err in errors:
        index, *path = err["loc"]
        assert isinstance(index, int)
        by_row.setdefault(index, []).append(_rejection(lines[index], rows[index], path, err))
    good = [i for i in range(len(rows)) if i not in by_row]
    payloads = _payloads([rows[i] for i in good])
    return ([(lines[i], p) for i, p in zip(good, payloads, strict=True)],
            [r for i in sorted(by_row) for r in by_row[i]])


def _rejection(line: int, values: dict[str, str], path: list[Any], err: Any) -> Rejection:
    field = ".".join(str(p) for p in path) or "row"
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        reason = "required value is empty"
    elif err["type"] == "string_pattern_mismatch" and field == "emailaddress1":
        reason = f"{values.get(field, '')!r} is not an email address"
    elif err["type"] == "string_too_long":
        limit = err.get("ctx", {}).get("max_length")
        reason = f"longer than {limit} characters ({len(str(values.get(field, '')))})"
    return Rejection(line, field, reason, str(values.get(field, "")))
