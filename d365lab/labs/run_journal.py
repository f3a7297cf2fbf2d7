"""The run journal: what the lab runner did in one tenant, kept on this machine.

One JSON file per lab, tenant (organization id and URL), language and prefix, under
``$D365LAB_LAB_STATE`` or ``platformdirs.user_data_dir("d365lab")/labs/``. It records the
ids of every record the lab created (so cleanup deletes exactly those), the tasks done
with their timestamp and local day (so "today"/"tomorrow" are judged against the day of
the step, and the transient disqualified state stays provable), and the run start.

The checker works without it too (a student who did the lab by hand has no journal).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout
from pydantic import BaseModel, Field

from d365lab.config import ConfigurationError
from d365lab.labs import timeutil
from d365lab.labs.wording import say

STATE_ENV = "D365LAB_LAB_STATE"
#: Seconds a run waits for another run of the same scope to finish before refusing.
LOCK_WAIT_ENV = "D365LAB_LAB_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 10.0
#: Readable part of a journal's file name; the prefix's hash keeps names unique and short.
_SLUG_LENGTH = 32


class RunJournalError(Exception):
    """A run journal cannot be used (corrupt, another scope's, locked); the message says what to do.

    ``str(error)`` is English; :meth:`in_language` gives the same sentence in a lab language.
    """

    def __init__(self, message: str | None = None, *, key: str | None = None, **values: Any) -> None:
        super().__init__(message if message is not None else say("en", key or "", **values))
        self.key = key
        self.values = values

    def in_language(self, lang: str) -> str:
        """The message in ``lang`` (English when it has no sentence key)."""
        return say(lang, self.key, **self.values) if self.key else str(self)


def state_dir() -> Path:
    """Where journals live: ``$D365LAB_LAB_STATE`` or the user data folder's ``labs/``."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("d365lab")) / "labs"


class TrackedRecord(BaseModel):
    """A record the lab created (directly, or as a side effect such as qualification)."""

    entity: str
    id: str
    alias: str | None = None
    created_at: str
    task: str | None = None


class TaskDone(BaseModel):
    """A task the runner completed."""

    done_at: str
    local_date: str


class JournalData(BaseModel):
    """The journal file's content."""

    lab_id: str
    organization_id: str
    tenant: str
    language: str
    prefix: str = ""
    time_zone: str
    #: The run was told the zone (``--timezone`` / ``D365LAB_TIMEZONE``): later checks keep it
    #: rather than the tenant's.
    time_zone_explicit: bool = False
    run_started_at: str
    records: dict[str, str] = Field(default_factory=dict)
    created: list[TrackedRecord] = Field(default_factory=list)
    tasks: dict[str, TaskDone] = Field(default_factory=dict)
    #: Requests sent but not known to have finished ("create lead_b", "qualify lead_b" -> id):
    #: written before the request, so a run killed in between still knows what it may have made.
    pending: dict[str, str] = Field(default_factory=dict)


def journal_path(lab_key: str, organization_id: str, language: str, prefix: str, tenant: str = "") -> Path:
    """The journal file of one lab run scope.

    ``tenant`` (the client's tenant label: the environment URL, or the embedded mock's
    database file) tells apart tenants sharing an organization id, as mock tenants do.
    """
    where = hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:8]
    return state_dir() / f"{lab_key}.{organization_id}.{where}.{language}.{prefix_part(prefix)}.json"


def prefix_part(prefix: str) -> str:
    """The prefix in a journal file name: a readable slug plus a hash of the exact prefix.

    Prefixes that slug alike (``[QA1]`` and ``QA1``, ``Élève 1`` and ``Eleve-1``) must
    never share a journal, and a 300-character prefix must still make a legal file name.
    """
    if not prefix:
        return "noprefix"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", prefix).strip("-")[:_SLUG_LENGTH].strip("-") or "p"
    return f"{slug}-{hashlib.sha256(prefix.encode('utf-8')).hexdigest()[:12]}"


def lock_wait_seconds() -> float:
    """Seconds to wait for another run of the same scope: ``$D365LAB_LAB_LOCK_WAIT``, 10 when unset or blank.

    Raises :class:`~d365lab.config.ConfigurationError` (naming the variable and the value)
    unless the value is a finite number of seconds, 0 or more.
    """
    raw = os.environ.get(LOCK_WAIT_ENV, "")
    if not raw.strip():
        return DEFAULT_LOCK_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(LOCK_WAIT_ENV, f"{raw!r} is not a wait in seconds; expected a number, 0 or more "
                                                f"(default {DEFAULT_LOCK_WAIT:g})")
    return seconds


