"""For every task: a student leaves exactly that task undone or wrong (plain Web API calls),
and the checker fails that task, and only that task, with evidence naming the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from d365lab.client import DataverseClient
from d365lab.labs.checker import check_lab
from d365lab.labs.loader import load_lab
from d365lab.labs.results import CheckResult, LabReport
from tests.labs.student import do_lab

LAB = load_lab()


def failed_tasks(report: LabReport) -> set[str]:
    return {t.id for t in report.tasks if t.status == "failed"}


def failing_checks(report: LabReport, task_id: str) -> list[CheckResult]:
    task = next(t for t in report.tasks if t.id == task_id)
    return [c for c in task.checks if c.status == "fail"]


def grade(client: DataverseClient, upto: str | None = None) -> LabReport:
    return check_lab(client, LAB, lang="fr", upto=upto)


def test_student_who_did_everything_passes_but_the_disqualify_is_not_observable(
        lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab()
    report = grade(d365_client)
    assert failed_tasks(report) == set()
    assert report.exit_code == 0
    disqualify = next(t for t in report.tasks if t.id == "ex2.t3")
    # no journal, no audit: never a silent pass
    assert disqualify.status == "not_observable" and disqualify.passed is None and disqualify.points == 0
    assert "non observable" in (disqualify.how_known or "")
    assert "lab prepare" in (disqualify.how_to_observe or "") and "--watch" in (disqualify.how_to_observe or "")
    # not a failure: left out of the maximum, and the exit code stays 0
    assert report.score == report.max_score == 14 and report.not_observable == ["ex2.t3"]


def test_disqualify_is_graded_right_after_the_task(lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab(stop_after="ex2.t3")
    report = grade(d365_client, upto="ex2.t3")
    assert [t.status for t in report.tasks] == ["passed"] * 4
    assert report.exit_code == 0 and report.score == report.max_score


# task -> (variant, the check that must name the problem, what it must show)
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ex1.t1": ("wrong", "c12", {"field": "lastname", "actual": "Smith", "expected": "Rogers"}),
    "ex2.t1": ("skip", "c01", {"record": "lead_a", "field": "statecode", "actual": 0, "expected": 1}),
    "ex2.t2": ("wrong", "c03", {"record": "account_doe"}),
    "ex2.t4": ("skip", "c01", {"record": "lead_c", "field": "statecode", "actual": 2, "expected": 0}),
    "ex3.t1.a": ("skip", "c01", {"record": "opp_b", "field": "budgetamount", "actual": None, "expected": 17000}),
    "ex3.t1.b": ("wrong", "c04", {"record": "call_jon", "field": "scheduledend"}),
    "ex3.t1.c": ("skip", "c01", {"record": "opp_b", "field": "customerneed", "actual": None}),
    "ex3.t1.d": ("skip", "c01", {"record": "opp_b", "field": "identifypursuitteam", "expected": True}),
    "ex3.t1.e": ("skip", "c01", {"record": "call_jon", "field": "statecode", "actual": 0, "expected": 1}),
    "ex3.t1.f": ("skip", "c08", {"record": "bpf_b", "field": "statecode", "actual": 0, "expected": 1}),
    "ex3.t1.g": ("skip", "c01", {"record": "opp_b", "field": "statecode", "actual": 0, "expected": 1}),
}


@pytest.mark.parametrize("task_id", list(CASES))
def test_exactly_the_task_left_undone_fails(task_id: str, lab_env: Path, d365_client: DataverseClient) -> None:
    variant, check_id, evidence = CASES[task_id]
    do_lab({task_id: variant})
    report = grade(d365_client)
    assert failed_tasks(report) == {task_id}
    assert report.exit_code == 1
    failing = {c.id: c for c in failing_checks(report, task_id)}
    assert check_id in failing, sorted(failing)
    check = failing[check_id]
    for key, value in evidence.items():
        assert getattr(check, key) == value, (key, check)
    assert check.hint, "a failed check tells the student what to fix"
    assert check.expected != check.actual or check.message, "the evidence shows what differs"
    task = next(t for t in report.tasks if t.id == task_id)
    assert task.hint and task.points < task.max_points


def test_wrong_phone_call_time_names_the_local_time(lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab({"ex3.t1.b": "wrong"})
    check = {c.id: c for c in failing_checks(grade(d365_client), "ex3.t1.b")}["c04"]
    assert "16:30 Europe/Paris" in (check.expected_label or "")
    assert "17:30 Europe/Paris" in (check.actual_label or "")


def test_disqualify_undone_fails_only_that_task_when_checked_upto_it(
        lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab({"ex2.t3": "skip"}, stop_after="ex2.t3")
    report = grade(d365_client, upto="ex2.t3")
    assert failed_tasks(report) == {"ex2.t3"}
    check = {c.id: c for c in failing_checks(report, "ex2.t3")}["c01"]
    assert (check.record, check.field, check.expected, check.actual) == ("lead_c", "statecode", 2, 0)


def test_disqualify_with_the_wrong_reason_names_the_reason(lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab({"ex2.t3": "wrong"}, stop_after="ex2.t3")
    report = grade(d365_client, upto="ex2.t3")
    assert failed_tasks(report) == {"ex2.t3"}
    [check] = failing_checks(report, "ex2.t3")
    assert (check.field, check.expected, check.actual) == ("statuscode", 6, 4)
    assert check.expected_label == "Plus intéressé" and check.actual_label == "Perdu"


def test_reactivation_left_undone_makes_the_disqualify_observable(
        lab_env: Path, d365_client: DataverseClient) -> None:
    do_lab({"ex2.t4": "skip"})
    disqualify = next(t for t in grade(d365_client).tasks if t.id == "ex2.t3")
    assert disqualify.status == "passed"


def test_a_topic_typed_slightly_differently_is_still_found_and_noted(
        lab_env: Path, d365_client: DataverseClient) -> None:
    from tests.labs.student import Browser

    ids = do_lab()
    Browser().patch(f"leads({ids['lead_a']})", {"subject": "prospect machine à café  sans société."})
    report = grade(d365_client)
    assert failed_tasks(report) == set()
    assert "correspondance approchée" in report.records["lead_a"].how  # "lenient match" in French
    subject = next(c for c in report.tasks[0].checks if c.id == "c01")
    assert subject.passed and subject.inexact and "texte exact" in subject.message
