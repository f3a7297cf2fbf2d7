"""A student who did the lab by hand (plain Web API calls, no run journal), graded from the tenant's audit.

The disqualify of ex2.t3 is undone by ex2.t4: only the audit table still shows it. Every
documented variant of what a lead state change records is accepted; each single mistake
fails exactly its task; without audit the task is not observable, never a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from d365lab.auth import StaticTokenProvider
from d365lab.client import DataverseClient
from d365lab.labs.checker import check_lab
from d365lab.labs.loader import load_lab
from d365lab.labs.prepare import prepare_tenant
from d365lab.labs.results import LabReport
from d365lab.mock.app import create_app
from d365lab.mock.inprocess import route_requests
from d365lab.mock.platform_settings import AuditSettings
from d365lab.mock.settings import MockSettings
from tests.labs.student import IN_PROCESS_ROOT, IN_PROCESS_TOKEN, do_lab
from tests.labs.test_student_tasks import CASES

LAB = load_lab()
BASE = IN_PROCESS_ROOT.split("/api/")[0]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def _without(operation: str, app: WsgiApp) -> WsgiApp:
    """A tenant that does not offer ``operation`` (404 in Dataverse's error envelope)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if operation in environ.get("PATH_INFO", ""):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error":{"code":"0x8006088a","message":"Resource not found for the segment."}}']
        return app(environ, start_response)

    return wrapped


