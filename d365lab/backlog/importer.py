"""The import job: CSV file -> validated leads -> CreateMultiple in chunks.

The whole file is read, mapped and every row validated before the first write, so a file
that cannot be imported at all sends nothing and no row is sent before all were checked
(the tenant's leads are read for the duplicate check meanwhile). Valid rows are then
checked for duplicates and sent chunk by chunk: the next chunk's payloads are built while
the previous ones are being written (with ``--on-duplicate update`` every row is sorted
first, since a later row may be merged into an earlier one). Rejected rows (invalid values, duplicates skipped,
rows the tenant refused) are collected with their line number, field and reason; they
never stop the valid rows.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from d365lab.backlog.budget import ServiceLimits, UserLanes
from d365lab.backlog.csvio import MAX_CELL, CsvTable, read_csv, write_csv
from d365lab.backlog.dedupe import KEY_COLUMNS, DuplicateIndex, duplicate_keys
from d365lab.backlog.mapping import ColumnMapping, MappingFile, load_mapping_file
from d365lab.backlog.validate import Rejection, validate_rows
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
    #: Chunks in flight at once per user; None = the tenant's recommended parallelism.
    parallelism: int | None = None
    #: The tenant's service-protection limits per user (None: Microsoft's documented defaults).
    limits: ServiceLimits | None = None


@dataclass
class PreparedImport:
    """A CSV file read, mapped and validated (no tenant involved yet)."""

    table: CsvTable
    mapping: ColumnMapping
    #: ``(CSV line, Web API body)`` of each valid row
    valid: list[tuple[int, dict[str, Any]]]
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
    #: Stopped by Ctrl-C: the chunks in flight finished, ``not_sent`` rows were not sent.
    interrupted: bool = False
    not_sent: int = 0


def prepare_import(path: Path, options: ImportOptions) -> PreparedImport:
    """Read, map and validate a CSV file (raises CsvFormatError / MappingError for whole-file problems)."""
    with cyclic_gc_paused():
        table = read_csv(path, options.encoding)
        mapping = ColumnMapping(table.header, _mapping_file(options))
        valid, rejections = validate_table(table, mapping)
    return PreparedImport(table, mapping, valid, short_row_rejections(table) + rejections)


def _mapping_file(options: ImportOptions) -> MappingFile:
    return load_mapping_file(options.mapping_file) if options.mapping_file else MappingFile()


def validate_table(table: CsvTable, mapping: ColumnMapping) -> tuple[list[tuple[int, dict[str, Any]]],
                                                                     list[Rejection]]:
    """Map and validate every record of a read file (see :func:`validate_rows`)."""
    return validate_rows(table.line_numbers, [mapping.apply(record) for record in table.records])


def short_row_rejections(table: CsvTable) -> list[Rejection]:
    """One rejection per record with fewer fields than the header (a truncated row is never guessed)
    and per record with a cell longer than 128 KB (no lead column holds that much)."""
    return [Rejection(row.line, "row", f"has {len(row.fields)} fields, header has {row.header_fields}",
                      table.delimiter.join(row.fields)) for row in table.short_rows] + [
        Rejection(row.line, row.column, f"cell of {row.length:,} characters, more than {MAX_CELL:,}; row skipped")
        for row in table.oversized_rows]


_KIND_FIELD = {"email": "emailaddress1", "name+company": "lastname,companyname"}


def tenant_duplicate_index(client: DataverseClient) -> DuplicateIndex:
    """Every tenant lead by its duplicate keys (one request per 5,000 leads)."""
    index = DuplicateIndex()
    index.add_all(client.records.list("lead", select=KEY_COLUMNS, page_size=5000))
    return index


@dataclass
class _Sorter:
    """Decides, row by row, what happens to a valid row: create it, update a tenant lead, or reject it."""

    options: ImportOptions
    report: ImportReport
    tenant: DuplicateIndex = field(default_factory=DuplicateIndex)
    in_file: DuplicateIndex = field(default_factory=DuplicateIndex)
    #: Rows to create, kept until the end only with ``--on-duplicate update`` (a later row may
    #: still be merged into them) or in a dry run; otherwise they are streamed to the writer.
    to_create: dict[int, dict[str, Any]] = field(default_factory=dict)
    to_update: dict[str, dict[str, Any]] = field(default_factory=dict)      # leadid -> payload
    update_line: dict[str, int] = field(default_factory=dict)

    def is_new(self, line: int, payload: dict[str, Any]) -> bool:
        """True when the row is to be created; duplicates are counted, merged or rejected here."""
        if self.options.on_duplicate is OnDuplicate.CREATE:
            return True
        report = self.report
        keys = duplicate_keys(payload)
        hit = self.tenant.find(keys)
        if hit is not None:
            report.duplicates_in_tenant += 1
            kind, leadid = hit
            if self.options.on_duplicate is OnDuplicate.UPDATE:
                self.to_update.setdefault(leadid, {}).update(payload)
                self.update_line.setdefault(leadid, line)
            else:
                report.rejections.append(Rejection(line, _KIND_FIELD[kind],
                                                   f"duplicate of existing lead {leadid} (same {kind}); skipped"))
            return False
        earlier = self.in_file.find(keys)
        if earlier is not None:
            report.duplicates_in_file += 1
            kind, first_line = earlier
            if self.options.on_duplicate is OnDuplicate.UPDATE:
                self.to_create[int(first_line)].update(payload)
            else:
                report.rejections.append(Rejection(line, _KIND_FIELD[kind],
                                                   f"duplicate of line {first_line} (same {kind}); skipped"))
            return False
        self.in_file.add(keys, str(line))
        return True


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees memory).

    An import holds a few objects per cell for its whole run, none of them in a reference
    cycle; the collector would walk them all again and again for nothing to collect (about a
    third of the time to read 10,000 rows, and more while they are sent). The few cycles the
    HTTP stack leaves behind are collected once the import returns.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_import(client: DataverseClient, path: Path, options: ImportOptions,
               stop: threading.Event | None = None, extra_users: Sequence[DataverseClient] = ()) -> ImportReport:
    """Import a CSV file of leads into the tenant (see the module docstring).

    ``stop`` (set by a Ctrl-C handler, see :func:`d365lab.backlog.interrupt.stop_on_ctrl_c`):
    the chunks in flight finish, nothing more is sent, and the report says how many rows were
    not sent (``interrupted``, ``not_sent``). Python's cyclic garbage collector is paused
    meanwhile (see :func:`cyclic_gc_paused`). ``extra_users``: clients of other application
    users of the same organization; chunks are spread over every user, each within its own
    service-protection budget (:class:`~d365lab.backlog.budget.UserLanes`).
    """
    with cyclic_gc_paused():
        started = time.perf_counter()
        users = [client, *extra_users]
        requests_before = sum(user.request_count for user in users)
        table = read_csv(path, options.encoding)  # a file that cannot be read sends nothing
        with UserLanes(users, options.limits, max_lanes_per_user=options.parallelism,
                       probe=not options.dry_run) as lanes:
            report = _run_import(client, table, options, stop or threading.Event(), lanes)
        report.requests = lanes.requests - requests_before
        report.seconds = time.perf_counter() - started
        return report


def _run_import(client: DataverseClient, table: CsvTable, options: ImportOptions, stop: threading.Event,
                lanes: UserLanes) -> ImportReport:
    mapping = ColumnMapping(table.header, _mapping_file(options))
    report = ImportReport(rows=len(table.records) + len(table.short_rows) + len(table.oversized_rows),
                          dry_run=options.dry_run,
                          encoding=table.encoding, delimiter=table.delimiter,
                          unmapped_headers=list(mapping.unmapped))
    report.rejections = short_row_rejections(table)
    report.invalid_rows = len(report.rejections)
    sorter = _Sorter(options, report)
    writer = LeadWriter(client, options.batch_size, validated=True, lanes=lanes, stop=stop)
    streaming = not options.dry_run and options.on_duplicate is not OnDuplicate.UPDATE
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="d365lab-scan") as background, \
            writer.stream() as stream:
        # The tenant's leads are read while the first rows are validated.
        scan = background.submit(tenant_duplicate_index, client) \
            if options.on_duplicate is not OnDuplicate.CREATE else None
        # Every row is validated before anything is sent (the tenant's leads are read meanwhile).
        valid, rejections = validate_table(table, mapping)
        report.invalid_rows += len({r.line for r in rejections})
        report.rejections.extend(rejections)
        report.valid = len(valid)
        stream.expected_rows = len(valid)  # at most: duplicates are left out
        if scan is not None:
            sorter.tenant = scan.result()
        for line, payload in valid:
            if sorter.is_new(line, payload):
                if streaming:
                    stream.add(line, payload)
                else:
                    sorter.to_create[line] = payload
    if options.dry_run:
        report.would_create, report.would_update = len(sorter.to_create), len(sorter.to_update)
    else:
        created = stream.result if streaming else writer.create(list(sorter.to_create.items()))
        report.created_ids = created.ids
        report.created = len(created.ids)
        report.rejections.extend(created.refused)
        updated = writer.update([(sorter.update_line[lid], lid, body) for lid, body in sorter.to_update.items()])
        report.updated = updated.count
        report.rejections.extend(updated.refused)
        report.refused_by_tenant = len(created.refused) + len(updated.refused)
        report.not_sent = len(created.unsent) + len(updated.unsent)
        report.interrupted = stop.is_set() and report.not_sent > 0  # a Ctrl-C after the last chunk stops nothing
    report.rejections.sort(key=lambda r: (r.line, r.field))
    return report


def write_rejects(path: Path, rejections: list[Rejection]) -> None:
    """Write the rejects CSV: line, field, reason, value."""
    write_csv(path, REJECT_COLUMNS, [{"line": r.line, "field": r.field, "reason": r.reason, "value": r.value}
                                     for r in rejections])
