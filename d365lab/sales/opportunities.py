"""Opportunity verbs: update, win, lose, reopen.

>>> client.opportunities.update(opp_id, {"budgetamount": Decimal("17000")})         # doctest: +SKIP
>>> client.opportunities.win(opp_id, actual_revenue=Decimal("17000"), close_date=date(2026, 3, 31))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from d365lab.models.enums import OPPORTUNITY_STATES, OpportunityState, OpportunityStatus
from d365lab.odata import guid
from d365lab.sales.status import require_status

if TYPE_CHECKING:
    from d365lab.client import DataverseClient


class Opportunities:
    """Verbs on opportunities."""

    def __init__(self, client: DataverseClient) -> None:
        self._client = client

    def update(self, opportunity_id: str, fields: Mapping[str, Any], *, etag: str | None = None) -> None:
        """Update fields of an opportunity (``If-Match: *``, or the ETag for optimistic concurrency).

        Values may be ``Decimal`` (money), ``date`` (date-only columns), enums (option sets).
        """
        self._client.records.update("opportunity", opportunity_id, fields, etag=etag)

    def win(self, opportunity_id: str, *, actual_revenue: Decimal | float | None = None,
            close_date: date | None = None, subject: str | None = None, description: str | None = None,
            status: OpportunityStatus = OpportunityStatus.WON) -> None:
        """Close as won (WinOpportunity), creating the opportunityclose record."""
        self._close("WinOpportunity", OpportunityState.WON, opportunity_id, status, actual_revenue, close_date,
                    subject or "Opportunity won", description, None)

    def lose(self, opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.CANCELED,
             actual_revenue: Decimal | float | None = None, close_date: date | None = None,
             subject: str | None = None, description: str | None = None,
             competitor_id: str | None = None) -> None:
        """Close as lost (LoseOpportunity): Canceled or Out-Sold, optionally naming the competitor."""
        self._close("LoseOpportunity", OpportunityState.LOST, opportunity_id, status, actual_revenue, close_date,
                    subject or "Opportunity lost", description, competitor_id)

    def reopen(self, opportunity_id: str, *, status: OpportunityStatus = OpportunityStatus.IN_PROGRESS) -> None:
        """Reopen a won or lost opportunity (its close activities become Canceled on the service)."""
        require_status(OPPORTUNITY_STATES, OpportunityState.OPEN, status, table="opportunity")
        self._client.records.update("opportunity", opportunity_id,
                                    {"statecode": int(OpportunityState.OPEN), "statuscode": int(status)})

    def _close(self, action: str, state: OpportunityState, opportunity_id: str, status: OpportunityStatus,
               actual_revenue: Decimal | float | None, close_date: date | None, subject: str,
               description: str | None, competitor_id: str | None) -> None:
        require_status(OPPORTUNITY_STATES, state, status, table="opportunity")
        close: dict[str, Any] = {
            "subject": subject,
            "opportunityid@odata.bind": self._client.bind("opportunity", guid(opportunity_id)),
        }
        if actual_revenue is not None:
            close["actualrevenue"] = actual_revenue
        if close_date is not None:
            close["actualend"] = close_date
        if description:
            close["description"] = description
        if competitor_id:
            close["competitorid@odata.bind"] = self._client.bind("competitor", competitor_id)
        self._client.actions.call(action, {"Status": int(status), "OpportunityClose": close})
