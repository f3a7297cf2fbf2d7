"""A 10,000-row backlog with 30 real lead columns imports into the mock as into a real tenant.

The file is what an admin's export looks like (English form titles, option labels, amounts
with thousands separators, empty cells); ``d365lab backlog import`` runs as a user runs it,
and every lead is read back through the Web API and compared column by column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from d365lab.client import DataverseClient
from d365lab.models.schema import LEAD

from .conftest import RunCli
from .real_columns import COLUMNS, write_backlog

ROWS = 10_000


def test_ten_thousand_leads_with_thirty_real_columns(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    assert len(COLUMNS) == 30 and set(COLUMNS.values()) <= set(LEAD.columns)
    expected = {row["emailaddress1"]: row for row in write_backlog(workdir / "backlog.csv", ROWS)}
    result = cli("backlog", "import", "backlog.csv")
    assert result.exit_code == 0, result.output
    assert "10,000" in result.output or "10000" in result.output
    assert "ignored columns" not in result.output  # every one of the 30 titles maps to its lead column
    columns = [*COLUMNS.values(), "transactioncurrencyid", "donotemail", "statecode", "statuscode"]
    stored = list(tenant.records.list("lead", select=columns, page_size=5000))
    assert len(stored) == ROWS
    mismatches = []
    for lead in stored:
        want = expected[lead["emailaddress1"]]
        for column, value in want.items():
            got = lead.get(column)
            if got != value:
                mismatches.append((want["emailaddress1"], column, value, got))
        # What a real tenant adds: the base currency with the money values, defaults, the open state.
        assert lead["_transactioncurrencyid_value"] is not None
        assert lead["donotemail"] is False
        assert (lead["statecode"], lead["statuscode"]) == (0, 1)
    assert sorted({m[1] for m in mismatches}) == [], mismatches[:5]
    assert not [c for c in COLUMNS.values() if all(lead.get(c) is None for lead in stored)]


@pytest.mark.parametrize(("title", "cell", "reason"), [
    ("Industry", "Coffee roasting", "is not a value of industrycode"),
    ("No. of Employees", "1.5", "is not a whole number"),
    ("Annual Revenue", "-10", "greater than or equal to 0"),
])
def test_bad_values_in_the_new_columns_are_rejected_with_a_reason(cli: RunCli, workdir: Path, title: str,
                                                                  cell: str, reason: str) -> None:
    write_backlog(workdir / "backlog.csv", rows=3)
    with (workdir / "backlog.csv").open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    rows[1][header.index(title)] = cell
    with (workdir / "bad.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    result = cli("backlog", "import", "bad.csv")
    assert result.exit_code == 1, result.output
    rejects = (workdir / "bad.rejects.csv").read_text(encoding="utf-8-sig")
    assert reason in rejects and COLUMNS[title] in rejects
