"""Seed and cleanup for instructors: put a tenant in a known state, and take the lab out again.

Cleanup deletes exactly the records the run journal tracked (created by the runner, or by
the messages it called: qualification, the process flow, the close activity), never
records guessed by name, then forgets the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from d365lab.errors import NotFoundError
from d365lab.labs.run_journal import Journal, TrackedRecord, journal_path, scope_lock
from d365lab.labs.spec import LabSpec, Language, clean_prefix
from d365lab.labs.tracking import discover_for_cleanup
from d365lab.labs.wording import say
from d365lab.models.schema import table

if TYPE_CHECKING:
    from d365lab.client import DataverseClient



def referenced_tables(entity: str) -> set[str]:
    """Tables a row of ``entity`` can point to through its lookups (the schema's relationships)."""
    try:
        columns = table(entity).columns.values()
    except KeyError:
        return set()
    return {target for column in columns if column.is_lookup for target in column.targets if target != entity}


def delete_order(records: Sequence[TrackedRecord]) -> list[TrackedRecord]:
    """``records`` in an order where no delete trips over a record still pointing at it.

    A table goes once no remaining table has a lookup to it (children before parents, from
    the schema's lookups); among tables free to go, and to break a cycle of lookups (a lead
    points to its account, the account to the lead it came from), the one whose records were
    tracked last goes first: a record can only point at one that existed before it. Records
    of one table keep the order they were tracked in.
    """
    last_tracked = {record.entity: index for index, record in enumerate(records)}
    refers_to = {entity: referenced_tables(entity) for entity in last_tracked}
    remaining = set(last_tracked)
    order: list[str] = []
    while remaining:
        free = [e for e in remaining if not any(e in refers_to[other] for other in remaining if other != e)]
        chosen = max(free or remaining, key=lambda e: last_tracked[e])
        order.append(chosen)
        remaining.remove(chosen)
    rank = {entity: i for i, entity in enumerate(order)}
    return sorted(records, key=lambda r: rank[r.entity])  # stable: tracking order within a table


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

    Raises :class:`~d365lab.labs.run_journal.RunJournalError` for an unreadable journal or one
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
    for record in delete_order(journal.data.created):
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
