"""Writing imported leads: CreateMultiple / UpdateMultiple in chunks, isolating refused rows.

CreateMultiple on a standard table is all-or-nothing: one bad row fails its chunk. A
failed chunk is split in halves and retried until the refused rows are alone, so one bad
row costs about log2(chunk) extra requests instead of the whole chunk. Tables that do not
support the bulk messages are written with ``$batch`` change sets instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d365lab.backlog.validate import Rejection
from d365lab.errors import DataverseError
from d365lab.models.schema import table as schema_table

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: Requests per $batch when the table has no CreateMultiple (the service allows 1000).
BATCH_LIMIT = 1000


@dataclass
class CreateResult:
    """Ids created (in input order, refused rows left out) and the refused rows."""

    ids: list[str] = field(default_factory=list)
    refused: list[Rejection] = field(default_factory=list)


@dataclass
class UpdateResult:
    """How many rows were updated, and the refused ones."""

    count: int = 0
    refused: list[Rejection] = field(default_factory=list)


def _unsupported(exc: DataverseError) -> bool:
    """True when the error says the bulk message does not exist for the table."""
    text = (exc.message or "").lower()
    return exc.status in (400, 404, 405) and "multiple" in text and (
        "not supported" in text or "not implemented" in text or "not found" in text
        or "does not support" in text)


class LeadWriter:
    """Creates and updates rows of one table in chunks (``lead`` by default)."""

    def __init__(self, client: DataverseClient, chunk_size: int = 1000, table: str = "lead",
                 parallelism: int = 1) -> None:
        self.client = client
        self.chunk_size = max(1, chunk_size)
        self.parallelism = max(1, parallelism)
        self.table = table
        self.bulk = schema_table(table).supports_bulk

    def create(self, rows: list[tuple[int, dict[str, Any]]]) -> CreateResult:
        """Create rows given as ``(csv line, payload)``; never raises for a refused row.

        Chunks are sent ``parallelism`` at a time (the service processes bulk requests in
        parallel); ids come back in input order.
        """
        chunks = [rows[start:start + self.chunk_size] for start in range(0, len(rows), self.chunk_size)]
        if self.parallelism <= 1 or len(chunks) <= 1:
            parts = [self._create_one(chunk) for chunk in chunks]
        else:
            with ThreadPoolExecutor(max_workers=min(self.parallelism, len(chunks))) as pool:
                parts = list(pool.map(self._create_one, chunks))
        result = CreateResult()
        for part in parts:
            result.ids.extend(part.ids)
            result.refused.extend(part.refused)
        return result

    def _create_one(self, chunk: list[tuple[int, dict[str, Any]]]) -> CreateResult:
        part = CreateResult()
        self._create_chunk(chunk, part)
        return part

    def _create_chunk(self, chunk: list[tuple[int, dict[str, Any]]], result: CreateResult) -> None:
        if not chunk:
            return
        if not self.bulk:
            self._create_with_batch(chunk, result)
            return
        try:
            ids = self.client.records.create_multiple(self.table, [p for _, p in chunk], chunk_size=len(chunk))
        except DataverseError as exc:
            if _unsupported(exc):
                self.bulk = False
                self._create_with_batch(chunk, result)
                return
            if exc.is_transient or len(chunk) == 1:
                # Transient errors were already retried by the transport; report, don't loop.
                for line, _ in chunk:
                    result.refused.append(Rejection(line, "row", f"refused by the tenant: {exc.message}"))
                return
            middle = len(chunk) // 2
            self._create_chunk(chunk[:middle], result)
            self._create_chunk(chunk[middle:], result)
            return
        result.ids.extend(ids)

    def _create_with_batch(self, chunk: list[tuple[int, dict[str, Any]]], result: CreateResult) -> None:
        for start in range(0, len(chunk), BATCH_LIMIT):
            part = chunk[start:start + BATCH_LIMIT]
            sent: list[tuple[int, str]] = []
            with self.client.batch(continue_on_error=True) as batch:
                for line, payload in part:
                    try:
                        sent.append((line, str(batch.create(self.table, payload).id)))
                    except DataverseError as exc:  # refused before sending (client-side validation)
                        result.refused.append(Rejection(line, "row", f"refused: {exc.message}"))
            for (line, record_id), response in zip(sent, batch.results, strict=True):
                error = response.error()
                if error is None:
                    result.ids.append(record_id)
                else:
                    result.refused.append(Rejection(line, "row", f"refused by the tenant: {error.message}"))

    def update(self, rows: list[tuple[int, str, dict[str, Any]]]) -> UpdateResult:
        """Update rows given as ``(csv line, record id, changes)`` with UpdateMultiple."""
        result = UpdateResult()
        pk = schema_table(self.table).primary_id
        for start in range(0, len(rows), self.chunk_size):
            chunk = rows[start:start + self.chunk_size]
            self._update_chunk(chunk, pk, result)
        return result

    def _update_chunk(self, chunk: list[tuple[int, str, dict[str, Any]]], pk: str, result: UpdateResult) -> None:
        if not chunk:
            return
        try:
            self.client.records.update_multiple(self.table, [{**body, pk: rid} for _, rid, body in chunk],
                                                chunk_size=len(chunk))
        except DataverseError as exc:
            if exc.is_transient or len(chunk) == 1:
                for line, rid, _ in chunk:
                    result.refused.append(Rejection(line, "row", f"update of lead {rid} refused: {exc.message}"))
                return
            middle = len(chunk) // 2
            self._update_chunk(chunk[:middle], pk, result)
            self._update_chunk(chunk[middle:], pk, result)
            return
        result.count += len(chunk)
