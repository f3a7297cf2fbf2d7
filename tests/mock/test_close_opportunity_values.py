"""WinOpportunity / LoseOpportunity check the OpportunityClose values like any other write.

The codec no longer type-checks (the tenant does, on every write); the close handler reads
``actualend`` before anything is written, so a value of the wrong type must still be refused
there rather than taken for "no date" (today).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]


@pytest.mark.parametrize("message", ["WinOpportunity", "LoseOpportunity"])
@pytest.mark.parametrize("actualend", ["", 0, False, []])
def test_a_close_date_of_the_wrong_type_is_refused(api: ServiceRootSession, create: Create, message: str,
                                                     actualend: Any) -> None:
    opportunity = create("opportunities", {"name": "Coffee machines", "estimatedvalue": 25000})
    response = api.post(message, json={"Status": 3 if message == "WinOpportunity" else 4, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})", "actualend": actualend}})
    assert response.status_code == 400, response.text
    assert "Edm.Date" in response.json()["error"]["message"]
    row = api.get(f"opportunities({opportunity})?$select=statecode").json()
    assert row["statecode"] == 0  # still open: nothing was written
