"""The one check every Sales verb makes before it sends a state change: the statuscode
asked for must belong to the statecode the verb sets (from the state machines in
:mod:`d365lab.models.enums`), so a wrong status fails before any request.
"""

from __future__ import annotations

from enum import IntEnum

from d365lab.errors import ClientValidationError
from d365lab.models.enums import StateModel
from d365lab.webapi.request import Request
from d365lab.webapi.rows import update_row


def require_status(states: StateModel, state: IntEnum, status: int, *, table: str) -> None:
    """Raise :class:`ClientValidationError` unless ``status`` is a statuscode of ``state``.

    >>> require_status(LEAD_STATES, LeadState.OPEN, LeadStatus.QUALIFIED, table="lead")  # doctest: +SKIP
    ClientValidationError: 3 is not an Open status (use 1, 2)
    """
    if states.state_of(int(status)) == state:
        return
    label = states.state_label(int(state))
    article = "an" if label[:1] in "AEIOU" else "a"
    allowed = ", ".join(str(s) for s in states.statuses_of(int(state)))
    raise ClientValidationError(f"{int(status)} is not {article} {label} status (use {allowed})",
                                table=table, field="statuscode")


def set_state(table: str, record_id: str, state: int, status: int) -> Request[None]:
    """The PATCH that sets a row's statecode and statuscode."""
    return update_row(table, record_id, {"statecode": int(state), "statuscode": int(status)})
