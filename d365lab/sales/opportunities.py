"""Opportunity verbs: update, win, lose, reopen.

>>> client.opportunities.update(opp_id, {"budgetamount": Decimal("17000")})         # doctest: +SKIP
>>> client.opportunities.win(opp_id, actual_revenue=Decimal("17000"), close_date=date(2026, 3, 31))  # doctest: +SKIP

The ``*_request`` functions build the same requests without sending them, for a ``$batch``
change set: ``changeset.add(win_request(opp_id, actual_revenue=Decimal("17000")))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from d365lab.models.enums import OPPORTUNITY_STATES, OpportunityState, OpportunityStatus
from d365lab.odata import guid
from d365lab.sales.status import require_status, set_state
from d365lab.tables import bind_path
from d365lab.webapi.messages import operation_path
from d365lab.webapi.request import Request, Sender, ignore_answer
from d365lab.webapi.rows import update_row

Amount = Decimal | float | None


def win_request(opportunity_id: str, *, actual_revenue: Amount = None, close_date: date | None = None,
                subject: str | None = None, description: str | None = None,
                status: OpportunityStatus = OpportunityStatus.WON) -> Request[None]:
    """Close as won (WinOpportunity), creating the opportunityclose record."""
    return _close("WinOpportunity", OpportunityState.WON, opportunity_id, status, actual_revenue, close_date,
                  subject or "Opportunity won", description, None)


def lose_request(opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.CANCELED,
                 actual_revenue: Amount = None, close_date: date | None = None, subject: str | None = None,
                 description: str | None = None, competitor_id: str | None = None) -> Request[None]:
    """Close as lost (LoseOpportunity): Canceled or Out-Sold, optionally naming the competitor."""
    return _close("LoseOpportunity", OpportunityState.LOST, opportunity_id, status, actual_revenue, close_date,
                  subject or "Opportunity lost", description, competitor_id)


def reopen_request(opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.IN_PROGRESS) -> Request[None]:
    """Reopen a won or lost opportunity (its close activities become Canceled on the service)."""
    require_status(OPPORTUNITY_STATES, OpportunityState.OPEN, status, table="opportunity")
    return set_state("opportunity", opportunity_id, OpportunityState.OPEN, status)


def _close(action: str, state: OpportunityState, opportunity_id: str, status: OpportunityStatus,
           actual_revenue: Amount, close_date: date | None, subject: str,
           description: str | None, competitor_id: str | None) -> Request[None]:
    require_status(OPPORTUNITY_STATES, state, status, table="opportunity")
    close: dict[str, Any] = {
        "subject": subject,
        "opportunityid@odata.bind": bind_path("opportunity", guid(opportunity_id)),
    }
    if actual_revenue is not None:
        close["actualrevenue"] = actual_revenue
    if close_date is not None:
        close["actualend"] = close_date
    if description:
        close["description"] = description
    if competitor_id:
        close["competitorid@odata.bind"] = bind_path("competitor", competitor_id)
    return Request("POST", operation_path(action, None), ignore_answer,
                   body={"Status": int(status), "OpportunityClose": close}, idempotent=False)


class Opportunities:
    """Verbs on opportunities (each sends one of the requests above through a :class:`Sender`)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def update(self, opportunity_id: str, fields: Mapping[str, Any], *, etag: str | None = None) -> None:
        """Update fields of an opportunity (``If-Match: *``, or the ETag for optimistic concurrency).

        Values may be ``Decimal`` (money), ``date`` (date-only columns), enums (option sets).
        """
        self._sender.send(update_row("opportunity", opportunity_id, fields, etag=etag))

    def win(self, opportunity_id: str, *, actual_revenue: Amount = None, close_date: date | None = None,
            subject: str | None = None, description: str | None = None,
            status: OpportunityStatus = OpportunityStatus.WON) -> None:
        """Close as won (WinOpportunity), creating the opportunityclose record."""
        self._sender.send(win_request(opportunity_id, actual_revenue=actual_revenue, close_date=close_date,
                                      subject=subject, description=description, status=status))

    def lose(self, opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.CANCELED,
             actual_revenue: Amount = None, close_date: date | None = None, subject: str | None = None,
             description: str | None = None, competitor_id: str | None = None) -> None:
        """Close as lost (LoseOpportunity): Canceled or Out-Sold, optionally naming the competitor."""
        self._sender.send(lose_request(opportunity_id, status=status, actual_revenue=actual_revenue,
                                       close_date=close_date, subject=subject, description=description,
                                       competitor_id=competitor_id))

    def reopen(self, opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.IN_PROGRESS) -> None:
        """Reopen a won or lost opportunity (its close activities become Canceled on the service)."""
        self._sender.send(reopen_request(opportunity_id, status=status))
