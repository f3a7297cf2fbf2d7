"""Running a journaled triage: several requests at a time, each lead processed exactly once.

Every action is conditional on the state the lead was planned from (its ETag): a
disqualification is a PATCH with ``If-Match: <planned ETag>``; QualifyLead, which takes no
``If-Match``, is preceded by a re-read of the lead. A lead closed or changed by someone
else is recorded as ``skipped`` with the state it was found in, never overwritten.

Per lead: if an earlier attempt may have reached the tenant (the journal says it was
started), the lead is re-read first and a lead that is already closed is recorded, not
sent again. Otherwise the lead is marked ``started`` (committed), the action is sent,
and the outcome is committed. Throttling (429) is handled below us: the client's
transport pauses every thread for ``Retry-After``; transient failures the transport
gives up on are retried here a few times, with the same re-read-first rule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from d365lab.backlog.budget import RequestBudget, ServiceLimits
from d365lab.backlog.rules import Action
from d365lab.backlog.triage_journal import DONE, FAILED, PENDING, STARTED, Journal, JournalItem
from d365lab.errors import DataverseError, InvalidStateTransitionError, NotFoundError, PreconditionFailedError
from d365lab.models.enums import DISQUALIFY_REASONS, LeadState, LeadStatus
from d365lab.sales.leads import disqualify_status

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: Outcomes recorded in the journal.
QUALIFIED, DISQUALIFIED, LEFT, SKIPPED, ERROR = "qualified", "disqualified", "left", "skipped", "error"
_RECOGNISED = "done by an earlier, interrupted attempt (recognised from the tenant)"
_STATE_COLUMNS = ["statecode", "statuscode", "_qualifyingopportunityid_value"]


@dataclass(frozen=True)
class ExecutorSettings:
    """How hard to push: ``max_workers`` caps the tenant's recommended parallelism."""

    max_workers: int | None = None
    transient_retries: int = 4
    retry_backoff_seconds: float = 1.0
    #: The tenant's service-protection limits per user (None: Microsoft's documented defaults);
    #: each user's lane waits before a lead that would go over them (see d365lab.backlog.budget).
    limits: ServiceLimits | None = None


@dataclass(frozen=True)
class LeadOutcome:
    """What happened to one lead."""

    state: str
    outcome: str
    detail: str | None = None
    opportunity_id: str | None = None
    #: For a skipped lead: the state it was found in.
    found: str | None = None


