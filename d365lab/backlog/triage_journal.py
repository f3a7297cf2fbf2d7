"""The triage journal: a local SQLite file recording every lead's planned action and outcome.

A run is frozen when it starts (the plan is written as ``pending`` items in one
transaction), so a resumed run works on exactly the leads the first run selected. Each
lead goes ``pending`` -> ``started`` (committed *before* its request is sent) -> ``done``
or ``failed``. WAL mode and a commit per transition make every recorded transition
survive ``kill -9`` of the process; a ``started`` lead whose outcome was lost is
re-read from the tenant on resume instead of being sent again.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

PENDING, STARTED, DONE, FAILED = "pending", "started", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    rules_file TEXT NOT NULL,
    base_url TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    status TEXT NOT NULL,
    finished_at TEXT,
    runner_pid INTEGER,
    runner_host TEXT
);
CREATE TABLE IF NOT EXISTS items (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    seq INTEGER NOT NULL,
    leadid TEXT NOT NULL,
    name TEXT NOT NULL,
    rule TEXT NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    detail TEXT,
    opportunity_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    processed_by TEXT,
    updated_at TEXT NOT NULL,
    etag TEXT,
    found TEXT,
    PRIMARY KEY (run_id, leadid)
);
CREATE INDEX IF NOT EXISTS items_state ON items(run_id, state);
"""
#: Columns added after the first release: ``(table, column, type)``, added to older journals on open.
_ADDED_COLUMNS = (("runs", "runner_pid", "INTEGER"), ("runs", "runner_host", "TEXT"),
                  ("items", "etag", "TEXT"), ("items", "found", "TEXT"))


_RUN_COLUMNS = "run_id, created_at, rules_file, base_url, organization_id, status, finished_at, runner_pid, runner_host"


def default_journal_path() -> Path:
    """``<user data dir>/d365lab/backlog-journal.sqlite``."""
    return Path(platformdirs.user_data_dir("d365lab")) / "backlog-journal.sqlite"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class PlannedItem:
    """One lead of a plan: what to do to it and why."""

    leadid: str
    name: str
    rule: str
    action: str
    params: dict[str, Any]
    #: The lead's ``@odata.etag`` when it was planned: every action is conditional on it.
    etag: str | None = None


@dataclass(frozen=True)
class JournalItem:
    """One lead as the journal knows it."""

    seq: int
    leadid: str
    name: str
    rule: str
    action: str
    params: dict[str, Any]
    state: str
    outcome: str | None
    detail: str | None
    opportunity_id: str | None
    attempts: int
    processed_by: str | None = None
    #: The ETag the lead had when planned (None in journals written before it was recorded).
    etag: str | None = None
    #: For a skipped lead: the state it was found in (``qualified``, ``disqualified (Lost)``, ...).
    found: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """A run's header row."""

    run_id: str
    created_at: str
    rules_file: str
    base_url: str
    organization_id: str
    status: str
    finished_at: str | None
    #: Process id and host of the last process that executed the run (see :mod:`d365lab.backlog.lease`).
    runner_pid: int | None = None
    runner_host: str | None = None


class TriageJournalError(Exception):
    """The journal cannot be used for the request (unknown run, other tenant, ...)."""


