"""Imports larger than one chunk: rows are sent chunk by chunk while the next ones are checked.

What must not change because of that: every valid row created once and in file order,
rejects with line/field/reason (duplicates of rows already sent included), refused rows
isolated, nothing sent for a file that is unusable as a whole, and ``--on-duplicate update``
merging a later row into an earlier one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.backlog.csvio import CsvFormatError
from d365lab.backlog.importer import ImportOptions, OnDuplicate, run_import
from d365lab.backlog.writer import FIRST_CHUNK, LeadWriter
from d365lab.client import DataverseClient

HEADER = "Topic,First Name,Last Name,Company,Email,Lead Source\n"


def row(n: int, *, email: str | None = None, source: str = "Web") -> str:
    return f"Topic {n},First{n},Last{n},Company {n},{email or f'p{n}@example.com'},{source}\n"


def write_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def test_a_file_of_many_chunks_creates_every_valid_row_once_in_file_order(
        d365_server_client: DataverseClient, tmp_path: Path) -> None:
    client = d365_server_client
    existing = client.records.create("lead", {"subject": "Old", "lastname": "Old", "emailaddress1": "p5@example.com"})
    lines = [row(n) for n in range(600)]
    lines[450] = row(450, email="p3@example.com")       # same email as line 5, sent in the first chunk
    lines[451] = row(451, source="Telepathy")           # invalid option
    path = write_file(tmp_path, lines)
    before = client.request_count

    report = run_import(client, path, ImportOptions(batch_size=100, parallelism=3))
    sent = client.request_count - before

    rejected = {(r.line, r.field): r.reason for r in report.rejections}
    assert rejected[(7, "emailaddress1")] == f"duplicate of existing lead {existing} (same email); skipped"
    assert rejected[(452, "emailaddress1")] == "duplicate of line 5 (same email); skipped"
    assert "is not a value of leadsourcecode" in rejected[(453, "leadsourcecode")]
    counts = (report.created, report.invalid_rows, report.duplicates_in_file, report.duplicates_in_tenant)
    assert counts == (597, 1, 1, 1)
    assert client.records.count("lead") == 598
    # ids come back in file order: the n-th id is the lead of the n-th created row
    created_lines = [n for n in range(600) if n not in (5, 450, 451)]
    for n, lead_id in list(zip(created_lines, report.created_ids, strict=True))[::97]:
        assert client.records.get("lead", lead_id, select=["subject"])["subject"] == f"Topic {n}"
    # 1 tenant scan + the first chunks doubling up to 100 rows, then 100 per request
    assert report.requests == sent
    assert sent <= 1 + 2 + 597 // 100 + 1


def test_a_row_the_tenant_refuses_is_isolated_while_other_chunks_stream(d365_server_client: DataverseClient) -> None:
    client = d365_server_client
    writer = LeadWriter(client, chunk_size=8, parallelism=2, validated=True)   # no client-side check: the
    rows = [(line, {"subject": f"s{line}", "lastname": f"L{line}"}) for line in range(2, 42)]  # tenant refuses
    rows[30] = (32, {"subject": "s32", "lastname": "x" * 60})                 # longer than lastname allows
    with writer.stream() as stream:
        for line, payload in rows:
            stream.add(line, payload)
    result = stream.result
    assert [(r.line, r.field) for r in result.refused] == [(32, "row")]
    assert "refused by the tenant" in result.refused[0].reason
    assert len(result.ids) == 39 and client.records.count("lead") == 39
    subjects = [client.records.get("lead", i, select=["subject"])["subject"] for i in result.ids]
    assert subjects == [p["subject"] for _, p in rows if p["lastname"] != "x" * 60]


def test_a_bad_line_after_many_good_rows_sends_nothing(d365_server_client: DataverseClient, tmp_path: Path) -> None:
    client = d365_server_client
    lines = [row(n) for n in range(3 * FIRST_CHUNK)] + ["Topic x,First,Last,Co,x@example.com,Web,extra,fields\n"]
    before = client.request_count
    with pytest.raises(CsvFormatError, match=f"line {3 * FIRST_CHUNK + 2}: 8 fields"):
        run_import(client, write_file(tmp_path, lines), ImportOptions(batch_size=50))
    assert client.request_count == before
    assert client.records.count("lead") == 0


def test_update_mode_merges_a_later_row_into_an_earlier_one_chunks_apart(
        d365_server_client: DataverseClient, tmp_path: Path) -> None:
    client = d365_server_client
    lines = [row(n) for n in range(30)]
    lines[25] = "Topic later,First25,Last25,Company 25,p2@example.com,Trade Show\n"   # same email as line 4
    report = run_import(client, write_file(tmp_path, lines),
                        ImportOptions(batch_size=5, on_duplicate=OnDuplicate.UPDATE))
    assert (report.created, report.duplicates_in_file) == (29, 1)
    merged = client.records.first("lead", filter="emailaddress1 eq 'p2@example.com'",
                                  select=["subject", "leadsourcecode", "lastname"])
    assert merged is not None
    assert (merged["subject"], merged["leadsourcecode"], merged["lastname"]) == ("Topic later", 7, "Last25")


def test_dry_run_of_many_chunks_sends_only_the_duplicate_scan(d365_server_client: DataverseClient,
                                                             tmp_path: Path) -> None:
    client = d365_server_client
    before = client.request_count
    report = run_import(client, write_file(tmp_path, [row(n) for n in range(300)]),
                        ImportOptions(batch_size=50, dry_run=True))
    assert (report.would_create, report.created) == (300, 0)
    assert client.request_count - before == 1
    assert client.records.count("lead") == 0