@contextmanager
def scope_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on one journal scope (``<journal>.lock``) while a run changes it.

    A second run of the same scope waits up to ``$D365LAB_LAB_LOCK_WAIT`` seconds (10 by
    default), then raises :class:`RunJournalError`: two runs at once would each create a full
    set of lab records and the journal would track only one of them. A bad wait raises
    :class:`~d365lab.config.ConfigurationError` (see :func:`lock_wait_seconds`).
    """
    wait = lock_wait_seconds()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    # filelock: flock on Linux/macOS, msvcrt.locking on Windows; released by the system when
    # the process dies, so a killed run never leaves a stale lock.
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=wait, poll_interval=0.1)
    except Timeout:
        raise RunJournalError(key="journal_locked", lock=lock_path, wait=f"{wait:g}") from None
    try:
        yield
    finally:
        lock.release()


class Journal:
    """A run journal bound to its file; every change is written at once (atomically)."""

    def __init__(self, path: Path, data: JournalData) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path, prefix: str | None = None) -> Journal | None:
        """The journal stored at ``path``, or None when there is none.

        Raises :class:`RunJournalError` when the file is unreadable (never silently replaced:
        it is the only list of what cleanup may delete) or, with ``prefix``, when it
        belongs to another prefix.
        """
        if not path.is_file():
            return None
        try:
            data = JournalData.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RunJournalError(key="journal_unreadable", path=path, reason=first) from None
        if prefix is not None and data.prefix != prefix:
            raise RunJournalError(key="journal_other_prefix", path=path, theirs=repr(data.prefix), ours=repr(prefix))
        return cls(path, data)

    @classmethod
    def open_or_start(cls, path: Path, **fields: Any) -> Journal:
        """Load the journal at ``path`` or start a new one with ``fields`` (run start = now)."""
        existing = cls.load(path, prefix=fields.get("prefix", ""))
        if existing is not None:
            return existing
        data = JournalData(run_started_at=timeutil.to_wire(timeutil.now_utc()), **fields)
        journal = cls(path, data)
        journal.save()
        return journal

    def save(self) -> None:
        """Write the journal atomically (a crash never leaves half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".journal-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.data.model_dump(mode="json"), handle, indent=2, ensure_ascii=False)
        os.replace(tmp, self.path)

    def delete(self) -> None:
        """Remove the journal file."""
        self.path.unlink(missing_ok=True)

    # ---------------------------------------------------------------- records
    def record_id(self, alias: str) -> str | None:
        """The id the journal holds for a lab record alias."""
        return self.data.records.get(alias)

    def track(self, entity: str, record_id: str, *, alias: str | None = None, task: str | None = None) -> None:
        """Remember a record the lab created (once), and its alias."""
        record_id = record_id.lower()
        if alias is not None:
            self.data.records[alias] = record_id
        if not any(r.id == record_id for r in self.data.created):
            self.data.created.append(TrackedRecord(
                entity=entity, id=record_id, alias=alias, task=task,
                created_at=timeutil.to_wire(timeutil.now_utc())))
        self.save()

    def start(self, action: str, alias: str, record_id: str, *, entity: str | None = None,
              task: str | None = None) -> None:
        """Note, before the request, that ``action`` ("create", "qualify") on ``alias`` is under way.

        A create also lists its client-generated id among the created records, so cleanup
        deletes the record even when the run died before hearing that it was made.
        """
        record_id = record_id.lower()
        self.data.pending[f"{action} {alias}"] = record_id
        if entity is not None and not any(r.id == record_id for r in self.data.created):
            self.data.created.append(TrackedRecord(entity=entity, id=record_id, alias=alias, task=task,
                                                   created_at=timeutil.to_wire(timeutil.now_utc())))
        self.save()

    def pending_id(self, action: str, alias: str) -> str | None:
        """The id of an ``action`` on ``alias`` started by an earlier run and never finished."""
        return self.data.pending.get(f"{action} {alias}")

    def finish(self, action: str, alias: str) -> None:
        """The ``action`` on ``alias`` is done (its results are tracked)."""
        if self.data.pending.pop(f"{action} {alias}", None) is not None:
            self.save()

    def is_tracked(self, record_id: str) -> bool:
        """True when ``record_id`` is among the records the lab created."""
        return any(r.id == record_id.lower() for r in self.data.created)

    def forget(self, alias: str) -> None:
        """Drop an alias whose record no longer exists in the tenant."""
        if self.data.records.pop(alias, None) is not None:
            self.save()

    # ---------------------------------------------------------------- tasks
    def mark_done(self, task_id: str, local_day: date) -> None:
        """Record that a task was completed now, on ``local_day`` in the lab time zone."""
        self.data.tasks[task_id] = TaskDone(done_at=timeutil.to_wire(timeutil.now_utc()),
                                            local_date=local_day.isoformat())
        self.save()

    def is_done(self, task_id: str) -> bool:
        """True when the runner recorded the task as done."""
        return task_id in self.data.tasks

    def step_days(self) -> dict[str, date]:
        """Task id -> the local day it was done on."""
        return {tid: date.fromisoformat(done.local_date) for tid, done in self.data.tasks.items()}
