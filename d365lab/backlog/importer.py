"""The import job: CSV file -> validated leads -> CreateMultiple in chunks.

Everything is read and validated before the first write. Rejected rows (invalid
values, duplicates skipped, rows the tenant refused) are collected with their line
number, field and reason; they never stop the valid rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d365lab.backlog.csvio import CsvTable, read_csv, write_csv
from d365lab.backlog.dedupe import KEY_COLUMNS, DuplicateIndex, duplicate_keys
from d365lab.backlog.mapping import ColumnMapping, MappingFile, load_mapping_file
from d365lab.backlog.validate import LeadImportRow, Rejection, validate_row
from d365lab.backlog.writer import LeadWriter

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

REJECT_COLUMNS = ["line", "field", "reason", "value"]


class OnDuplicate(StrEnum):
    """What to do with a row that duplicates a tenant lead or an earlier row."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


@dataclass(frozen=True)
class ImportOptions:
    """Options of one import."""

    dry_run: bool = False
    batch_size: int = 1000
    on_duplicate: OnDuplicate = OnDuplicate.SKIP
    mapping_file: Path | None = None
    encoding: str = "auto"
    #: Chunks in flight at once; None = the tenant's recommended parallelism.
    parallelism: int | None = None


@dataclass
class PreparedImport:
    """A CSV file read, mapped and validated (no tenant involved yet)."""

    table: CsvTable
    mapping: ColumnMapping
    valid: list[tuple[int, LeadImportRow]]
    rejections: list[Rejection]


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    rows: int = 0
    valid: int = 0
    invalid_rows: int = 0
    duplicates_in_tenant: int = 0
    duplicates_in_file: int = 0
    created: int = 0
    updated: int = 0
    would_create: int = 0
    would_update: int = 0
    refused_by_tenant: int = 0
    requests: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""
    unmapped_headers: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)


def prepare_import(path: Path, options: ImportOptions) -> PreparedImport:
    """Read, map and validate a CSV file (raises CsvFormatError / MappingError for whole-file problems)."""
    table = read_csv(path, options.encoding)
    mapping_file = load_mapping_file(options.mapping_file) if options.mapping_file else MappingFile()
    mapping = ColumnMapping(table.header, mapping_file)
    valid: list[tuple[int, LeadImportRow]] = []
    rejections: list[Rejection] = []
    for line, row in zip(table.line_numbers, table.rows, strict=True):
        result = validate_row(line, mapping.apply(row))
        if isinstance(result, LeadImportRow):
            valid.append((line, result))
        else:
            rejections.extend(result)
    return PreparedImport(table, mapping, valid, rejections)


_KIND_FIELD = {"email": "emailaddress1", "name+company": "lastname,companyname"}


def run_import(client: DataverseClient, path: Path, options: ImportOptions) -> ImportReport:
    """Import a CSV file of leads into the tenant (see the module docstring)."""
    started = time.perf_counter()
    requests_before = client.request_count
    prepared = prepare_import(path, options)
    report = ImportReport(rows=len(prepared.table.rows), valid=len(prepared.valid), dry_run=options.dry_run,
                          encoding=prepared.table.encoding, delimiter=prepared.table.delimiter,
                          unmapped_headers=list(prepared.mapping.unmapped))
    report.invalid_rows = len({r.line for r in prepared.rejections})
    report.rejections = list(prepared.rejections)

    tenant = DuplicateIndex()
    if options.on_duplicate is not OnDuplicate.CREATE:
        tenant.add_all(client.records.list("lead", select=KEY_COLUMNS, page_size=5000))
    in_file = DuplicateIndex()
    to_create: dict[int, dict[str, Any]] = {}      # line -> payload, insertion ordered
    to_update: dict[str, dict[str, Any]] = {}      # leadid -> payload
    update_line: dict[str, int] = {}
    for line, row in prepared.valid:
        payload = row.payload()
        if options.on_duplicate is OnDuplicate.CREATE:
            to_create[line] = payload
            continue
        keys = duplicate_keys(payload)
        hit = tenant.find(keys)
        if hit is not None:
            report.duplicates_in_tenant += 1
            kind, leadid = hit
            if options.on_duplicate is OnDuplicate.UPDATE:
                to_update.setdefault(leadid, {}).update(payload)
                update_line.setdefault(leadid, line)
            else:
                report.rejections.append(Rejection(line, _KIND_FIELD[kind],
                                                   f"duplicate of existing lead {leadid} (same {kind}); skipped"))
            continue
        earlier = in_file.find(keys)
        if earlier is not None:
            report.duplicates_in_file += 1
            kind, first_line = earlier
            if options.on_duplicate is OnDuplicate.UPDATE:
                to_create[int(first_line)].update(payload)
            else:
                report.rejections.append(Rejection(line, _KIND_FIELD[kind],
                                                   f"duplicate of line {first_line} (same {kind}); skipped"))
            continue
        in_file.add(keys, str(line))
        to_create[line] = payload

    if options.dry_run:
        report.would_create, report.would_update = len(to_create), len(to_update)
    else:
        parallelism = options.parallelism or client.recommended_parallelism
        writer = LeadWriter(client, options.batch_size, parallelism=parallelism)
        created = writer.create(list(to_create.items()))
        report.created_ids = created.ids
        report.created = len(created.ids)
        report.rejections.extend(created.refused)
        updated = writer.update([(update_line[lid], lid, body) for lid, body in to_update.items()])
        report.updated = updated.count
        report.rejections.extend(updated.refused)
        report.refused_by_tenant = len(created.refused) + len(updated.refused)
    report.rejections.sort(key=lambda r: (r.line, r.field))
    report.requests = client.request_count - requests_before
    report.seconds = time.perf_counter() - started
    return report


def write_rejects(path: Path, rejections: list[Rejection]) -> None:
    """Write the rejects CSV: line, field, reason, value."""
    write_csv(path, REJECT_COLUMNS, [{"line": r.line, "field": r.field, "reason": r.reason, "value": r.value}
                                     for r in rejections])
