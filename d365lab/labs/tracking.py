"""Records a run made but never heard about: found through the run's own leads, then tracked.

A run killed (or a response lost) right after QualifyLead, a lead create, a phone call or
the win leaves records the journal does not list. Everything found through a lead this run
created is this run's, so the next run and cleanup look again and track what is missing:
``lab cleanup`` then deletes exactly what the lab made, however the run ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from d365lab.labs.locate import Locator
from d365lab.labs.run_journal import Journal
from d365lab.labs.snapshot import Snapshot
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.wording import say
from d365lab.models.enums import LeadState
from d365lab.models.schema import table

if TYPE_CHECKING:
    from d365lab.client import DataverseClient


def track_discovered(journal: Journal, snapshot: Snapshot, log: Callable[[str], None] = lambda _msg: None,
                     lang: str = "en") -> int:
    """Track every record of an only-tracked ``snapshot`` the journal does not list; return how many.

    Also settles what an interrupted run left pending: a lead whose create landed is this
    run's lead, and a qualification whose lead is no longer open is over.
    """
    added = 0
    # only a run that left an operation pending was cut short; otherwise the untracked records
    # are ones the service made by itself (the process flow QualifyLead starts), found now
    interrupted = bool(journal.data.pending)
    for alias, located in snapshot.records.items():
        if located.id is None:
            continue
        if journal.pending_id("create", alias) == located.id:
            journal.finish("create", alias)
        if journal.record_id(alias) != located.id or not journal.is_tracked(located.id):
            if not journal.is_tracked(located.id):
                added += 1
                log(say(lang, "tracking_alias" if interrupted else "tracking_made_by_service", entity=located.entity,
                        id=located.id, alias=alias))
            journal.track(located.entity, located.id, alias=alias)
        if journal.pending_id("qualify", alias) and (located.row or {}).get("statecode") != int(LeadState.OPEN):
            journal.finish("qualify", alias)
    for (entity, _link, _target), rows in snapshot.linked.items():
        pk = table(entity).primary_id
        for row in rows:
            record_id = str(row.get(pk) or "").lower()
            if record_id and not journal.is_tracked(record_id):
                journal.track(entity, record_id)
                added += 1
                if interrupted:
                    log(say(lang, "tracking_linked", entity=entity, id=record_id))
    return added


def discover_for_cleanup(client: DataverseClient, lab: LabSpec, lang: Language, prefix: str, journal: Journal,
                         log: Callable[[str], None]) -> int:
    """Before cleanup: find and track what the run made from its leads but never journaled."""
    snapshot = Locator(client, lab, lang, prefix, journal, lenient=False, only_tracked=True).snapshot(stages=False)
    return track_discovered(journal, snapshot, log, lang)
