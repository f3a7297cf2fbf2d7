"""The runner and checker hold on tenants that behave differently where the Web API facts are
UNVERIFIED (mock settings): no process flow created for API leads, qualification that does not
move the flow, closing that finishes it, closed records that refuse updates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.labs.checker import check_lab
from d365lab.labs.loader import load_lab
from d365lab.labs.runner import run_lab
from d365lab.mock.app import create_app
from d365lab.mock.inprocess import route_requests
from d365lab.mock.settings import MockSettings

BASE = "https://variant.d365lab.test"
VARIANTS = {
    "no-auto-flow": {"auto_create_process_flow": False},
    "qualify-keeps-stage": {"qualify_advances_process_flow": False},
    "close-finishes-flow": {"close_finishes_process_flow": True},
    "closed-records-read-only": {"closed_record_updates": "reject"},
    "strict-activity-create": {"activity_state_on_create": "reject"},
}


@pytest.fixture(params=list(VARIANTS))
def variant_client(request: pytest.FixtureRequest, lab_env: Path) -> Iterator[DataverseClient]:
    app = create_app(":memory:", settings=MockSettings(**VARIANTS[request.param]))
    with route_requests(app, base_url=BASE), DataverseClient(BASE, StaticTokenProvider("t")) as client:
        yield client


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_full_marks_and_idempotent_rerun_on_every_variant(variant_client: DataverseClient, lang: str) -> None:
    lab = load_lab()
    run_lab(variant_client, lab, lang=lang)  # type: ignore[arg-type]
    report = check_lab(variant_client, lab, lang=lang)  # type: ignore[arg-type]
    assert [t.id for t in report.tasks if not t.passed] == []
    assert report.score == report.max_score
    again = run_lab(variant_client, lab, lang=lang)  # type: ignore[arg-type]
    assert again.performed == 0
