"""Phone call verbs: create (with regarding and parties) and complete.

>>> call_id = client.phonecalls.create(subject="Follow up", due=datetime(2026, 3, 2, 9, tzinfo=UTC),
...                                    regarding=("opportunity", opp_id))            # doctest: +SKIP
>>> client.phonecalls.complete(call_id)                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from d365lab.errors import ClientValidationError
from d365lab.models.enums import PHONECALL_STATES, ParticipationType, PhoneCallState, PhoneCallStatus, Priority
from d365lab.models.schema import ACTIVITYPARTY, PHONECALL
from d365lab.odata import to_utc_text
from d365lab.sales.status import require_status, set_state
from d365lab.tables import bind_path
from d365lab.webapi.request import Request, Sender
from d365lab.webapi.rows import create_row


@dataclass(frozen=True)
class Party:
    """A participant of the call: ``Party(ParticipationType.TO_RECIPIENT, "contact", contact_id)``."""

    role: ParticipationType
    table: str
    id: str


def create_request(*, subject: str, due: datetime | None = None, regarding: tuple[str, str] | None = None,
                   parties: Sequence[Party] | None = None, description: str | None = None,
                   phone_number: str | None = None, outgoing: bool = True, priority: Priority | None = None,
                   start: datetime | None = None) -> Request[str]:
    """Create an open phone call; ``due`` (aware) is ``scheduledend``; decodes to its id."""
    body: dict[str, Any] = {"subject": subject, "directioncode": outgoing}
    if due is not None:
        body["scheduledend"] = to_utc_text(due)
    if start is not None:
        body["scheduledstart"] = to_utc_text(start)
    if description:
        body["description"] = description
    if phone_number:
        body["phonenumber"] = phone_number
    if priority is not None:
        body["prioritycode"] = int(priority)
    if regarding is not None:
        table, record_id = regarding
        try:
            nav = PHONECALL.bind_name("regardingobjectid", table)
        except KeyError:
            raise ClientValidationError(f"a phone call cannot be regarding a {table}", table="phonecall",
                                        field="regardingobjectid") from None
        body[f"{nav}@odata.bind"] = bind_path(table, record_id)
    if parties:
        body["phonecall_activity_parties"] = [_party(p) for p in parties]
    return create_row("phonecall", body)


def complete_request(call_id: str, *, status: PhoneCallStatus = PhoneCallStatus.MADE) -> Request[None]:
    """Mark the call completed: Made (default) or Received."""
    require_status(PHONECALL_STATES, PhoneCallState.COMPLETED, status, table="phonecall")
    return set_state("phonecall", call_id, PhoneCallState.COMPLETED, status)


def cancel_request(call_id: str) -> Request[None]:
    """Cancel an open call."""
    return set_state("phonecall", call_id, PhoneCallState.CANCELED, PhoneCallStatus.CANCELED)


def _party(party: Party) -> dict[str, Any]:
    try:
        nav = ACTIVITYPARTY.bind_name("partyid", party.table)
    except KeyError:
        raise ClientValidationError(f"a call party cannot be a {party.table}", table="activityparty",
                                    field="partyid") from None
    return {f"{nav}@odata.bind": bind_path(party.table, party.id), "participationtypemask": int(party.role)}


class PhoneCalls:
    """Verbs on phone call activities (each sends one of the requests above through a :class:`Sender`)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def create(self, *, subject: str, due: datetime | None = None, regarding: tuple[str, str] | None = None,
               parties: Sequence[Party] | None = None, description: str | None = None,
               phone_number: str | None = None, outgoing: bool = True, priority: Priority | None = None,
               start: datetime | None = None) -> str:
        """Create an open phone call; ``due`` (aware) is ``scheduledend``; returns its id."""
        return self._sender.send(create_request(
            subject=subject, due=due, regarding=regarding, parties=parties, description=description,
            phone_number=phone_number, outgoing=outgoing, priority=priority, start=start))

    def complete(self, call_id: str, *, status: PhoneCallStatus = PhoneCallStatus.MADE) -> None:
        """Mark the call completed: Made (default) or Received."""
        self._sender.send(complete_request(call_id, status=status))

    def cancel(self, call_id: str) -> None:
        """Cancel an open call."""
        self._sender.send(cancel_request(call_id))
