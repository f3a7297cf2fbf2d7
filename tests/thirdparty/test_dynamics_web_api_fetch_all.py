"""The unmodified npm ``dynamics-web-api`` reading FetchXML pages and aggregates from the mock.

``fetchAll`` (as its README calls it, asking for no annotation) follows the
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` the mock returns; ``fetch`` reads a
FetchXML aggregate. Skipped (with the reason) when node or ``js/node_modules`` is missing.
"""

from __future__ import annotations

from pathlib import Path

from test_dynamics_web_api import JS_DIR, run_node
from test_dynamics_web_api import pytestmark as js_marks
from thirdparty_mock import MockEndpoint

pytestmark = js_marks  # thirdparty, and skipped without node or js/node_modules
SCRIPT = Path(JS_DIR) / "fetch_all.js"


def test_fetch_all_pages_through_with_the_paging_cookie(mock_endpoint: MockEndpoint) -> None:
    out = run_node(mock_endpoint, [str(SCRIPT), "fetch_all"])
    assert out["subjects"] == [f"JS page {n:02d}" for n in range(11, -1, -1)]
    paging = out["firstPaging"]
    assert paging["nextPage"] == 2 and "subject" in paging["cookie"]


def test_fetch_aggregate(mock_endpoint: MockEndpoint) -> None:
    out = run_node(mock_endpoint, [str(SCRIPT), "aggregate"])
    assert out["rows"] == [{"city": "Dallas", "n": 1, "total": 70}, {"city": "Redmond", "n": 2, "total": 800}]
