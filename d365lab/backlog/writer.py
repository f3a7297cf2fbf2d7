"""Writing imported leads: CreateMultiple / UpdateMultiple in chunks, isolating refused rows.

CreateMultiple on a standard table is all-or-nothing: one bad row fails its chunk. A
failed chunk is split in halves and retried until the refused rows are alone, so one bad
row costs about log2(chunk) extra requests instead of the whole chunk. Tables that do not
support the bulk messages are written with ``$batch`` change sets instead.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from d365lab.backlog.validate import Rejection
from d365lab.errors import DataverseError
from d365lab.models.schema import table as schema_table

if TYPE_CHECKING:
    from d365lab.backlog.budget import UserLanes
    from d365lab.client import DataverseClient

#: Rows in the first chunk of a :class:`CreateStream` (then 2x, 4x... up to the chunk size).
FIRST_CHUNK = 125
#: Requests per $batch when the table has no CreateMultiple (the service allows 1000).
BATCH_LIMIT = 1000
#: Longest a chunk should take (the documented client timeouts are 2-4 minutes).
LONGEST_CHUNK_MS = 60_000.0


@dataclass
class CreateResult:
    """Ids created (in input order, refused rows left out), the refused rows, and the CSV
    lines of rows not sent because the writer was asked to stop (Ctrl-C)."""

    ids: list[str] = field(default_factory=list)
    refused: list[Rejection] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)


@dataclass
class UpdateResult:
    """How many rows were updated, the refused ones, and the lines not sent (asked to stop)."""

    count: int = 0
    refused: list[Rejection] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)


def merge(parts: list[CreateResult]) -> CreateResult:
    """One result from the results of consecutive chunks (ids stay in input order)."""
    result = CreateResult()
    for part in parts:
        result.ids.extend(part.ids)
        result.refused.extend(part.refused)
        result.unsent.extend(part.unsent)
    return result


def results_in_order(futures: list[Future[CreateResult]]) -> list[CreateResult]:
    """The futures' results in their order, waiting in short slices.

    A Ctrl-C handler runs in the main thread only between two bytecodes; on Windows a wait
    without a timeout is not interrupted, so the handler (which asks the writer to stop)
    would run only once every chunk had been sent.
    """
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=0.2)
    return [future.result() for future in futures]


def _unsupported(exc: DataverseError) -> bool:
    """True when the error says the bulk message does not exist for the table."""
    text = (exc.message or "").lower()
    return exc.status in (400, 404, 405) and "multiple" in text and (
        "not supported" in text or "not implemented" in text or "not found" in text
        or "does not support" in text)


class LeadWriter:
    """Creates and updates rows of one table in chunks (``lead`` by default).

    ``stop`` (set by the first Ctrl-C): chunks not yet started are not sent (their lines are
    reported as ``unsent``); the chunks in flight finish. ``lanes`` (a
    :class:`~d365lab.backlog.budget.UserLanes`): each chunk is sent by the user with a free
    lane, within that user's service-protection budget, and chunks shrink when rows take so
    long that a full chunk would use too much of a window (see :meth:`next_chunk_size`).
    """

    def __init__(self, client: DataverseClient, chunk_size: int = 1000, table: str = "lead",
                 parallelism: int = 1, *, validated: bool = False, stop: threading.Event | None = None,
                 lanes: UserLanes | None = None) -> None:
        self.client = client
        self.chunk_size = max(1, chunk_size)
        self.lanes = lanes
        self.parallelism = lanes.total_lanes if lanes is not None else max(1, parallelism)
        #: Moving average of the measured milliseconds per created row (0: none measured yet).
        self.ms_per_row = 0.0
        self._row_lock = threading.Lock()
        self.table = table
        self.bulk = schema_table(table).supports_bulk
        #: The rows were validated against the table's schema already (the import's pydantic
        #: model): the client's pre-send checks would only repeat that work on every row.
        self.validated = validated
        self.stop = stop or threading.Event()

    def stream(self) -> CreateStream:
        """A :class:`CreateStream`: rows added one by one, each full chunk sent while the next one fills."""
        return CreateStream(self)

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
                parts = results_in_order([pool.submit(self._create_one, chunk) for chunk in chunks])
        return merge(parts)

    def create_chunk(self, chunk: list[tuple[int, dict[str, Any]]]) -> CreateResult:
        """Create one chunk (split on refusal, see the module docstring); never raises for a refused row."""
        return self._create_one(chunk)

    def next_chunk_size(self, previous: int, remaining: int | None = None) -> int:
        """The size of the next streamed chunk: double the previous one, up to the chunk size,
        and no more rows than fit in :data:`LONGEST_CHUNK_MS` or in a quarter of one lane's share
        of the execution-time window at the measured time per row. With ``remaining`` (rows still
        to come) known, the last chunks are split over every lane so the lanes finish together."""
        wanted = min(previous * 2, self.chunk_size)
        if remaining is not None and self.lanes is not None:
            wanted = min(wanted, max(FIRST_CHUNK, -(-remaining // self.parallelism)))
        if self.lanes is None or not self.ms_per_row:
            return wanted
        limits = self.lanes.budgets[0].limits
        lane_share = limits.execution_ms_per_window * 0.95 / (4 * max(1, self.lanes.total_lanes))
        fits = int(min(LONGEST_CHUNK_MS, lane_share) / self.ms_per_row)
        return max(1, min(wanted, fits))

    def _create_one(self, chunk: list[tuple[int, dict[str, Any]]]) -> CreateResult:
        part = CreateResult()
        if self.stop.is_set():
            part.unsent.extend(line for line, _ in chunk)
        elif self.lanes is None:
            self._create_chunk(chunk, part, self.client)
        else:
            expected = self.ms_per_row * len(chunk) if self.ms_per_row else None
            with self.lanes.lease(expected_ms=expected) as client:
                started = time.perf_counter()
                self._create_chunk(chunk, part, client)
                self._measured(len(chunk), (time.perf_counter() - started) * 1000.0)
        return part

    def _measured(self, rows: int, ms: float) -> None:
        with self._row_lock:
            per_row = ms / max(1, rows)
            self.ms_per_row = per_row if not self.ms_per_row else 0.7 * self.ms_per_row + 0.3 * per_row

    def _create_chunk(self, chunk: list[tuple[int, dict[str, Any]]], result: CreateResult,
                      client: DataverseClient) -> None:
        if not chunk:
            return
        if not self.bulk:
            self._create_with_batch(chunk, result, client)
            return
        try:
            ids = client.records.create_multiple(self.table, [p for _, p in chunk], chunk_size=len(chunk),
                                                 validate=not self.validated)
        except DataverseError as exc:
            if _unsupported(exc):
                self.bulk = False
                self._create_with_batch(chunk, result, client)
                return
            if exc.is_transient or len(chunk) == 1:
                # Transient errors were already retried by the transport; report, don't loop.
                for line, _ in chunk:
                    result.refused.append(Rejection(line, "row", f"refused by the tenant: {exc.message}"))
                return
            middle = len(chunk) // 2
            self._create_chunk(chunk[:middle], result, client)
            self._create_chunk(chunk[middle:], result, client)
            return
        result.ids.extend(ids)

    def _create_with_batch(self, chunk: list[tuple[int, dict[str, Any]]], result: CreateResult,
                           client: DataverseClient) -> None:
        for start in range(0, len(chunk), BATCH_LIMIT):
            part = chunk[start:start + BATCH_LIMIT]
            sent: list[tuple[int, str]] = []
            with client.batch(continue_on_error=True) as batch:
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
            if self.stop.is_set():
                result.unsent.extend(line for line, _, _ in chunk)
            else:
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


class CreateStream:
    """Creates rows as they come: each full chunk is sent at once, ``parallelism`` chunks in flight.

    The caller validates and checks the next rows while earlier chunks are being written
    (the service works on another machine, or the mock in another process, so the two
    really overlap). Ids come back in input order, as with :meth:`LeadWriter.create`::

        with writer.stream() as stream:
            for line, payload in rows:
                stream.add(line, payload)
        result = stream.result
    """

    def __init__(self, writer: LeadWriter) -> None:
        self.writer = writer
        self.result = CreateResult()
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._sent: list[Future[CreateResult]] = []
        self._pool = ThreadPoolExecutor(max_workers=writer.parallelism, thread_name_prefix="d365lab-create")
        # The first chunks are small and double up to the chunk size: the service starts
        # writing after a few rows instead of a full chunk, and each chunk is ready before
        # the service is done with the previous one (checking a row costs much less than
        # writing it).
        self._next_size = min(FIRST_CHUNK, writer.chunk_size)
        #: Rows the caller expects to add in all (None: unknown); lets the last chunks be balanced.
        self.expected_rows: int | None = None
        self._added = 0

    def add(self, line: int, payload: dict[str, Any]) -> None:
        """Queue one row (its CSV line and body); a full chunk is sent now, in the background."""
        self._pending.append((line, payload))
        self._added += 1
        if len(self._pending) >= self._next_size:
            self._send()
            remaining = None if self.expected_rows is None else max(0, self.expected_rows - self._added)
            self._next_size = self.writer.next_chunk_size(self._next_size, remaining)

    def _send(self) -> None:
        if self._pending:
            self._sent.append(self._pool.submit(self.writer.create_chunk, self._pending))
            self._pending = []

    def finish(self) -> CreateResult:
        """Send what is left, wait for every chunk and return the merged result."""
        self._send()
        try:
            self.result = merge(results_in_order(self._sent))
        finally:
            self._pool.shutdown(wait=True)
        return self.result

    def __enter__(self) -> CreateStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()
        else:  # the caller failed: send nothing more, let the chunks already in flight end
            self._pool.shutdown(wait=True, cancel_futures=True)
