"""A backlog spreadsheet as an admin exports it: 30 real lead columns, English form titles.

:func:`write_backlog` writes ``rows`` leads (deterministic for a seed) and returns, per row,
the values a real tenant stores for them (the Web API value of each lead column), so a test
can check the import column by column. Labels of option sets are those of the tenant's
metadata (the generated CDM schema), amounts and head counts use thousands separators, and
some cells are empty, as in real exports.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from d365lab.models.enums import label_of
from d365lab.models.schema import LEAD

#: CSV title -> lead column, in file order (30 columns).
COLUMNS: dict[str, str] = {
    "Topic": "subject", "Salutation": "salutation", "First Name": "firstname", "Last Name": "lastname",
    "Job Title": "jobtitle", "Company Name": "companyname", "Email": "emailaddress1",
    "Business Phone": "telephone1", "Mobile Phone": "mobilephone", "Website": "websiteurl",
    "Lead Source": "leadsourcecode", "Rating": "leadqualitycode", "Industry": "industrycode",
    "Annual Revenue": "revenue", "No. of Employees": "numberofemployees", "Est. Value": "estimatedamount",
    "Budget Amount": "budgetamount", "Budget Status": "budgetstatus", "Purchase Timeframe": "purchasetimeframe",
    "Purchase Process": "purchaseprocess", "Need": "need", "Decision Maker": "decisionmaker",
    "Description": "description", "Est. Close Date": "estimatedclosedate", "Street 1": "address1_line1",
    "Street 2": "address1_line2", "City": "address1_city", "State/Province": "address1_stateorprovince",
    "ZIP/Postal Code": "address1_postalcode", "Country/Region": "address1_country",
}
_FIRST = ("Maria", "Yvonne", "Jon", "Ann", "Émile", "Kenji", "Priya", "Olga", "Samir", "Lucía")
_LAST = ("Campbell", "McKay", "Doe", "Lee", "Durand", "Sato", "Patel", "Ivanova", "Haddad", "O'Brien")
_CITIES = (("Seattle", "WA", "98101", "USA"), ("Lyon", "Auvergne-Rhône-Alpes", "69002", "France"),
           ("Denver", "CO", "80202", "USA"), ("München", "Bayern", "80331", "Germany"))


def _options(column: str) -> list[tuple[int, str]]:
    enum_cls = LEAD.columns[column].options
    assert enum_cls is not None, column
    return [(int(member), label_of(member)) for member in enum_cls]


def _row(rng: random.Random, index: int) -> tuple[dict[str, str], dict[str, Any]]:
    """One CSV row (by title) and the lead it must become (by column)."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, state, postal, country = rng.choice(_CITIES)
    stored: dict[str, Any] = {
        "subject": f"Espresso machines for site {index}", "salutation": rng.choice(["Mr.", "Ms.", "Dr.", None]),
        "firstname": first, "lastname": last, "jobtitle": rng.choice(["Purchasing Manager", "Owner", None]),
        "companyname": f"Fourth Coffee {index}", "emailaddress1": f"lead{index}@fourthcoffee.example",
        "telephone1": f"+1 425 555 {index % 10000:04d}",
        "mobilephone": rng.choice([None, f"06 12 34 {index % 100:02d}"]),
        "websiteurl": f"https://www.fourthcoffee{index % 900}.example",
        "revenue": float(rng.randrange(0, 50_000_000, 250)), "numberofemployees": rng.randrange(1, 120_000),
        "estimatedamount": rng.randrange(1000, 900_000) / 4, "budgetamount": float(rng.randrange(0, 100_000)),
        "decisionmaker": rng.random() < 0.4,
        "description": f'Asked for "{first}" to call back, about sites {index} and {index + 1}',
        "estimatedclosedate": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "address1_line1": f"{rng.randrange(1, 999)} Main Street", "address1_line2": rng.choice([None, "Suite 200"]),
        "address1_city": city, "address1_stateorprovince": state, "address1_postalcode": postal,
        "address1_country": country,
    }
    labels: dict[str, str] = {}
    for column in ("leadsourcecode", "leadqualitycode", "industrycode", "budgetstatus", "purchasetimeframe",
                   "purchaseprocess", "need"):
        value, label = rng.choice(_options(column))
        stored[column], labels[column] = value, label
    cells: dict[str, str] = {}
    for title, column in COLUMNS.items():
        value = stored[column]
        if column in labels:
            cells[title] = labels[column]
        elif value is None:
            cells[title] = ""
        elif column in ("revenue", "budgetamount"):
            cells[title] = f"{value:,.2f}"
        elif column == "numberofemployees":
            cells[title] = f"{value:,}"
        elif column == "decisionmaker":
            cells[title] = "Yes" if value else "No"
        else:
            cells[title] = str(value)
    return cells, stored


def write_backlog(path: Path, rows: int = 10_000, seed: int = 2026) -> list[dict[str, Any]]:
    """Write the CSV (UTF-8 with BOM, as Excel saves it); return the expected lead of each row."""
    rng = random.Random(seed)
    expected: list[dict[str, Any]] = []
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for index in range(rows):
            cells, stored = _row(rng, index)
            writer.writerow(cells)
            expected.append(stored)
    return expected
