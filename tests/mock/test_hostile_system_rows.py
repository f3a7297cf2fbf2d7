"""System rows cannot be deleted, and a tenant that lost one gets it back at start (issue 11).

Deleting the Lead-to-Opportunity process used to answer 204 and make every later lead
create a 404, even after a restart; likewise the base currency, the organization, the
business unit, the process stages and the calling user.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from d365lab.mock.app import create_app
from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.seed import BUSINESS_UNIT_ID, ORGANIZATION_ID, USD_CURRENCY_ID, USER_ID
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS
from tests.mock.hostile_support import assert_client_error, send

SYSTEM_ROWS = [
    ("workflows", LEAD_TO_OPPORTUNITY_PROCESS_ID, "system process"),
    ("processstages", STAGE_IDS["Develop"], "stages of a system process"),
    ("transactioncurrencies", USD_CURRENCY_ID, "base currency"),
    ("organizations", ORGANIZATION_ID, "does not support entities of type 'organization'"),
    ("businessunits", BUSINESS_UNIT_ID, "root business unit"),
    ("systemusers", USER_ID, "calling user cannot be deleted"),
]


@pytest.mark.parametrize(("entity_set", "record_id", "reason"), SYSTEM_ROWS)
def test_system_rows_cannot_be_deleted(api: ServiceRootSession, create: Callable[[str, dict[str, Any]], str],
                                       entity_set: str, record_id: str, reason: str) -> None:
    refused = api.delete(f"{entity_set}({record_id})")
    assert refused.status_code == 400, refused.text
    assert reason in refused.json()["error"]["message"]
    assert api.get(f"{entity_set}({record_id})").status_code == 200
    create("leads", {"subject": "still works", "lastname": "L"})
    assert api.get("WhoAmI").json()["UserId"] == USER_ID


def test_bulk_delete_cannot_remove_system_rows(api: ServiceRootSession) -> None:
    query = {"EntityName": "workflow", "Criteria": {"Conditions": [
        {"AttributeName": "workflowid", "Operator": "Equal", "Values": [LEAD_TO_OPPORTUNITY_PROCESS_ID]}]}}
    answer = api.post("BulkDelete", json={"QuerySet": [query], "JobName": "x"})
    assert answer.status_code == 400 and "system process" in answer.json()["error"]["message"]
    assert api.get(f"workflows({LEAD_TO_OPPORTUNITY_PROCESS_ID})").status_code == 200


def test_ordinary_rows_of_the_same_tables_can_still_be_deleted(api: ServiceRootSession,
                                                               create: Callable[[str, dict[str, Any]], str]) -> None:
    currency = create("transactioncurrencies", {"currencyname": "Euro", "isocurrencycode": "EUR",
                                                "currencysymbol": "€", "exchangerate": 0.9, "currencyprecision": 2})
    assert api.delete(f"transactioncurrencies({currency})").status_code == 204


def test_missing_system_rows_are_restored_at_start(tmp_path: Path) -> None:
    path = tmp_path / "tenant.sqlite"
    create_app(str(path)).close()
    with sqlite3.connect(path) as db:  # what an older mock let a client do
        db.execute("DELETE FROM workflow")
        db.execute("DELETE FROM processstage")
        db.execute("DELETE FROM transactioncurrency")
    app = create_app(str(path))
    try:
        created = send(app, "POST", "leads", body=b'{"subject":"after restart","lastname":"L"}')
        assert created.status_code == 204, created.body
        stages = send(app, "GET", "processstages", query="$select=stagename")
        assert sorted(r["stagename"] for r in json.loads(stages.body)["value"]) == sorted(STAGE_IDS)
        assert send(app, "GET", f"transactioncurrencies({USD_CURRENCY_ID})").status_code == 200
        assert_client_error(send(app, "DELETE", f"workflows({LEAD_TO_OPPORTUNITY_PROCESS_ID})"))
    finally:
        app.close()
