"""One triage run at a time per tenant and journal, and telling a killed run from a running one.

A run that changes leads holds a **lease**: an operating-system file lock on
``<journal>.<organization id>.lock`` (``filelock``: ``flock`` on Linux and macOS,
``msvcrt.locking`` on Windows). The system releases it when the process ends in any way,
``kill -9`` and a reboot included, so a lease is never stale. A second run against the
same tenant from the same journal is refused with one line naming the run that holds it.

Runs from other journals (another machine, another ``--journal``) are not seen by the
lease; the conditional writes of :mod:`d365lab.backlog.executor` make them safe: a lead
one run closed or changed is recorded as skipped by the other.

The journal records which process executes a run (:meth:`Journal.set_runner`); a run
whose status is still ``running`` while no process holds its tenant's lease was
interrupted, and ``backlog runs`` says so.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from d365lab.backlog.triage_journal import Journal, RunInfo, TriageJournalError

#: Seconds a run waits for the lease before refusing (longer than a :func:`lease_held` probe).
_PROBE_GRACE_SECONDS = 1.0


def lease_path(journal_path: Path, organization_id: str) -> Path:
    """The lock file of one tenant's lease, next to the journal."""
    return journal_path.with_name(f"{journal_path.name}.{organization_id}.lock")


@contextmanager
def tenant_lease(journal: Journal, organization_id: str) -> Iterator[None]:
    """Hold the tenant's lease for the duration; :class:`TriageJournalError` if another run holds it.

    Runs of this tenant recorded as executing are marked as not executing once the lease is
    ours (their process is gone, or it would hold the lease).
    """
    if str(journal.path) == ":memory:":
        yield
        return
    lock = FileLock(lease_path(journal.path, organization_id))
    try:
        # A short wait rides over `backlog runs`, which takes the lock for an instant to probe it.
        lock.acquire(timeout=_PROBE_GRACE_SECONDS)
    except Timeout:
        holder = next((run for run in journal.runs()
                       if run.organization_id == organization_id and run.runner_pid is not None), None)
        who = f"run {holder.run_id}, process {holder.runner_pid} on {holder.runner_host}" if holder else "planning"
        raise TriageJournalError(f"another triage run is working on this tenant from the journal {journal.path} "
                           f"({who}); wait for it to finish (d365lab backlog runs shows its progress)") from None
    except OSError as exc:
        raise TriageJournalError(f"cannot lock {lock.lock_file}: {exc.strerror or exc}") from None
    try:
        for run in journal.runs():
            if run.organization_id == organization_id and run.runner_pid is not None:
                journal.set_runner(run.run_id, None, None)
        yield
    finally:
        lock.release()


@contextmanager
def running(journal: Journal, run_id: str) -> Iterator[None]:
    """Record this process as the run's executor for the duration (inside :func:`tenant_lease`)."""
    journal.set_runner(run_id, os.getpid(), socket.gethostname())
    try:
        yield
    finally:
        journal.set_runner(run_id, None, None)


def lease_held(journal_path: Path, organization_id: str) -> bool:
    """True when a process holds the tenant's lease on this journal now."""
    path = lease_path(journal_path, organization_id)
    if not path.exists():
        return False
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False


def run_status(journal: Journal, run: RunInfo) -> str:
    """``finished``, ``running (process N on HOST)`` or ``interrupted (not running)``."""
    if run.status != "running":
        return run.status
    if run.runner_pid is not None and lease_held(journal.path, run.organization_id):
        return f"running (process {run.runner_pid} on {run.runner_host})"
    return "interrupted (not running; finish it with --resume)"