class TriageExecutor:
    """Executes the pending items of one journaled run.

    With several clients (one per application user of the same organization), leads are
    spread round-robin over them: service-protection limits are per user, so each client
    gets its own lane of threads (its recommended parallelism) and its own 429 pause.
    """

    def __init__(self, client: DataverseClient | Sequence[DataverseClient], journal: Journal, run_id: str,
                 settings: ExecutorSettings | None = None,
                 on_progress: Callable[[JournalItem, LeadOutcome], None] | None = None) -> None:
        self.clients = [client] if not isinstance(client, Sequence) else list(client)
        if not self.clients:
            raise ValueError("at least one client is needed")
        self.journal = journal
        self.run_id = run_id
        self.settings = settings or ExecutorSettings()
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._budgets: dict[int, RequestBudget] = {}

    def lane_workers(self, client: DataverseClient) -> int:
        """Threads for one client: its recommended parallelism, capped by the settings."""
        hint = max(1, int(client.recommended_parallelism))
        cap = self.settings.max_workers
        return max(1, min(hint, cap)) if cap else hint

    @property
    def workers(self) -> int:
        """Total thread count over every client."""
        return sum(self.lane_workers(c) for c in self.clients)

    def stop(self) -> None:
        """Ask the run to stop after the requests in flight (Ctrl-C)."""
        self._stop.set()

    def run(self) -> None:
        """Process every pending or interrupted item; finish the run when nothing is left."""
        self.journal.reset_failed(self.run_id)
        todo = list(self.journal.items(self.run_id, states=[PENDING, STARTED]))
        leave = [it for it in todo if it.action == Action.LEAVE.value]
        if leave:
            self.journal.mark_many_done(self.run_id, [it.leadid for it in leave], LEFT, "no change")
            for item in leave:
                self._report(item, LeadOutcome(DONE, LEFT, "no change"))
        work = [it for it in todo if it.action != Action.LEAVE.value]
        self._budgets = {id(c): RequestBudget(c, self.settings.limits) for c in self.clients}
        try:
            self._run_lanes(work)
        finally:
            for budget in self._budgets.values():
                budget.close()
        remaining = sum(n for (state, _), n in self.journal.counts(self.run_id).items() if state in (PENDING, STARTED))
        if remaining == 0 and not self._stop.is_set():
            self.journal.finish_run(self.run_id)

    def _run_lanes(self, work: list[JournalItem]) -> None:
        """Send the work over every client's lanes until done or stopped."""
        lanes = [(client, iter(work[i::len(self.clients)]), self.lane_workers(client))
                 for i, client in enumerate(self.clients)]
        # Each lane keeps at most its own thread count in flight, so a lane paused by a 429
        # never holds threads another user's lane could use.
        in_flight: dict[Future[None], int] = {}
        per_lane = [0] * len(lanes)
        exhausted = [False] * len(lanes)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="triage") as pool:
            try:
                while True:
                    for index, (client, queue, limit) in enumerate(lanes):
                        while per_lane[index] < limit and not exhausted[index] and not self._stop.is_set():
                            next_item = next(queue, None)
                            if next_item is None:
                                exhausted[index] = True
                                break
                            in_flight[pool.submit(self._process, client, next_item)] = index
                            per_lane[index] += 1
                    if not in_flight:
                        break
                    # A short wait: Ctrl-C reaches the main thread between bytecodes only (on
                    # Windows a wait without a timeout is not interrupted).
                    done, _ = wait(list(in_flight), timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        per_lane[in_flight.pop(future)] -= 1
                        future.result()
            except BaseException:
                self._stop.set()
                for future in in_flight:
                    future.cancel()
                raise

    # ------------------------------------------------------------------ one lead

    def _process(self, client: DataverseClient, item: JournalItem) -> None:
        # QualifyLead is preceded by a re-read of the lead: two requests.
        expected = 2 if item.action == Action.QUALIFY.value else 1
        try:
            with self._budgets[id(client)].spend(expected):
                outcome = self._attempts(client, item)
        except DataverseError as exc:
            # e.g. the re-read after a closed-lead error was itself refused: a resume retries it.
            outcome = LeadOutcome(FAILED, ERROR, str(exc))
        self.journal.mark_finished(self.run_id, item.leadid, outcome.state, outcome.outcome,
                                   outcome.detail, outcome.opportunity_id, processed_by=client.tenant_label,
                                   found=outcome.found)
        self._report(item, outcome)

    def _report(self, item: JournalItem, outcome: LeadOutcome) -> None:
        if self.on_progress is not None:
            self.on_progress(item, outcome)

    def _attempts(self, client: DataverseClient, item: JournalItem) -> LeadOutcome:
        may_have_run = item.attempts > 0
        last_error: DataverseError | None = None
        for attempt in range(self.settings.transient_retries + 1):
            sent_before = may_have_run
            try:
                etag = item.etag
                if may_have_run or item.action == Action.QUALIFY.value or item.etag is None:
                    # QualifyLead takes no If-Match: the lead's state is read right before it; so is
                    # a lead planned without an ETag (older journals), then sent with the ETag read.
                    row = self._read(client, item)
                    if row is None:
                        return _deleted()
                    known = self._judge(item, row, ours=may_have_run)
                    if known is not None:
                        return known
                    etag = etag or row.get("@odata.etag")
                self.journal.mark_started(self.run_id, item.leadid)
                may_have_run = True
                return self._send(client, item, etag)
            except (InvalidStateTransitionError, PreconditionFailedError) as exc:
                # The lead is closed or changed: by an earlier attempt of ours only if one may have run.
                row = self._read(client, item)
                if row is None:
                    return _deleted()
                known = self._judge(item, row, ours=sent_before or exc.ambiguous_retry)
                return known or LeadOutcome(FAILED, ERROR, str(exc))
            except NotFoundError:
                return _deleted()
            except DataverseError as exc:
                if not exc.is_transient:
                    return LeadOutcome(FAILED, ERROR, str(exc))
                last_error = exc
                time.sleep(self.settings.retry_backoff_seconds * (2 ** attempt))
        return LeadOutcome(FAILED, ERROR, f"gave up after retries: {last_error}")

    def _send(self, client: DataverseClient, item: JournalItem, etag: str | None) -> LeadOutcome:
        if item.action == Action.QUALIFY.value:
            create = set(item.params.get("create", []))
            result = client.leads.qualify(
                item.leadid,
                create_account="account" in create,
                create_contact="contact" in create,
                create_opportunity="opportunity" in create)
            return LeadOutcome(DONE, QUALIFIED, None, result.opportunity_id)
        if item.action == Action.DISQUALIFY.value:
            reason = str(item.params["reason"])
            # If-Match: the ETag the lead had when planned; a lead changed since then answers 412.
            client.records.update("lead", item.leadid, {"statecode": int(LeadState.DISQUALIFIED),
                                                        "statuscode": int(disqualify_status(reason))},
                                  etag=etag)
            return LeadOutcome(DONE, DISQUALIFIED, reason)
        return LeadOutcome(FAILED, ERROR, f"unknown action {item.action!r}")

    @staticmethod
    def _read(client: DataverseClient, item: JournalItem) -> dict[str, Any] | None:
        """The lead's state and ETag as the tenant has it now (None: it was deleted)."""
        try:
            row: dict[str, Any] = client.records.get("lead", item.leadid, select=_STATE_COLUMNS)
        except NotFoundError:
            return None
        return row

    @staticmethod
    def _judge(item: JournalItem, row: dict[str, Any], ours: bool) -> LeadOutcome | None:
        """None when the lead is still as planned (send the action), else what to record.

        ``ours`` says whether an earlier attempt of this run may have closed it; if not, a
        closed lead was closed by someone else and is skipped. An open lead whose ETag is not
        the planned one was changed by someone else (the rules saw other values): skipped too.
        """
        state = row.get("statecode")
        found = describe_lead_state(row)
        if state == LeadState.OPEN:
            current = row.get("@odata.etag")
            if item.etag is None or current is None or current == item.etag:
                return None
            return LeadOutcome(DONE, SKIPPED, f"lead changed by someone else since the plan (found {found}, "
                                              f"ETag {current}, planned from {item.etag}); plan a new run to "
                                              "triage it", found=f"{found}, changed")
        if ours:
            wanted_disqualify = DISQUALIFY_REASONS.get(str(item.params.get("reason")))
            if item.action == Action.QUALIFY.value and state == LeadState.QUALIFIED:
                return LeadOutcome(DONE, QUALIFIED, _RECOGNISED, row.get("_qualifyingopportunityid_value"))
            if (item.action == Action.DISQUALIFY.value and state == LeadState.DISQUALIFIED
                    and row.get("statuscode") == wanted_disqualify):
                return LeadOutcome(DONE, DISQUALIFIED, f"{item.params.get('reason')}; {_RECOGNISED}")
        return LeadOutcome(DONE, SKIPPED, f"lead found {found}: closed by someone else, left as it is",
                           row.get("_qualifyingopportunityid_value"), found=found)


def describe_lead_state(row: dict[str, Any]) -> str:
    """A lead's state in words: ``open (New)``, ``qualified (Qualified)``, ``disqualified (Cannot Contact)``."""
    state: Any = row.get("statecode")
    status: Any = row.get("statuscode")
    try:
        state_text = LeadState(int(state)).name.lower()
    except (TypeError, ValueError):
        state_text = f"statecode {state}"
    try:
        status_text = LeadStatus(int(status)).name.replace("_", " ").title()
    except (TypeError, ValueError):
        status_text = f"statuscode {status}"
    return f"{state_text} ({status_text})"


def _deleted() -> LeadOutcome:
    return LeadOutcome(DONE, SKIPPED, "lead no longer exists (deleted by someone else)", found="deleted")
