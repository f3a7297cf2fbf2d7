"""The Lead to Opportunity Sales Process flow of a lead or opportunity.

Stages are resolved by name from ``processstages`` (filtered by the process id, cached per
client), never from hard-coded ids. Moves go one adjacent stage at a time and keep
``traversedpath`` equal to the visited stages, as the service requires.

>>> flow = client.process_flows.for_opportunity(opp_id)          # doctest: +SKIP
>>> client.process_flows.move_to(flow.id, "Close")                # Develop -> Propose -> Close
>>> client.process_flows.finish(flow.id)                          # doctest: +SKIP

In a ``$batch`` change set: ``for request in client.process_flows.move_requests(flow.id, "Close"):
cs.add(request)`` (the instance and its stages are read now; the moves are sent with the batch).
"""

from __future__ import annotations

import threading
from typing import Literal, overload

from d365lab.errors import ClientValidationError, InvalidStateTransitionError, NotFoundError
from d365lab.models.enums import ProcessFlowState, ProcessFlowStatus
from d365lab.models.row_views import ProcessFlowInstance, ProcessStage
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, PROCESS_FLOW
from d365lab.odata import Guid, eq, guid
from d365lab.records import Records
from d365lab.sales.status import set_state
from d365lab.tables import bind_path
from d365lab.webapi.request import Request, Sender
from d365lab.webapi.rows import update_row

FLOW_TABLE = PROCESS_FLOW.logical_name
FLOW_COLUMNS = ["businessprocessflowinstanceid", "name", "traversedpath", "statecode", "statuscode",
                "activestagestartedon", "completedon", "_activestageid_value", "_leadid_value",
                "_opportunityid_value", "_processid_value"]


