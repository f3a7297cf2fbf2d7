"""The evaluation engine over plain row dicts: relative dates, lenient text, superseded states."""

from __future__ import annotations

from datetime import date

from d365lab.labs.checker import grade_task
from d365lab.labs.evaluate import EvalContext, evaluate_check
from d365lab.labs.loader import load_lab
from d365lab.labs.snapshot import LocatedRecord, Snapshot
from d365lab.labs.values import same_value
from d365lab.models.schema import STAGE_IDS

LAB = load_lab()
TASKS = {t.id: t for t in LAB.tasks}


def snapshot(**rows: dict[str, object]) -> Snapshot:
    records = {alias: LocatedRecord(alias, rec.entity) for alias, rec in LAB.records.items()}
    for alias, row in rows.items():
        records[alias].row = dict(row)
        records[alias].id = f"00000000-0000-0000-0000-{len(alias):012d}"
        records[alias].how = "test"
    return Snapshot(records=records, stage_ids=dict(STAGE_IDS))


def ctx(snap: Snapshot, step_days: dict[str, date] | None = None, lang: str = "fr") -> EvalContext:
    return EvalContext(lab=LAB, lang=lang, prefix="", tz="Europe/Paris", snapshot=snap,  # type: ignore[arg-type]
                       step_days=step_days or {})


def check(task_id: str, check_id: str):  # type: ignore[no-untyped-def]
    return next(c for c in TASKS[task_id].expect if c.id == check_id)


def test_tomorrow_is_judged_against_the_day_of_the_step_not_the_graders_clock() -> None:
    # the call was created on 10 March 2025 at 23:30 UTC, i.e. 11 March in Paris
    snap = snapshot(opp_b={"estimatedclosedate": "2025-03-12"}, call_jon={"createdon": "2025-03-10T23:30:00Z"})
    result = evaluate_check(ctx(snap), TASKS["ex3.t1.a"], check("ex3.t1.a", "c05"))
    assert result.passed and result.expected == "2025-03-12"
    assert "call_jon.createdon : 2025-03-11" in result.message  # the step day, not the expected day
    assert "attendu 2025-03-12" in result.message


def test_the_journal_day_wins_over_record_timestamps() -> None:
    snap = snapshot(opp_b={"estimatedclosedate": "2025-03-12"}, call_jon={"createdon": "2025-06-01T10:00:00Z"})
    journal_days = {"ex3.t1.a": date(2025, 3, 11)}
    result = evaluate_check(ctx(snap, journal_days), TASKS["ex3.t1.a"], check("ex3.t1.a", "c05"))
    assert result.passed and "journal d'exécution : 2025-03-11" in result.message  # the step day


def test_phone_call_due_1630_local_time_to_the_minute() -> None:
    # 16:30 in Paris on 11 March 2025 (UTC+1) is 15:30 UTC
    good = snapshot(call_jon={"createdon": "2025-03-11T08:00:00Z", "scheduledend": "2025-03-11T15:30:00Z"})
    bad = snapshot(call_jon={"createdon": "2025-03-11T08:00:00Z", "scheduledend": "2025-03-11T16:30:00Z"})
    spec = check("ex3.t1.b", "c04")
    assert evaluate_check(ctx(good), TASKS["ex3.t1.b"], spec).passed
    failed = evaluate_check(ctx(bad), TASKS["ex3.t1.b"], spec)
    assert not failed.passed and failed.actual_label == "2025-03-11 17:30 Europe/Paris"
    assert failed.hint and "Délai" in failed.hint


def test_text_is_compared_leniently_and_the_difference_is_noted() -> None:
    assert same_value("premier appel de Jon", "  Premier appel de  Jon. ")
    assert not same_value("Rogers", "Smith")
    assert same_value(17000, 17000.0) and not same_value(True, 1) and not same_value(0, False)
    snap = snapshot(call_jon={"subject": "premier appel de Jon."})
    result = evaluate_check(ctx(snap), TASKS["ex3.t1.b"], check("ex3.t1.b", "c02"))
    assert result.passed and result.inexact and "texte exact" in result.message  # a French context


def test_truncated_english_description_is_accepted_as_a_prefix() -> None:
    snap = snapshot(opp_b={"description": "Looking to upgrade their current coffee machines at multiple"})
    result = evaluate_check(ctx(snap, lang="en"), TASKS["ex3.t1.a"], check("ex3.t1.a", "c04"))
    assert result.passed and "starts with" in result.message


def test_a_missing_record_fails_with_a_hint_in_the_lab_language() -> None:
    result = evaluate_check(ctx(snapshot()), TASKS["ex2.t1"], check("ex2.t1", "c03"))
    assert not result.passed and result.status == "fail"
    assert result.hint and "introuvable" in result.hint


def test_a_state_changed_by_a_later_task_is_not_counted_against_the_student() -> None:
    lead = {"subject": "x", "firstname": "Jane", "lastname": "Doe", "statecode": 1, "statuscode": 3}
    snap = snapshot(lead_a=lead)
    result = grade_task(ctx(snap), LAB, TASKS["ex1.t1"], "ex3.t1.g", None)
    superseded = {c.id for c in result.checks if c.status == "superseded"}
    assert superseded == {"c14a", "c15a"}


def test_transient_task_without_evidence_is_not_observable_never_passed() -> None:
    snap = snapshot(lead_c={"statecode": 0, "statuscode": 1})
    result = grade_task(ctx(snap), LAB, TASKS["ex2.t3"], "ex3.t1.g", None)
    assert result.status == "not_observable" and not result.passed and result.points == 0
    assert result.hint and "--upto ex2.t3" in result.hint
    assert {c.status for c in result.checks} == {"not_observable"}
