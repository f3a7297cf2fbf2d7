"""Seed and cleanup for instructors: put a tenant in a known state, and take the lab out again.

Cleanup deletes exactly the records the run journal tracked (created by the runner, or by
the messages it called: qualification, the process flow, the close activity), never
records guessed by name, then forgets the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from d365lab.errors import NotFoundError
from d365lab.labs.journal import Journal, journal_path, scope_lock
from d365lab.labs.spec import LabSpec, Language, clean_prefix
from d365lab.labs.tracking import discover_for_cleanup
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: Children before parents, so no delete trips over a restrict rule.
DELETE_ORDER = ("opportunityclose", "phonecall", "leadtoopportunitysalesprocess", "opportunity", "contact",
                "account", "lead")


@dataclass
class CleanupSummary:
    """What cleanup did."""

    journal_path: str
    deleted: list[tuple[str, str]] = field(default_factory=list)
    already_gone: list[tuple[str, str]] = field(default_factory=list)

    @property
    def found_journal(self) -> bool:
        """False when there was nothing tracked to delete."""
        return bool(self.deleted or self.already_gone)


def cleanup_lab(client: DataverseClient, lab: LabSpec, *, lang: Language, prefix: str = "",
                log: Callable[[str], None] = lambda _msg: None) -> CleanupSummary:
    """Delete every record the journal of this tenant/language/prefix tracks, then the journal.

    Raises :class:`~d365lab.labs.journal.JournalError` for an unreadable journal or one
    whose stored prefix is not ``prefix`` (never delete another student's records).
    """
    prefix = clean_prefix(prefix)
    org = str(client.whoami().organization_id)
    path = journal_path(lab.lab.key, org, lang, prefix, client.tenant_label)
    with scope_lock(path):
        summary = CleanupSummary(journal_path=str(path))
        journal = Journal.load(path, prefix=prefix)
        if journal is None:
            log(say(lang, "no_journal", path=path))
            return summary
        discover_for_cleanup(client, lab, lang, prefix, journal, log)
        return _cleanup_locked(client, journal, summary, log, lang)


def _cleanup_locked(client: DataverseClient, journal: Journal, summary: CleanupSummary,
                    log: Callable[[str], None], lang: Language = "en") -> CleanupSummary:
    rank = {entity: i for i, entity in enumerate(DELETE_ORDER)}
    tracked = sorted(journal.data.created, key=lambda r: (rank.get(r.entity, -1), r.created_at))
    for record in tracked:
        try:
            client.records.delete(record.entity, record.id)
        except NotFoundError:
            summary.already_gone.append((record.entity, record.id))
            log(say(lang, "already_gone", entity=record.entity, id=record.id))
            continue
        summary.deleted.append((record.entity, record.id))
        log(say(lang, "deleted_one", entity=record.entity, id=record.id,
                alias=f" ({record.alias})" if record.alias else ""))
    journal.delete()
    return summary
