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
import os
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, Field

from d365lab.labs import timeutil

STATE_ENV = "D365LAB_LAB_STATE"


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
    run_started_at: str
    records: dict[str, str] = Field(default_factory=dict)
    created: list[TrackedRecord] = Field(default_factory=list)
    tasks: dict[str, TaskDone] = Field(default_factory=dict)


def journal_path(lab_key: str, organization_id: str, language: str, prefix: str, tenant: str = "") -> Path:
    """The journal file of one lab run scope.

    ``tenant`` (the client's tenant label: the environment URL, or the embedded mock's
    database file) tells apart tenants sharing an organization id, as mock tenants do.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", prefix).strip("-") or "noprefix"
    where = hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:8]
    return state_dir() / f"{lab_key}.{organization_id}.{where}.{language}.{slug}.json"


class Journal:
    """A run journal bound to its file; every change is written at once (atomically)."""

    def __init__(self, path: Path, data: JournalData) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal stored at ``path``, or None when there is none (or it is unreadable)."""
        if not path.is_file():
            return None
        try:
            data = JournalData.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError:
            return None
        return cls(path, data)

    @classmethod
    def open_or_start(cls, path: Path, **fields: Any) -> Journal:
        """Load the journal at ``path`` or start a new one with ``fields`` (run start = now)."""
        existing = cls.load(path)
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
