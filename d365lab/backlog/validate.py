"""Validating mapped CSV rows into lead payloads with pydantic, before anything is sent.

A row that fails validation becomes one :class:`Rejection` per bad field (row number,
field, reason, value); the other rows go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from d365lab.backlog.mapping import parse_option
from d365lab.models.schema import LEAD

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"1", "true", "yes", "y", "oui", "o", "vrai", "x"}
_FALSE = {"0", "false", "no", "n", "non", "faux"}


@dataclass(frozen=True)
class Rejection:
    """Why one CSV row was not imported."""

    line: int
    field: str
    reason: str
    value: str = ""


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _money(value: Any) -> Any:
    """Accept ``12500``, ``12 500,50`` (French), ``12,500.50`` and a currency sign."""
    value = _blank_to_none(value)
    if not isinstance(value, str):
        return value
    text = re.sub(r"[\s\u00a0\u202f€$£]", "", value)
    if "," in text and "." in text:
        text = text.replace(",", "") if text.rfind(".") > text.rfind(",") else text.replace(".", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", ".") if len(text.split(",")[-1]) != 3 else text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an amount") from None


def _boolean(value: Any) -> Any:
    value = _blank_to_none(value)
    if not isinstance(value, str):
        return value
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no (oui/non, true/false, 1/0)")


def _date(value: Any) -> Any:
    value = _blank_to_none(value)
    if not isinstance(value, str):
        return value
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _option(column: str) -> BeforeValidator:
    def parse(value: Any) -> Any:
        value = _blank_to_none(value)
        return parse_option(column, value) if isinstance(value, str) else value
    return BeforeValidator(parse)


Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
Money = Annotated[float | None, BeforeValidator(_money)]
Flag = Annotated[bool | None, BeforeValidator(_boolean)]
DateOnly = Annotated[date | None, BeforeValidator(_date)]


class LeadImportRow(BaseModel):
    """One lead to create, as validated from a CSV row (lead logical names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: Annotated[str, BeforeValidator(_blank_to_none)]
    lastname: Annotated[str, BeforeValidator(_blank_to_none)]
    firstname: Text = None
    companyname: Text = None
    jobtitle: Text = None
    emailaddress1: Text = None
    telephone1: Text = None
    mobilephone: Text = None
    websiteurl: Text = None
    description: Text = None
    address1_line1: Text = None
    address1_city: Text = None
    address1_stateorprovince: Text = None
    address1_postalcode: Text = None
    address1_country: Text = None
    leadsourcecode: Annotated[int | None, _option("leadsourcecode")] = None
    leadqualitycode: Annotated[int | None, _option("leadqualitycode")] = None
    budgetstatus: Annotated[int | None, _option("budgetstatus")] = None
    purchasetimeframe: Annotated[int | None, _option("purchasetimeframe")] = None
    purchaseprocess: Annotated[int | None, _option("purchaseprocess")] = None
    need: Annotated[int | None, _option("need")] = None
    estimatedamount: Money = None
    budgetamount: Money = None
    decisionmaker: Flag = None
    estimatedclosedate: DateOnly = None

    @field_validator("*")
    @classmethod
    def _fits_the_column(cls, value: Any, info: Any) -> Any:
        """Enforce the lead table's max lengths and money range (from the shared schema)."""
        column = LEAD.columns[info.field_name]
        if isinstance(value, str) and column.max_length is not None and len(value) > column.max_length:
            raise ValueError(f"longer than {column.max_length} characters ({len(value)})")
        if isinstance(value, float) and column.min_value is not None and value < column.min_value:
            raise ValueError(f"must be at least {column.min_value:g}")
        if isinstance(value, float) and column.max_value is not None and value > column.max_value:
            raise ValueError(f"must be at most {column.max_value:g}")
        return value

    @field_validator("emailaddress1")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    def payload(self) -> dict[str, Any]:
        """The Web API body of the lead (unset columns left out, dates as ISO strings)."""
        body: dict[str, Any] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            body[name] = value.isoformat() if isinstance(value, date) else value
        return body


def validate_row(line: int, values: dict[str, str]) -> LeadImportRow | list[Rejection]:
    """Validate one mapped row: the model, or one rejection per bad field."""
    try:
        return LeadImportRow.model_validate(values)
    except ValidationError as exc:
        rejections = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "row"
            reason = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] in ("missing", "string_type") and values.get(field, "") == "":
                reason = "required value is empty"
            rejections.append(Rejection(line, field, reason, str(values.get(field, ""))))
        return rejections
