"""State machines: statecode/statuscode defaults, inference and validation for every table.

The tenant hands ``before_write`` the full row (merged with the stored one on update), so
which of the two codes the caller sent is recovered by comparing with ``old``: a state
that changed while the status did not means "only statecode sent" (its default status
applies); a status that changed while the state did not means "only statuscode sent"
(its state is inferred when ``infer_state_from_status`` is on).
"""

from __future__ import annotations

from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import sent_columns, settings_of
from d365lab.mock.service_errors import INVALID_STATE, MockError, bad_request
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.enums import StateModel
from d365lab.models.schema import TABLES, Table


def invalid_status(model: StateModel, table: Table, row: Row, state: int, status: int) -> MockError:
    """400 for a statuscode that does not belong to the statecode, worded as the service words it."""
    record_id = str(row.get(table.primary_id) or "")
    return MockError(400, INVALID_STATE, model.invalid_message(status, state, table.logical_name, record_id))


_STATE_COLUMNS = frozenset({"statecode", "statuscode"})


class StateMachineRule:
    """Defaults, inference and validation of statecode/statuscode for one table."""

    def __init__(self, table: Table) -> None:
        if table.states is None:
            raise ValueError(f"{table.logical_name} has no state model")
        self.table = table
        self.model: StateModel = table.states

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Complete and validate the state pair of the row about to be stored."""
        if old is None:
            self._complete_on_create(tenant, new)
        else:
            self._complete_on_update(tenant, old, new)
        state, status = new["statecode"], new["statuscode"]
        if self.model.default_status(state) is None:
            raise bad_request(
                f"{state} is not a valid state code on {self.table.logical_name}.", code=INVALID_STATE)
        if not self.model.is_valid(state, status):
            raise invalid_status(self.model, self.table, new, state, status)

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to do after the write."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Nothing to check before a delete."""

    def _complete_on_create(self, tenant: Tenant, new: Row) -> None:
        state, status = new.get("statecode"), new.get("statuscode")
        sent = sent_columns()
        if sent is not None:
            sent_state = bool(sent & _STATE_COLUMNS)
            if "statuscode" in sent and "statecode" not in sent:
                state = None  # only the status was sent: the tenant's default state must not hide that
        else:
            # The tenant fills Open and its default status when neither was sent, so only a
            # pair other than that shows the caller sent a state.
            sent_state = (state, status) not in ((None, None), (0, self.model.default_status(0)))
        if not self.table.state_valid_for_create and sent_state:
            if settings_of(tenant).activity_state_on_create == "reject":
                raise bad_request(
                    f"statecode and statuscode are not valid for create on {self.table.logical_name}; "
                    f"create the {self.table.logical_name} open, then update its state.")
            # Ignored, as the platform ignores attributes that are not valid for create.
            state, status = None, None
        if state is None and status is not None:
            state = self._inferred_state(tenant, status, state)
        if state is None:
            state = 0
        if status is None:
            status = self.model.default_status(state)
        new["statecode"], new["statuscode"] = state, status

    def _complete_on_update(self, tenant: Tenant, old: Row, new: Row) -> None:
        sent = sent_columns()
        if sent is not None:
            self._complete_sent(tenant, old, new, sent)
            return
        state, status = new.get("statecode"), new.get("statuscode")
        old_state, old_status = old.get("statecode"), old.get("statuscode")
        if state is None:
            state = old_state if old_state is not None else 0
        if status is None or (state != old_state and status == old_status):
            status = self.model.default_status(state)
        elif state == old_state and status != old_status and not self.model.is_valid(state, status):
            state = self._inferred_state(tenant, status, state)
        new["statecode"], new["statuscode"] = state, status


    def _inferred_state(self, tenant: Tenant, status: int, state: int | None) -> int | None:
        """The state ``status`` belongs to when ``infer_state_from_status`` is on (else ``state``)."""
        inferred = self.model.state_of(status)
        return inferred if inferred is not None and settings_of(tenant).infer_state_from_status else state

    def _complete_sent(self, tenant: Tenant, old: Row, new: Row, sent: frozenset[str]) -> None:
        """Complete the pair knowing exactly which codes the caller sent."""
        state, status = new.get("statecode"), new.get("statuscode")
        if "statecode" in sent and "statuscode" not in sent:
            if state != old.get("statecode"):
                status = self.model.default_status(state) if state is not None else None
        elif "statuscode" in sent and "statecode" not in sent and status is not None:
            state = self._inferred_state(tenant, status, state)
        new["statecode"], new["statuscode"] = state, status


def _register_all() -> None:
    for table in TABLES.values():
        if table.states is not None:
            register(table.logical_name, StateMachineRule(table))


_register_all()