def _denying(method: str, fragment: str, app: WsgiApp) -> WsgiApp:
    """A tenant where the caller lacks the privilege for ``method`` on URLs holding ``fragment`` (403)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == method and fragment in environ.get("PATH_INFO", ""):
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            return [b'{"error":{"code":"0x80040220","message":"Principal user is missing prvWriteOrganization."}}']
        return app(environ, start_response)

    return wrapped


@pytest.fixture
def tenant(request: pytest.FixtureRequest) -> Iterator[DataverseClient]:
    """An in-process tenant; ``request.param``: audit settings, and operations the tenant lacks."""
    options: dict[str, Any] = dict(getattr(request, "param", {}))
    missing: list[str] = options.pop("missing", [])
    denied: list[tuple[str, str]] = options.pop("denied", [])
    app: Any = create_app(":memory:", MockSettings(audit=AuditSettings(**options)))
    served: Any = app
    for operation in missing:
        served = _without(operation, served)
    for method, fragment in denied:
        served = _denying(method, fragment, served)
    try:
        with route_requests(served, base_url=BASE):
            with DataverseClient(BASE, StaticTokenProvider(IN_PROCESS_TOKEN), tenant_label="mock (in-process)") as c:
                yield c
    finally:
        app.close()


def grade(client: DataverseClient, **options: Any) -> LabReport:
    return check_lab(client, LAB, lang="fr", use_journal=False, **options)


def task(report: LabReport, task_id: str) -> Any:
    return next(t for t in report.tasks if t.id == task_id)


ACTIONS = ["set_state", "update", "activate_deactivate", "named"]


@pytest.mark.parametrize("tenant", [{"state_change_action": a} for a in ACTIONS], indirect=True, ids=ACTIONS)
def test_the_perfect_student_gets_full_marks_from_audit_whatever_action_is_recorded(
        tenant: DataverseClient) -> None:
    assert prepare_tenant(tenant, LAB, "fr").gradable
    do_lab()
    report = grade(tenant)
    assert (report.score, report.max_score, report.exit_code, report.not_observable) == (15, 15, 0, [])
    disqualify = task(report, "ex2.t3")
    assert disqualify.status == "passed" and disqualify.proven_by == "audit"
    # the evidence names the audit row(s) that show the lead disqualified
    assert disqualify.evidence_refs and all(ref in (disqualify.how_known or "") for ref in disqualify.evidence_refs)
    assert "statuscode 1→6" in (disqualify.how_known or "")
    reactivate = task(report, "ex2.t4")
    assert all(c.status == "pass" for c in reactivate.checks)  # the disqualify is known: no warning left


@pytest.mark.parametrize("tenant", [{"missing": ["RetrieveAuditDetails"]}], indirect=True)
def test_without_the_details_function_the_values_come_from_changedata(tenant: DataverseClient) -> None:
    prepare_tenant(tenant, LAB, "fr")
    do_lab()
    disqualify = task(grade(tenant), "ex2.t3")
    assert disqualify.status == "passed" and disqualify.proven_by == "audit"


@pytest.mark.parametrize("tenant", [{"missing": ["RetrieveAuditDetails"], "changedata_selectable": False}],
                         indirect=True)
def test_audit_rows_whose_values_cannot_be_read_leave_the_task_not_observable(tenant: DataverseClient) -> None:
    prepare_tenant(tenant, LAB, "fr")
    do_lab()
    report = grade(tenant)
    disqualify = task(report, "ex2.t3")
    assert disqualify.status == "not_observable" and disqualify.passed is None
    assert "illisibles" in (disqualify.how_known or "")  # "their old and new values cannot be read"
    assert report.exit_code == 0 and report.max_score == 14


MISTAKES = {**CASES, "ex2.t3 skipped": ("skip", "c01", {}), "ex2.t3 wrong reason": ("wrong", "c02", {})}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_each_single_mistake_fails_exactly_that_task_on_an_audited_tenant(case: str,
                                                                         tenant: DataverseClient) -> None:
    prepare_tenant(tenant, LAB, "fr")
    task_id = case.split()[0]
    variant, check_id, _evidence = MISTAKES[case]
    do_lab({task_id: variant})
    report = grade(tenant)
    assert {t.id for t in report.tasks if t.status == "failed"} == {task_id}
    assert report.exit_code == 1 and report.not_observable == []
    failing = {c.id for c in task(report, task_id).checks if c.status == "fail"}
    assert check_id in failing


def test_a_disqualify_with_the_wrong_reason_is_shown_from_the_audit_rows(tenant: DataverseClient) -> None:
    prepare_tenant(tenant, LAB, "fr")
    do_lab({"ex2.t3": "wrong"})
    disqualify = task(grade(tenant), "ex2.t3")
    assert disqualify.status == "failed" and disqualify.proven_by == "audit"
    assert "n'a jamais eu statecode 2, statuscode 6" in (disqualify.how_known or "")
    assert "statuscode 1→4" in (disqualify.how_known or "")  # what the student did instead
    assert disqualify.hint and "Plus intéressé" in disqualify.hint


def test_without_auditing_the_disqualify_is_not_observable_and_says_how_to_make_it_so(
        tenant: DataverseClient) -> None:
    do_lab()
    report = grade(tenant)
    disqualify = task(report, "ex2.t3")
    assert (disqualify.status, disqualify.passed, disqualify.points) == ("not_observable", None, 0)
    assert "l'audit est désactivé pour cet environnement" in (disqualify.how_known or "")
    assert "d365lab lab prepare" in (disqualify.how_to_observe or "")
    assert "--watch" in (disqualify.how_to_observe or "")
    assert (report.score, report.max_score, report.exit_code) == (14, 14, 0)
    strict = grade(tenant, require_observable=True)
    assert (strict.score, strict.max_score, strict.exit_code, strict.passed) == (14, 15, 1, False)


def test_auditing_switched_on_after_the_student_worked_cannot_prove_it(tenant: DataverseClient) -> None:
    do_lab()
    prepare_tenant(tenant, LAB, "fr")
    disqualify = task(grade(tenant), "ex2.t3")
    assert disqualify.status == "not_observable"
    assert "aucune ligne d'audit n'enregistre lead_c" in (disqualify.how_known or "")


@pytest.mark.parametrize("tenant", [{"denied": [("PATCH", "organizations"), ("GET", "audits")]}], indirect=True)
def test_prepare_says_what_it_could_not_change_and_exits_2(tenant: DataverseClient) -> None:
    result = prepare_tenant(tenant, LAB, "en")
    assert not result.gradable and result.exit_code == 2
    failed = [line.text for line in result.lines if line.status == "failed"]
    assert any(t.startswith("auditing (environment): could not switch it on") and "prvWriteOrganization" in t
               for t in failed)
    assert any(t.startswith("reading the audit table: denied") for t in failed)
    assert failed[-1].startswith("the tenant cannot be made gradable") and "ex2.t3" in failed[-1]
    switched = [line.text for line in result.lines if line.status == "changed"]
    assert "auditing of table phonecall: switched on" in switched  # what it could change, it did


def test_the_zone_is_the_record_owners_not_the_grading_users(tenant: DataverseClient) -> None:
    """A teacher in Paris grades a student in Los Angeles: the student owns the records."""
    from tests.labs.student import Browser

    browser = Browser()
    student = tenant.records.create("systemusers", {"firstname": "Sam", "lastname": "Student"})
    browser.patch(f"usersettingscollection({student})", {"timezonecode": 4})  # the student's Personal Options
    ids = do_lab(zone="America/Los_Angeles")
    for alias in ("lead_a", "lead_b", "lead_c"):  # the student's own leads (assigned to them)
        browser.patch(f"leads({ids[alias]})", {"ownerid@odata.bind": f"/systemusers({student})"})
    report = grade(tenant)
    assert report.time_zone == "America/Los_Angeles"
    assert student in (report.time_zone_source or "") and "propriétaire" in (report.time_zone_source or "")
    assert not [t.id for t in report.tasks if t.status == "failed"]
