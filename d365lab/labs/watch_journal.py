"""The watch journal: what ``lab check --watch`` saw, round after round, kept on this machine.

One JSON file per lab scope, next to the run journal (same name, ``.watch.json``): the time
each task was first seen passing (with the records it was seen on and the evidence), and
every observed transition (a task's status, a record's ``statecode`` / ``statuscode``). So
a state a later task undoes (a lead disqualified, then reactivated) is still proven when
the tenant keeps no audit history and the lab was done without d365lab's runner.

Polling sees what is there at each round: a change undone between two rounds is not seen
(use a shorter ``--interval``, or auditing).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from d365lab.labs.reports.common import check_line
from d365lab.labs.results import LabReport, TaskResult
from d365lab.labs.run_journal import RunJournalError

WATCH_SCHEMA = "d365lab.watch-journal/1"
#: Columns whose every observed change is journaled (the states a later task may undo).
STATE_FIELDS = ("statecode", "statuscode")


class WatchJournalError(RunJournalError):
    """The watch journal file exists but cannot be read; the message names it."""


class TaskPass(BaseModel):
    """A task seen passing by a watch round."""

    at: str
    round: int
    #: alias -> id of the records the task's checks read when it passed
    records: dict[str, str] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)


class Transition(BaseModel):
    """One observed change: a task's status, or a state column of a record."""

    at: str
    round: int
    subject: str
    record_id: str | None = None
    old: Any = None
    new: Any = None


class WatchData(BaseModel):
    """The journal file's content."""

    watch_schema: str = Field(default=WATCH_SCHEMA, alias="schema")
    lab_id: str
    language: str
    prefix: str = ""
    tenant: str = ""
    started_at: str
    rounds: int = 0
    last_change_at: str | None = None
    first_pass: dict[str, TaskPass] = Field(default_factory=dict)
    last_status: dict[str, str] = Field(default_factory=dict)
    last_values: dict[str, Any] = Field(default_factory=dict)
    transitions: list[Transition] = Field(default_factory=list)

    model_config = {"populate_by_name": True}


@dataclass(frozen=True)
class WatchEvent:
    """Something a round saw change; ``kind`` is ``passed`` (first pass), ``status`` or ``state``."""

    kind: str
    subject: str
    at: str
    old: Any = None
    new: Any = None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step: a reader sees the old file or the new one."""
    handle, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def watch_journal_path(run_journal: Path) -> Path:
    """The watch journal of the scope whose run journal is ``run_journal``."""
    return run_journal.with_name(run_journal.stem + ".watch.json")


class WatchJournal:
    """Load, update and save one scope's watch journal."""

    def __init__(self, path: Path | None, data: WatchData) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path) -> WatchJournal | None:
        """The journal at ``path``, or ``None`` when there is none; :class:`WatchJournalError` if unreadable."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WatchJournalError(f"cannot read the watch journal {path}: {exc.strerror or exc}") from None
        try:
            return cls(path, WatchData.model_validate(json.loads(text)))
        except (ValueError, ValidationError) as exc:
            raise WatchJournalError(f"the watch journal {path} is unreadable ({type(exc).__name__}); "
                                    f"move it aside to start a new one") from None

    @classmethod
    def open(cls, path: Path | None, report: LabReport, started_at: str) -> WatchJournal:
        """The scope's journal carried on from an earlier watch, or a new one (in memory when ``path`` is None)."""
        existing = cls.load(path) if path is not None else None
        if existing is not None and existing.data.prefix == report.prefix:
            return existing
        return cls(path, WatchData(lab_id=report.lab_id, language=report.language, prefix=report.prefix,
                                   tenant=report.tenant, started_at=started_at))

    def save(self) -> None:
        """Write atomically (a reader never sees half a file)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False)
        write_atomically(self.path, text + "\n")

    def observe(self, report: LabReport, at: str) -> list[WatchEvent]:
        """Record one round's transitions, from the report as the tenant shows it (before history is applied)."""
        data = self.data
        data.rounds += 1
        events: list[WatchEvent] = []
        for task in report.tasks:
            old = data.last_status.get(task.id)
            if old != task.status:
                data.last_status[task.id] = task.status
                if old is not None:
                    self._transition(events, "status", f"task {task.id}", at, old, task.status)
            for check in task.checks:
                if check.field in STATE_FIELDS and check.record and check.record_id:
                    key = f"{check.record}.{check.field}@{check.record_id}"
                    if key in data.last_values and data.last_values[key] != check.actual:
                        self._transition(events, "state", f"{check.record}.{check.field}", at,
                                         data.last_values[key], check.actual, record_id=check.record_id)
                    data.last_values[key] = check.actual
        return events

    def note_passes(self, report: LabReport, at: str, waiting: Mapping[str, set[str]]) -> list[WatchEvent]:
        """Record the tasks passing for the first time (``waiting``: task id -> ids of its checks that
        need another task done first; a task passes only once those checks pass too)."""
        events: list[WatchEvent] = []
        for task in report.tasks:
            if task.id in self.data.first_pass or not _seen_passing(task, waiting.get(task.id, set())):
                continue
            self.data.first_pass[task.id] = TaskPass(
                at=at, round=self.data.rounds,
                records={c.record: c.record_id for c in task.checks if c.record and c.record_id},
                evidence=[check_line(c, report.language) for c in task.checks if c.status == "pass"])
            self.data.last_change_at = at
            events.append(WatchEvent("passed", task.id, at, None, task.status))
        return events

    def _transition(self, events: list[WatchEvent], kind: str, subject: str, at: str, old: Any, new: Any,
                    record_id: str | None = None) -> None:
        self.data.transitions.append(Transition(at=at, round=self.data.rounds, subject=subject,
                                                record_id=record_id, old=old, new=new))
        self.data.last_change_at = at
        events.append(WatchEvent(kind, subject, at, old, new))

    def proven_pass(self, task_id: str, records: dict[str, str | None]) -> TaskPass | None:
        """The round that saw ``task_id`` pass on the same records as now (``records``: alias -> id), if any."""
        seen = self.data.first_pass.get(task_id)
        if seen is None:
            return None
        for alias, record_id in seen.records.items():
            now = records.get(alias)
            if now is not None and now.lower() != record_id.lower():
                return None  # passed on a record that is not the one graded now (deleted, made again)
        return seen


def _seen_passing(task: TaskResult, waiting: set[str]) -> bool:
    """Passing on what the tenant shows now, with every task it depends on known done."""
    if task.status != "passed" or task.proven_by or not any(c.strict and c.status == "pass" for c in task.checks):
        return False  # proven by history (audit, a journal) is not seen on the tenant
    return all(c.passed for c in task.checks if c.id in waiting)