class Journal:
    """A thread-safe handle on the journal database (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives the process being killed;
            # only an OS crash or power loss can drop the last commits (resume re-reads those leads).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise TriageJournalError(f"cannot open the journal {path}: {reason}") from None

    def _add_missing_columns(self) -> None:
        for table, column, kind in _ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ runs

    def create_run(self, rules_file: str, base_url: str, organization_id: str, items: Iterable[PlannedItem]) -> str:
        """Record a new run and its whole plan atomically; return the run id.

        The calling process is recorded as the run's executor (see :meth:`set_runner`).
        """
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO runs (run_id, created_at, rules_file, base_url, organization_id,"
                                 " status, runner_pid, runner_host) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                                 (run_id, now, rules_file, base_url, organization_id, os.getpid(),
                                  socket.gethostname()))
                self._db.executemany(
                    "INSERT INTO items (run_id, seq, leadid, name, rule, action, params, state, updated_at, etag)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ((run_id, seq, it.leadid, it.name, it.rule, it.action, json.dumps(it.params), PENDING, now,
                      it.etag) for seq, it in enumerate(items)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return run_id

    def run(self, run_id: str) -> RunInfo:
        """A run's header; TriageJournalError if unknown."""
        with self._lock:
            row = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise TriageJournalError(f"no run {run_id!r} in the journal {self.path}")
        return RunInfo(*row)

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC").fetchall()
        return [RunInfo(*r) for r in rows]

    def set_runner(self, run_id: str, pid: int | None, host: str | None) -> None:
        """Record which process executes the run (None, None when it stops)."""
        with self._lock:
            self._db.execute("UPDATE runs SET runner_pid = ?, runner_host = ? WHERE run_id = ?", (pid, host, run_id))

    def finish_run(self, run_id: str) -> None:
        """Mark a run finished (every item done or failed)."""
        with self._lock:
            self._db.execute("UPDATE runs SET status = 'finished', finished_at = ? WHERE run_id = ?",
                             (_now(), run_id))

    # ------------------------------------------------------------------ items

    def items(self, run_id: str, states: Iterable[str] | None = None) -> Iterator[JournalItem]:
        """Items of a run in plan order, optionally only those in the given states."""
        sql = ("SELECT seq, leadid, name, rule, action, params, state, outcome, detail, opportunity_id, attempts,"
               " processed_by, etag, found FROM items WHERE run_id = ?")
        args: list[Any] = [run_id]
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({', '.join('?' * len(wanted))})"
            args += wanted
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        for r in rows:
            yield JournalItem(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), *r[6:])

    def counts(self, run_id: str) -> dict[tuple[str, str | None], int]:
        """``{(state, outcome): count}`` for a run."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, outcome, COUNT(*) FROM items WHERE run_id = ? GROUP BY state, outcome",
                (run_id,)).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def mark_started(self, run_id: str, leadid: str) -> None:
        """Record that a request for the lead is about to be sent (committed before sending)."""
        with self._lock:
            self._db.execute(
                "UPDATE items SET state = ?, attempts = attempts + 1, updated_at = ? WHERE run_id = ? AND leadid = ?",
                (STARTED, _now(), run_id, leadid))

    def mark_finished(self, run_id: str, leadid: str, state: str, outcome: str,
                      detail: str | None = None, opportunity_id: str | None = None,
                      processed_by: str | None = None, found: str | None = None) -> None:
        """Record a lead's final outcome (``done`` or ``failed``), which user's client sent it and,
        for a skipped lead, the state it was found in."""
        with self._lock:
            self._db.execute(
                "UPDATE items SET state = ?, outcome = ?, detail = ?, opportunity_id = ?, processed_by = ?,"
                " found = ?, updated_at = ? WHERE run_id = ? AND leadid = ?",
                (state, outcome, detail, opportunity_id, processed_by, found, _now(), run_id, leadid))

    def mark_many_done(self, run_id: str, leadids: list[str], outcome: str, detail: str | None = None) -> None:
        """Record the same outcome for many leads in one commit (e.g. leads left as they are)."""
        now = _now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE items SET state = ?, outcome = ?, detail = ?, updated_at = ? WHERE run_id = ? AND leadid = ?",
                ((DONE, outcome, detail, now, run_id, lid) for lid in leadids))
            self._db.execute("COMMIT")

    def reset_failed(self, run_id: str) -> int:
        """Put failed items back to pending (a resume retries them); return how many."""
        with self._lock:
            cur = self._db.execute("UPDATE items SET state = ?, updated_at = ? WHERE run_id = ? AND state = ?",
                                   (PENDING, _now(), run_id, FAILED))
        return cur.rowcount
