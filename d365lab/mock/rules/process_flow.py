"""The "Lead to Opportunity Sales Process" business process flow (``leadtoopportunitysalesprocess``).

- An instance moves only to the adjacent stage (forward or back); ``traversedpath`` is the
  comma-separated ids of the visited stages and must stay consistent (forward: path + new
  stage; back: trimmed after the new stage). When the caller leaves ``traversedpath`` out
  of a stage move the mock fills it in; when it sends a wrong one the move is refused.
- Crossing from Qualify (lead) to Develop (opportunity) requires ``opportunityid``.
- Finish (statecode 1 / statuscode 2) only at the last stage, stamping ``completedon``;
  abort (1 / 3) anywhere; reactivate (0 / 1).
- A lead created while ``auto_create_process_flow`` is on gets an instance at Qualify,
  unless the lead is created with ``processid`` = the empty GUID (the documented opt-out).
- Deleting a lead deletes its instances.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

import d365lab.mock.rules.states  # noqa: F401  (state defaults must run before these rules)
from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import is_blank, is_performing, performing, settings_of, utc_now
from d365lab.mock.rules.lifecycle import CLOSE_OPPORTUNITY
from d365lab.mock.service_errors import INVALID_STATE, bad_request
from d365lab.mock.tenant_api import Ref, Row, Tenant
from d365lab.models.enums import ProcessFlowState, ProcessFlowStatus
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, PROCESS_FLOW, STAGE_IDS

FLOW_TABLE = PROCESS_FLOW.logical_name
#: The primary key of a process flow instance.
FLOW_KEY = PROCESS_FLOW.primary_id
PROCESS_NAME = "Lead to Opportunity Sales Process"
_AUTO_CREATE = "auto_create_process_flow"
_PENDING_INSTANCES: ContextVar[list[Row] | None] = ContextVar("d365lab_pending_instances", default=None)
#: Stage ids in process order.
STAGE_ORDER: list[str] = list(STAGE_IDS.values())
STAGE_NAMES: dict[str, str] = {stage_id: name for name, stage_id in STAGE_IDS.items()}


def stage_ref(name: str) -> Ref:
    """The ``activestageid`` value of a stage by name (``"Develop"``)."""
    return Ref("processstage", STAGE_IDS[name])


def path_to(stage_id: str) -> str:
    """The ``traversedpath`` of an instance that went straight from Qualify to ``stage_id``."""
    return ",".join(STAGE_ORDER[: STAGE_ORDER.index(stage_id) + 1])


def split_path(path: object) -> list[str]:
    """A ``traversedpath`` as a list of lowercase stage ids."""
    if not isinstance(path, str) or not path.strip():
        return []
    return [part.strip().strip("{}").lower() for part in path.split(",") if part.strip()]


def _stage_id(row: Row) -> str | None:
    ref = row.get("activestageid")
    return ref.id.lower() if isinstance(ref, Ref) else None


def _stage_index(stage_id: str) -> int:
    if stage_id not in STAGE_ORDER:
        raise bad_request(
            f"The stage {stage_id} is not a stage of the {PROCESS_NAME} "
            f"(stages: {', '.join(f'{n} {i}' for n, i in STAGE_IDS.items())}).")
    return STAGE_ORDER.index(stage_id)


def _minutes_between(start: object, end: str) -> int | None:
    if not isinstance(start, str):
        return None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        return int((datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds() // 60)
    except ValueError:
        return None


class ProcessFlowRule:
    """Stage navigation, traversed path and finish/abort/reactivate of an instance."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Complete and validate the instance about to be stored."""
        if old is None:
            self._complete_on_create(tenant, new)
        else:
            self._check_stage_move(old, new)
            self._check_state_change(old, new)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing before a delete."""

    def _complete_on_create(self, tenant: Tenant, new: Row) -> None:
        if is_blank(new.get("name")):
            new["name"] = PROCESS_NAME
        if new.get("processid") is None:
            new["processid"] = Ref("workflow", LEAD_TO_OPPORTUNITY_PROCESS_ID)
        stage = _stage_id(new)
        if stage is None:
            only_opportunity = new.get("leadid") is None and new.get("opportunityid") is not None
            stage = STAGE_IDS["Develop" if only_opportunity else "Qualify"]
            new["activestageid"] = Ref("processstage", stage)
        index = _stage_index(stage)
        if is_blank(new.get("traversedpath")):
            new["traversedpath"] = path_to(stage)
        elif split_path(new["traversedpath"]) != STAGE_ORDER[: index + 1]:
            raise bad_request(
                f"traversedpath must list every stage visited up to the active stage "
                f"{STAGE_NAMES[stage]}, in order: '{path_to(stage)}'.")
        if index >= 1 and new.get("opportunityid") is None:
            raise bad_request(
                f"The {STAGE_NAMES[stage]} stage belongs to the opportunity: set opportunityId@odata.bind "
                f"to create an instance there.")
        if new.get("activestagestartedon") is None:
            new["activestagestartedon"] = utc_now()
        lead = new.get("leadid")
        if isinstance(lead, Ref) and not is_performing(_AUTO_CREATE):
            _replace_untouched_instance(tenant, lead)

    def _check_stage_move(self, old: Row, new: Row) -> None:
        old_stage, stage = _stage_id(old), _stage_id(new)
        if stage is None:
            raise bad_request("activestageid cannot be cleared on a process instance.")
        if stage == old_stage:
            if new.get("traversedpath") != old.get("traversedpath"):
                path = split_path(new.get("traversedpath"))
                if not path or path[-1] != stage:
                    raise bad_request(
                        f"traversedpath must end with the active stage {STAGE_NAMES.get(stage, stage)} ({stage}).")
            return
        if old.get("statecode") != ProcessFlowState.ACTIVE and new.get("statecode") != ProcessFlowState.ACTIVE:
            raise bad_request(
                "The process instance is not active (finished or aborted); reactivate it "
                "(statecode 0, statuscode 1) before moving its stage.", code=INVALID_STATE)
        index = _stage_index(stage)
        old_index = STAGE_ORDER.index(old_stage) if old_stage in STAGE_ORDER else index - 1
        if abs(index - old_index) != 1:
            names = [STAGE_NAMES[STAGE_ORDER[i]] for i in (old_index - 1, old_index + 1) if 0 <= i < len(STAGE_ORDER)]
            raise bad_request(
                f"Stages must be navigated in sequence: from {STAGE_NAMES[STAGE_ORDER[old_index]]} the "
                f"instance can move only to {' or '.join(names)}, not to {STAGE_NAMES[stage]}.")
        old_path = split_path(old.get("traversedpath")) or STAGE_ORDER[: old_index + 1]
        if index > old_index:
            expected = [*old_path, stage]
        else:
            cut = old_path.index(stage) + 1 if stage in old_path else index + 1
            expected = old_path[:cut] if stage in old_path else STAGE_ORDER[:cut]
        if new.get("traversedpath") == old.get("traversedpath"):
            new["traversedpath"] = ",".join(expected)
        elif split_path(new.get("traversedpath")) != expected:
            raise bad_request(
                f"traversedpath is inconsistent with the move from {STAGE_NAMES[STAGE_ORDER[old_index]]} to "
                f"{STAGE_NAMES[stage]}: expected '{','.join(expected)}'.")
        if old_index == 0 and index == 1 and new.get("opportunityid") is None:
            raise bad_request(
                "Moving from Qualify to Develop requires the opportunity: qualify the lead "
                "(QualifyLead) or set opportunityId@odata.bind on the instance in the same request.")
        new["activestagestartedon"] = utc_now()

    def _check_state_change(self, old: Row, new: Row) -> None:
        status, old_status = new.get("statuscode"), old.get("statuscode")
        if status == old_status:
            return
        if status == ProcessFlowStatus.FINISHED:
            stage = _stage_id(new)
            if stage != STAGE_ORDER[-1] and not is_performing(CLOSE_OPPORTUNITY):
                raise bad_request(
                    f"The process can be finished only at its last stage (Close); the active stage is "
                    f"{STAGE_NAMES.get(stage or '', stage)}.", code=INVALID_STATE)
            now = utc_now()
            new["completedon"] = now
            new["duration"] = _minutes_between(new.get("createdon"), now)
        elif status == ProcessFlowStatus.ACTIVE:
            new["completedon"] = None
            new["duration"] = None


def _replace_untouched_instance(tenant: Tenant, lead: Ref) -> None:
    """Drop the instance auto-created for ``lead`` while it is untouched.

    A client written for a real org may create the instance itself right after the lead
    (as Sales Hub does); the platform keeps one instance per process and record, so the
    automatic one gives way instead of leaving two.
    """
    for existing in tenant.find(FLOW_TABLE, leadid=lead):
        untouched = (existing.get("statecode") == ProcessFlowState.ACTIVE
                     and _stage_id(existing) == STAGE_IDS["Qualify"]
                     and existing.get("opportunityid") is None)
        if untouched:
            tenant.delete(FLOW_TABLE, existing[FLOW_KEY])


@contextmanager
def instances_created_together(tenant: Tenant) -> Iterator[None]:
    """Create the automatic instances of the leads created inside, in one ``create_many`` at the end.

    Used by CreateMultiple: one batch insert instead of a nested create per lead.
    """
    pending: list[Row] = []
    token = _PENDING_INSTANCES.set(pending)
    try:
        yield
    finally:
        _PENDING_INSTANCES.reset(token)
    if pending:
        with performing(_AUTO_CREATE):
            tenant.create_many(FLOW_TABLE, pending)


class LeadProcessFlowRule:
    """Auto-create the lead's instance at Qualify; delete the instances with the lead."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Point the lead's legacy process columns at the process it starts in."""
        if old is None and settings_of(tenant).auto_create_process_flow and new.get("processid") is None:
            new["processid"] = LEAD_TO_OPPORTUNITY_PROCESS_ID
            new["stageid"] = STAGE_IDS["Qualify"]
            new["traversedpath"] = STAGE_IDS["Qualify"]

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Create the process instance of a new lead."""
        if old is not None or not settings_of(tenant).auto_create_process_flow:
            return
        if str(new.get("processid") or "").lower() != LEAD_TO_OPPORTUNITY_PROCESS_ID:
            return
        instance = {
            "name": PROCESS_NAME,
            "leadid": Ref("lead", new["leadid"]),
            "processid": Ref("workflow", LEAD_TO_OPPORTUNITY_PROCESS_ID),
            "activestageid": stage_ref("Qualify"),
            "traversedpath": STAGE_IDS["Qualify"],
        }
        pending = _PENDING_INSTANCES.get()
        if pending is not None:
            pending.append(instance)
            return
        with performing(_AUTO_CREATE):  # a brand-new lead has no instance to replace
            tenant.create(FLOW_TABLE, instance)

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Cascade the delete to the lead's process instances."""
        for instance in tenant.find(FLOW_TABLE, leadid=Ref("lead", row["leadid"])):
            tenant.delete(FLOW_TABLE, instance[FLOW_KEY])


register(FLOW_TABLE, ProcessFlowRule())
register("lead", LeadProcessFlowRule())
