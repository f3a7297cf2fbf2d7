"""History sources: proving a state the tenant no longer shows ("did X, then undid it").

A lab task such as ex2.t3 (disqualify a lead) is undone by a later task (ex2.t4,
reactivate it): at the end of the lab the tenant looks exactly as if it never happened.
The checker asks an ordered list of *history sources* whether the record ever held the
task's values:

1. ``audit``: the tenant's own audit table (:mod:`d365lab.labs.audit_history`);
2. ``run journal``: the local journal of a ``lab run`` that did the task;
3. anything registered later with :func:`register_history_source` (the watch journal of
   ``lab check --watch`` plugs in here).

Each source answers ``seen`` (with evidence), ``never`` (it watched the record and the
state never happened) or ``unknown`` (it cannot tell, with the reason). The first ``seen``
wins; otherwise a ``never`` fails the task; otherwise the task is *not observable*.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient
    from d365lab.labs.run_journal import Journal

Verdict = Literal["seen", "never", "unknown"]


@dataclass(frozen=True)
class HistoryQuestion:
    """Did ``entity`` ``record_id`` (the lab's ``alias``) ever hold all of ``wanted`` at once?"""

    task_id: str
    alias: str
    entity: str
    record_id: str
    #: column -> the value the task set (the expected values of its superseded checks)
    wanted: dict[str, Any]
    #: the later task(s) that undid the state
    later: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryAnswer:
    """One source's answer, with the evidence a person can follow (in the lab language)."""

    verdict: Verdict
    source: str
    detail: str
    #: the source's own references: audit row ids, journal entries...
    refs: tuple[str, ...] = ()
    #: what would let this source see the task, when it could not (``unknown``)
    remedy: str | None = None
    #: a fuller ``unknown`` answer that costs more requests (why the source could not see),
    #: fetched only when no other source sees the task either
    explain: Callable[[], HistoryAnswer] | None = field(default=None, compare=False, repr=False)


class HistorySource(Protocol):
    """Something that can tell whether a record went through a state."""

    name: str

    def answer(self, question: HistoryQuestion, lang: Language) -> HistoryAnswer:
        """``seen`` / ``never`` / ``unknown`` for ``question``; never raises for a tenant that cannot say."""
        ...


@dataclass
class HistoryScope:
    """What a source factory may use to build its source for one check."""

    client: DataverseClient
    lab: LabSpec
    lang: Language
    prefix: str
    organization_id: str
    journal: Journal | None = None
    #: free slots for sources that need more (e.g. a watch journal path)
    extras: dict[str, Any] = field(default_factory=dict)


SourceFactory = Callable[[HistoryScope], "HistorySource | None"]


@dataclass
class _Registered:
    name: str
    factory: SourceFactory


_REGISTRY: list[_Registered] = []


def register_history_source(name: str, factory: SourceFactory, *, after: str | None = None) -> None:
    """Add (or replace) a history source; it is asked after ``after`` (default: last).

    ``factory(scope)`` returns the source for one check, or ``None`` when it has nothing
    for this scope (no watch journal, for instance).
    """
    existing = next((r for r in _REGISTRY if r.name == name), None)
    if existing is not None:
        _REGISTRY.remove(existing)
    entry = _Registered(name, factory)
    if after is None:
        _REGISTRY.append(entry)
        return
    position = next((i for i, r in enumerate(_REGISTRY) if r.name == after), len(_REGISTRY) - 1)
    _REGISTRY.insert(position + 1, entry)


def registered_source_names() -> list[str]:
    """The names of the registered sources, in the order they are asked."""
    return [r.name for r in _REGISTRY]


def history_sources(scope: HistoryScope) -> list[HistorySource]:
    """The sources for one check, in order (a factory returning ``None`` is left out)."""
    built = (r.factory(scope) for r in _REGISTRY)
    return [source for source in built if source is not None]


@dataclass
class HistoryVerdict:
    """What all the sources together say about one question."""

    verdict: Verdict
    #: the answer that decided (``seen`` or ``never``), if any
    deciding: HistoryAnswer | None
    answers: list[HistoryAnswer]

    @property
    def remedies(self) -> list[str]:
        """What would make the task observable, one per source that could not see it."""
        return [a.remedy for a in self.answers if a.verdict == "unknown" and a.remedy]


def ask_history(sources: Sequence[HistorySource], question: HistoryQuestion, lang: Language) -> HistoryVerdict:
    """Ask every source in order: the first ``seen`` wins, else a ``never`` decides, else ``unknown``."""
    answers: list[HistoryAnswer] = []
    for source in sources:
        found = source.answer(question, lang)
        answers.append(found)
        if found.verdict == "seen":
            return HistoryVerdict("seen", found, answers)
    never = next((a for a in answers if a.verdict == "never"), None)
    if never is None:  # nobody saw it: now it is worth asking each source why
        answers = [a.explain() if a.explain is not None else a for a in answers]
    return HistoryVerdict("never" if never else "unknown", never, answers)


# ------------------------------------------------------------------ built-in sources
class RunJournalHistory:
    """The run journal of this machine: a task the runner did is proven by its entry."""

    name = "run journal"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def answer(self, question: HistoryQuestion, lang: Language) -> HistoryAnswer:
        """``seen`` when the journal records the task done; it never says ``never`` (a student may do it by hand)."""
        done = self.journal.data.tasks.get(question.task_id)
        if done is None:
            return HistoryAnswer("unknown", self.name, say(lang, "journal_has_no_task", task=question.task_id))
        return HistoryAnswer("seen", self.name, say(lang, "known_from_journal", later=", ".join(question.later),
                                                    done_at=done.done_at), refs=(str(self.journal.path),))


def _journal_factory(scope: HistoryScope) -> HistorySource | None:
    return RunJournalHistory(scope.journal) if scope.journal is not None else None


def _audit_factory(scope: HistoryScope) -> HistorySource | None:
    from d365lab.labs.audit_history import AuditHistory

    return AuditHistory(scope.client)


# the built-in sources come first; a later registration goes after them
_REGISTRY[:0] = [_Registered("audit", _audit_factory), _Registered("run journal", _journal_factory)]