class ProcessFlows:
    """Find, create and drive Lead-to-Opportunity process flow instances."""

    def __init__(self, sender: Sender, process_id: str = LEAD_TO_OPPORTUNITY_PROCESS_ID) -> None:
        self._sender = sender
        self._records = Records(sender)
        self.process_id = guid(process_id)
        self._stages: list[ProcessStage] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ stages
    def stages(self) -> list[ProcessStage]:
        """The process's stages in order (read once per client from ``processstages``)."""
        with self._lock:
            if self._stages is None:
                rows = self._records.list(
                    "processstage",
                    select=["processstageid", "stagename", "stagecategory", "primaryentitytypecode",
                            "_processid_value"],
                    filter=eq("_processid_value", Guid(self.process_id)),
                    orderby="stagecategory asc")
                stages = [ProcessStage.from_row(r) for r in rows]
                if not stages:
                    raise NotFoundError(f"process {self.process_id} has no stages; is the Sales solution installed?")
                self._stages = stages
            return list(self._stages)

    def stage(self, name: str) -> ProcessStage:
        """A stage by name (case-insensitive): ``stage("Propose")``."""
        for stage in self.stages():
            if stage.stagename.lower() == name.strip().lower():
                return stage
        names = ", ".join(s.stagename for s in self.stages())
        raise ClientValidationError(f"no stage named {name!r}; stages are {names}", table="processstage",
                                    field="stagename")

    # ------------------------------------------------------------------ instances
    def get(self, flow_id: str) -> ProcessFlowInstance:
        """Read an instance."""
        return ProcessFlowInstance.from_row(self._records.get(FLOW_TABLE, flow_id, select=FLOW_COLUMNS))

    @overload
    def for_lead(self, lead_id: str, *, create: Literal[True] = ...) -> ProcessFlowInstance: ...

    @overload
    def for_lead(self, lead_id: str, *, create: bool) -> ProcessFlowInstance | None: ...

    def for_lead(self, lead_id: str, *, create: bool = True) -> ProcessFlowInstance | None:
        """The lead's instance; created at the first stage when missing and ``create`` is true."""
        return self._find_or_create("lead", guid(lead_id), create)

    @overload
    def for_opportunity(self, opportunity_id: str, *, create: Literal[True] = ...) -> ProcessFlowInstance: ...

    @overload
    def for_opportunity(self, opportunity_id: str, *, create: bool) -> ProcessFlowInstance | None: ...

    def for_opportunity(self, opportunity_id: str, *, create: bool = True) -> ProcessFlowInstance | None:
        """The opportunity's instance; created at the first opportunity stage when missing."""
        return self._find_or_create("opportunity", guid(opportunity_id), create)

    def _first_stage_of(self, entity: str) -> int:
        stages = self.stages()
        for index, stage in enumerate(stages):
            if (stage.primaryentitytypecode or "").lower() == entity:
                return index
        # without primaryentitytypecode: the lead owns only the first stage of this process
        return 0 if entity == "lead" else min(1, len(stages) - 1)

    def _find_or_create(self, table: str, record_id: str, create: bool) -> ProcessFlowInstance | None:
        # the instance points to its lead or opportunity through the lookup column "<table>id"
        column = PROCESS_FLOW.columns[f"{table}id"]
        rows = list(self._records.list(
            FLOW_TABLE, select=FLOW_COLUMNS,
            filter=eq(column.value_property, Guid(record_id)) & eq("_processid_value", Guid(self.process_id)),
            orderby="modifiedon desc", top=1))
        if rows:
            return ProcessFlowInstance.from_row(rows[0])
        if not create:
            return None
        stages = self.stages()
        path = [s.processstageid for s in stages[: self._first_stage_of(table) + 1]]
        flow_id = self._records.create(FLOW_TABLE, {
            "processid@odata.bind": bind_path("workflow", self.process_id),
            f"{column.navigation[table]}@odata.bind": bind_path(table, record_id),
            "activestageid@odata.bind": bind_path("processstage", path[-1]),
            "traversedpath": ",".join(path),
        })
        return self.get(flow_id)

    # ------------------------------------------------------------------ moves
    def move_requests(self, flow_id: str, stage_name: str) -> list[Request[None]]:
        """The PATCHes that move an instance to a named stage, one adjacent stage at a time (reads it now)."""
        flow = self._active(flow_id)
        stages = self.stages()
        ids = [s.processstageid.lower() for s in stages]
        target = ids.index(self.stage(stage_name).processstageid.lower())
        current_id = (flow.active_stage_id or "").lower()
        if current_id not in ids:
            raise InvalidStateTransitionError(f"instance {flow_id} is at stage {current_id}, not a stage of "
                                              f"process {self.process_id}")
        current = ids.index(current_id)
        path = [p.lower() for p in flow.path] or ids[: current + 1]
        step = 1 if target > current else -1
        moves: list[Request[None]] = []
        while current != target:
            nxt = current + step
            if step > 0:
                path = path + [ids[nxt]]
            else:
                path = path[: path.index(ids[nxt]) + 1] if ids[nxt] in path else path[:-1]
            moves.append(stage_move_request(flow_id, ids[nxt], path))
            current = nxt
        return moves

    def move_to(self, flow_id: str, stage_name: str) -> None:
        """Move to a named stage, one adjacent stage at a time (one PATCH per step)."""
        for request in self.move_requests(flow_id, stage_name):
            self._sender.send(request)

    def next_stage(self, flow_id: str) -> None:
        """Move to the next stage."""
        self._step(flow_id, 1)

    def previous_stage(self, flow_id: str) -> None:
        """Move back to the previous stage."""
        self._step(flow_id, -1)

    def _step(self, flow_id: str, step: int) -> None:
        flow = self._active(flow_id)
        stages = self.stages()
        ids = [s.processstageid.lower() for s in stages]
        index = ids.index((flow.active_stage_id or "").lower()) + step
        if not 0 <= index < len(stages):
            raise InvalidStateTransitionError(f"instance {flow_id} has no {'next' if step > 0 else 'previous'} "
                                              "stage")
        self.move_to(flow_id, stages[index].stagename)

    def finish_request(self, flow_id: str) -> Request[None]:
        """The PATCH that finishes the instance; refused now unless it is at its last stage (reads it now)."""
        flow = self._active(flow_id)
        last = self.stages()[-1]
        if (flow.active_stage_id or "").lower() != last.processstageid.lower():
            raise InvalidStateTransitionError(f"instance {flow_id} can only be finished at stage {last.stagename}")
        return set_state(FLOW_TABLE, flow_id, ProcessFlowState.INACTIVE, ProcessFlowStatus.FINISHED)

    def finish(self, flow_id: str) -> None:
        """Finish the instance (only at its last stage)."""
        self._sender.send(self.finish_request(flow_id))

    def abort(self, flow_id: str) -> None:
        """Abort the instance (at any stage)."""
        self._sender.send(abort_request(flow_id))

    def reactivate(self, flow_id: str) -> None:
        """Reactivate a finished or aborted instance."""
        self._sender.send(reactivate_request(flow_id))

    def _active(self, flow_id: str) -> ProcessFlowInstance:
        flow = self.get(flow_id)
        if not flow.is_active:
            raise InvalidStateTransitionError(f"instance {flow_id} is finished or aborted; reactivate it first")
        return flow


def stage_move_request(flow_id: str, stage_id: str, path: list[str]) -> Request[None]:
    """The PATCH that makes ``stage_id`` the active stage with ``path`` as the traversed path."""
    return update_row(FLOW_TABLE, flow_id, {"activestageid@odata.bind": bind_path("processstage", stage_id),
                                            "traversedpath": ",".join(path)})


def abort_request(flow_id: str) -> Request[None]:
    """The PATCH that aborts an instance (at any stage)."""
    return set_state(FLOW_TABLE, flow_id, ProcessFlowState.INACTIVE, ProcessFlowStatus.ABORTED)


def reactivate_request(flow_id: str) -> Request[None]:
    """The PATCH that reactivates a finished or aborted instance."""
    return set_state(FLOW_TABLE, flow_id, ProcessFlowState.ACTIVE, ProcessFlowStatus.ACTIVE)
