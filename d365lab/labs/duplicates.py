"""Several leads with a lab topic and no run journal to decide: pick the one the work hangs on.

A student who saves a lead form twice, or adds a lead after the lab, leaves two leads with
one topic. The newest is then often the empty duplicate, while the qualified lead carries
the contact, the opportunity and all of exercise 3. So each candidate is tried in turn
(with everything found through it found again) and the one under which the most checks
pass is kept; ties go to the newest, then the smallest id, so the choice is deterministic.
The evidence names every candidate and why the chosen one won.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from d365lab.labs.locate import Locator
from d365lab.labs.snapshot import Row, Snapshot
from d365lab.labs.wording import say
from d365lab.models.schema import table

FORMATTED = "@OData.Community.Display.V1.FormattedValue"


@dataclass
class _Trial:
    row: Row
    record_id: str
    passing: int
    snapshot: Snapshot


def prefer_best_fit(locator: Locator, snapshot: Snapshot, passing_checks: Callable[[Snapshot], int]) -> Snapshot:
    """The snapshot where each ambiguous record is the candidate with the most passing checks.

    ``passing_checks`` grades a whole snapshot (the checks of the tasks being graded).
    """
    for alias in sorted(snapshot.ambiguous):
        candidates = snapshot.ambiguous[alias]
        pk = table(snapshot.records[alias].entity).primary_id
        trials = []
        for row in candidates:
            trial = locator.relocate(snapshot, alias, row)
            trials.append(_Trial(row, str(row[pk]).lower(), passing_checks(trial), trial))
        # most checks passing, then the newest, then the smallest id
        trials.sort(key=lambda t: t.record_id)
        trials.sort(key=lambda t: str(t.row.get("createdon") or ""), reverse=True)
        trials.sort(key=lambda t: t.passing, reverse=True)
        best = trials[0]
        snapshot = best.snapshot
        located = snapshot.records[alias]
        base = located.how.split("; ", 1)[0]
        located.how = f"{base}; {_why(trials, locator.lang)}"
        located.candidates = len(trials)
    return snapshot


def _why(trials: list[_Trial], lang: str) -> str:
    best, others = trials[0], trials[1:]
    tied = [t for t in others if t.passing == best.passing]
    listed = ", ".join(say(lang, "dup_candidate", id=t.record_id, state=_state(t.row), passing=t.passing)
                       for t in trials)
    return say(lang, "dup_tied" if tied else "dup_best", count=len(trials), listed=listed, chosen=best.record_id)


def _state(row: Row) -> str:
    label = row.get("statecode" + FORMATTED)
    if isinstance(label, str):
        return label.lower()
    return f"state {row.get('statecode')}"
