"""``d365lab backlog import`` as a user runs it, against the embedded mock tenant."""

from __future__ import annotations

import csv
from pathlib import Path

from d365lab.client import DataverseClient

from .conftest import RunCli


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_import_creates_valid_rows_and_rejects_the_rest(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    result = cli("backlog", "import", "leads-example.csv")
    assert result.exit_code == 1, result.output         # some rows were rejected
    rejects = read_rejects(workdir / "leads-example.rejects.csv")
    reasons = {(r["line"], r["field"]): r["reason"] for r in rejects}
    assert "not an email address" in reasons[("7", "emailaddress1")]
    assert reasons[("9", "lastname")] == "required value is empty"
    assert "is not a value of purchasetimeframe" in reasons[("11", "purchasetimeframe")]
    assert "duplicate of line 2 (same email)" in reasons[("10", "emailaddress1")]
    leads = list(tenant.records.list("lead", select=["lastname", "leadsourcecode", "budgetamount"]))
    assert sorted(r["lastname"] for r in leads) == ["Anderson", "Bowman", "Burk", "Campbell", "McKay", "West"]
    mckay = next(r for r in leads if r["lastname"] == "McKay")
    assert (mckay["leadsourcecode"], mckay["budgetamount"]) == (7, 12500.0)


def test_second_import_detects_tenant_duplicates(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    cli("backlog", "import", "leads-example.csv")
    result = cli("backlog", "import", "leads-example.csv", "--rejects", "second.csv")
    assert "created" in result.output
    assert tenant.records.count("lead") == 6
    dupes = [r for r in read_rejects(workdir / "second.csv") if "duplicate of existing lead" in r["reason"]]
    assert len(dupes) == 7       # six created leads + the in-file duplicate of one of them


def test_french_excel_file(cli: RunCli, tenant: DataverseClient) -> None:
    result = cli("backlog", "import", "leads-excel-fr.csv")
    assert result.exit_code == 0, result.output
    assert "cp1252" in result.output
    rows = list(tenant.records.list("lead", filter="lastname eq 'Durand'",
                                    select=["firstname", "companyname", "leadsourcecode", "leadqualitycode",
                                            "budgetamount", "estimatedclosedate"]))
    assert len(rows) == 1
    row = rows[0]
    assert (row["firstname"], row["companyname"]) == ("Émile", "Café Noir SARL")
    assert (row["leadsourcecode"], row["leadqualitycode"], row["budgetamount"]) == (7, 1, 12500.5)
    assert str(row["estimatedclosedate"]).startswith("2026-12-15")
    assert tenant.records.count("lead") == 4


def test_dry_run_sends_nothing(cli: RunCli, tenant: DataverseClient) -> None:
    result = cli("backlog", "import", "leads-example.csv", "--dry-run")
    assert "would create" in result.output
    assert tenant.records.count("lead") == 0


def test_mapping_file(cli: RunCli, tenant: DataverseClient) -> None:
    result = cli("backlog", "import", "leads-mapped.csv", "--mapping", "mapping-example.yaml")
    assert result.exit_code == 0, result.output
    rows = list(tenant.records.list("lead", select=["subject", "description", "emailaddress1", "leadsourcecode"]))
    assert {r["emailaddress1"] for r in rows} == {"lee.gross@wideworldimporters.example", "kim@margiestravel.example"}
    assert all(r["subject"] == "Trade show lead" and r["leadsourcecode"] == 7 for r in rows)


def test_on_duplicate_update_changes_the_existing_lead(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    cli("backlog", "import", "leads-excel-fr.csv")
    (workdir / "update.csv").write_text(
        "Topic,Last Name,Email,Job Title\nNew topic,Durand,EMILE.DURAND@cafenoir.example,Propriétaire\n",
        encoding="utf-8")
    result = cli("backlog", "import", "update.csv", "--on-duplicate", "update")
    assert result.exit_code == 0, result.output
    rows = list(tenant.records.list("lead", filter="lastname eq 'Durand'", select=["jobtitle", "subject"]))
    assert [(r["jobtitle"], r["subject"]) for r in rows] == [("Propriétaire", "New topic")]
    assert tenant.records.count("lead") == 4


def test_on_duplicate_create_creates_anyway(cli: RunCli, tenant: DataverseClient) -> None:
    cli("backlog", "import", "leads-excel-fr.csv")
    cli("backlog", "import", "leads-excel-fr.csv", "--on-duplicate", "create", "--batch-size", "2")
    assert tenant.records.count("lead") == 8


def test_bad_files_stop_before_anything_is_sent(cli: RunCli, workdir: Path, tenant: DataverseClient) -> None:
    (workdir / "empty.csv").write_bytes(b"")
    (workdir / "utf16.csv").write_bytes("Topic,Last Name\nx,y\n".encode("utf-16"))
    (workdir / "nocols.csv").write_text("Company,Email\nContoso,a@contoso.example\n", encoding="utf-8")
    (workdir / "header-only.csv").write_text("Topic,Last Name\n", encoding="utf-8")
    for name, message in [("empty.csv", "empty"), ("utf16.csv", "UTF-16"), ("nocols.csv", "missing required"),
                          ("missing.csv", "cannot read")]:
        result = cli("backlog", "import", name)
        assert result.exit_code == 2, (name, result.output)
        assert message in result.output, (name, result.output)
    result = cli("backlog", "import", "leads-excel-fr.csv", "--encoding", "utf-8")
    assert result.exit_code == 2 and "cannot decode the file as utf-8" in result.output
    result = cli("backlog", "import", "header-only.csv")
    assert result.exit_code == 2 and "no data rows" in result.output
    assert tenant.records.count("lead") == 0
