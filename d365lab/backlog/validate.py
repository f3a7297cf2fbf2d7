"""Validating mapped CSV rows into lead payloads with pydantic, before anything is sent.

A row that fails validation becomes one :class:`Rejection` per bad field (row number,
field, reason, value); the other rows go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

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


Money = Annotated[float | None, BeforeValidator(_money)]
Flag = Annotated[bool | None, BeforeValidator(_boolean)]
DateOnly = Annotated[date | None, BeforeValidator(_date)]


def _text(column: str, required: bool = False) -> Any:
    """A text field limited to the lead column's max length (checked natively by pydantic-core)."""
    return Field(... if required else None, max_length=LEAD.columns[column].max_length)


def _amount(column: str) -> Any:
    """A money field within the lead column's range."""
    spec = LEAD.columns[column]
    return Field(None, ge=spec.min_value, le=spec.max_value)


class LeadImportRow(BaseModel):
    """One lead to create, as validated from a CSV row (lead logical names; empty cells left out)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = _text("subject", required=True)
    lastname: str = _text("lastname", required=True)
    firstname: str | None = _text("firstname")
    companyname: str | None = _text("companyname")
    jobtitle: str | None = _text("jobtitle")
    emailaddress1: str | None = _text("emailaddress1")
    telephone1: str | None = _text("telephone1")
    mobilephone: str | None = _text("mobilephone")
    websiteurl: str | None = _text("websiteurl")
    description: str | None = _text("description")
    address1_line1: str | None = _text("address1_line1")
    address1_city: str | None = _text("address1_city")
    address1_stateorprovince: str | None = _text("address1_stateorprovince")
    address1_postalcode: str | None = _text("address1_postalcode")
    address1_country: str | None = _text("address1_country")
    leadsourcecode: Annotated[int | None, _option("leadsourcecode")] = None
    leadqualitycode: Annotated[int | None, _option("leadqualitycode")] = None
    budgetstatus: Annotated[int | None, _option("budgetstatus")] = None
    purchasetimeframe: Annotated[int | None, _option("purchasetimeframe")] = None
    purchaseprocess: Annotated[int | None, _option("purchaseprocess")] = None
    need: Annotated[int | None, _option("need")] = None
    estimatedamount: Money = _amount("estimatedamount")
    budgetamount: Money = _amount("budgetamount")
    decisionmaker: Flag = None
    estimatedclosedate: DateOnly = None

    @field_validator("emailaddress1")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    def payload(self) -> dict[str, Any]:
        """The Web API body of the lead (unset columns left out, dates as ISO strings)."""
        # JSON mode: pydantic-core writes the dates as ISO text itself (amounts are bounded,
        # so no infinity or NaN reaches the "null" JSON mode would give them).
        return self.model_dump(mode="json", exclude_none=True)


def validate_row(line: int, values: dict[str, str]) -> LeadImportRow | list[Rejection]:
    """Validate one mapped row: the model, or one rejection per bad field (empty cells count as absent)."""
    try:
        return LeadImportRow.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        rejections = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "row"
            reason = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "missing":
                reason = "required value is empty"
            elif err["type"] == "string_too_long":
                limit = err.get("ctx", {}).get("max_length")
                reason = f"longer than {limit} characters ({len(str(values.get(field, '')))})"
            rejections.append(Rejection(line, field, reason, str(values.get(field, ""))))
        return rejections
