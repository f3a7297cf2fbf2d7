"""Find a lab's records in a tenant, the way the spec says, with few requests.

Leads are found by subject (plus the run's prefix); everything else by its link to an
already-found record (``originatingleadid``, ``regardingobjectid``, ``opportunityid``),
never by name alone. When several rows match, the run journal's id wins, else the newest
row created after the run start, else the newest row. One query per (table, link) level:
about eight requests for the whole of lab 2.1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from d365lab.errors import DataverseError
from d365lab.labs.run_journal import Journal
from d365lab.labs.snapshot import LocatedRecord, Row, Snapshot
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.values import normalize_text, value_property
from d365lab.labs.wording import say
from d365lab.models.schema import STAGE_IDS, table

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: Read on every lab record: when it was made and changed, and who owns it (whose time zone counts).
TIMESTAMPS = ("createdon", "modifiedon", "ownerid")


def odata_literal(text: str) -> str:
    """A string as an OData literal (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def columns_by_entity(lab: LabSpec) -> dict[str, set[str]]:
    """Every column the checker reads, per table (so queries select only those)."""
    wanted: dict[str, set[str]] = defaultdict(lambda: set(TIMESTAMPS))
    for alias, rec in lab.records.items():
        cols = wanted[rec.entity]
        cols.update(c for c in (rec.find.field, rec.find.link) if c)
        for task in lab.tasks:
            for check in task.expect:
                if check.record == alias and check.field:
                    cols.add(check.field)
                for spec in (check.equals_relative_date, check.equals_relative_datetime):
                    for anchor in spec.anchors if spec else []:
                        other, column = anchor.split(".", 1)
                        wanted[lab.records[other].entity].add(column)
                if check.equals_field:
                    other, column = check.equals_field.split(".", 1)
                    wanted[lab.records[other].entity].add(column)
            for step in task.steps:
                if step.record == alias:
                    cols.update(k for k in (step.arg("values") or {}))
    for task in lab.tasks:
        for check in task.expect:
            if check.none_exists:
                wanted[check.none_exists.entity].add(check.none_exists.link)
    return {entity: _existing(entity, cols) for entity, cols in wanted.items()}


def _existing(entity: str, cols: Iterable[str]) -> set[str]:
    known = table(entity).columns
    return {c for c in cols if c in known}


def _select(entity: str, cols: set[str]) -> list[str]:
    info = table(entity)
    return sorted({info.primary_id} | {value_property(entity, c) for c in cols})


class Locator:
    """Finds the lab's records for one run scope (language, prefix, optional journal)."""

    def __init__(self, client: DataverseClient, lab: LabSpec, lang: Language, prefix: str = "",
                 journal: Journal | None = None, *, lenient: bool = True, only_tracked: bool = False) -> None:
        self.client = client
        #: the runner's view: a lead counts only if this run's journal tracks it, so every
        #: record linked to it (opportunity, phone call, flow) is this run's too
        self.only_tracked = only_tracked
        #: also find leads whose topic differs only in case, spacing or a final period (one more query)
        self.lenient = lenient
        self.lab = lab
        self.lang = lang
        self.prefix = prefix
        self.journal = journal
        self.columns = columns_by_entity(lab)

    def snapshot(self, *, stages: bool = True) -> Snapshot:
        """Fetch every lab record (and rows linked to the leads) into a :class:`Snapshot`."""
        snap = Snapshot(records={a: LocatedRecord(a, r.entity) for a, r in self.lab.records.items()})
        self._find_by_value(snap)
        self._find_linked(snap, {a for a, r in self.lab.records.items() if r.find.link})
        if stages:
            snap.stage_ids = self.stage_ids()
        return snap

    def relocate(self, snap: Snapshot, alias: str, row: Row) -> Snapshot:
        """A copy of ``snap`` where ``alias`` is ``row``, and every record found through it found again."""
        pk = table(self.lab.records[alias].entity).primary_id
        trial = Snapshot(records={a: replace(r) for a, r in snap.records.items()}, linked=dict(snap.linked),
                         stage_ids=snap.stage_ids, ambiguous=snap.ambiguous)
        chosen = trial.records[alias]
        chosen.row, chosen.id = row, str(row[pk]).lower()
        dependents = self._dependents(alias)
        for other in dependents:
            trial.records[other] = LocatedRecord(other, self.lab.records[other].entity)
        self._find_linked(trial, dependents)
        self._find_none_exists(trial, alias)
        return trial

    def _dependents(self, alias: str) -> set[str]:
        """Every record found (directly or not) through its link to ``alias``."""
        found: set[str] = set()
        frontier = {alias}
        while frontier:
            frontier = {a for a, r in self.lab.records.items() if r.find.to in frontier} - found
            found |= frontier
        return found

    def _find_none_exists(self, snap: Snapshot, alias: str) -> None:
        """Fetch the rows "none exists" checks look for under ``alias`` when no other search brought them."""
        target = snap.id_of(alias)
        if target is None:
            return
        for task in self.lab.tasks:
            for check in task.expect:
                spec = check.none_exists
                if spec is None or spec.to != alias or (spec.entity, spec.link, target) in snap.linked:
                    continue
                prop = value_property(spec.entity, spec.link)
                snap.linked[(spec.entity, spec.link, target)] = self._query(spec.entity, f"{prop} eq {target}")

    def _find_linked(self, snap: Snapshot, pending: set[str]) -> None:
        """Find the ``pending`` link-found records, level by level (one query per table and link)."""
        while pending:
            ready = {a for a in pending if snap.id_of(self.lab.records[a].find.to or "") is not None}
            blocked = {a for a in pending if self._target_missing(snap, a, pending)}
            for alias in blocked:
                target = self.lab.records[alias].find.to
                snap.records[alias].how = say(self.lang, "how_not_searched", target=target)
            pending -= blocked  # and what hangs off them is blocked on the next pass
            if ready:
                self._find_by_link(snap, ready)
                pending -= ready
            elif not blocked:
                break

    def _target_missing(self, snap: Snapshot, alias: str, pending: set[str]) -> bool:
        target = self.lab.records[alias].find.to or ""
        return target not in pending and snap.id_of(target) is None

    def _find_by_value(self, snap: Snapshot) -> None:
        by_entity: dict[str, list[str]] = defaultdict(list)
        for alias, rec in self.lab.records.items():
            if rec.find.link is None and rec.find.field:
                by_entity[rec.entity].append(alias)
        for entity, aliases in by_entity.items():
            column = self.lab.records[aliases[0]].find.field or ""
            values = {a: self.lab.find_value(a, self.lang, self.prefix) for a in aliases}
            clauses = " or ".join(f"{column} eq {odata_literal(str(v))}" for v in values.values())
            rows = self._query(entity, clauses)
            missing = {a: v for a, v in values.items() if not _lenient_matches(rows, column, v)}
            if missing and self.lenient:
                # typed slightly differently ("...société." or double spaces): search by the longest word
                words = {_longest_word(str(v)) for v in missing.values()}
                rows += self._query(entity, " or ".join(f"contains({column},{odata_literal(w)})" for w in words))
            for alias, value in values.items():
                how = f"{column} = {value!r}" + (say(self.lang, "how_lenient") if alias in missing else "")
                self._choose(snap, alias, _dedupe(_lenient_matches(rows, column, value), entity), how)

    def _find_by_link(self, snap: Snapshot, aliases: set[str]) -> None:
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for alias in aliases:
            find = self.lab.records[alias].find
            groups[(self.lab.records[alias].entity, find.link or "")].add(snap.id_of(find.to or "") or "")
        for task in self.lab.tasks:
            for check in task.expect:
                spec = check.none_exists
                if spec and snap.id_of(spec.to) and any(
                        self.lab.records[a].entity == spec.entity and self.lab.records[a].find.link == spec.link
                        for a in aliases):
                    groups[(spec.entity, spec.link)].add(snap.id_of(spec.to) or "")
        for (entity, link), target_ids in groups.items():
            prop = value_property(entity, link)
            clauses = " or ".join(f"{prop} eq {tid}" for tid in sorted(target_ids))
            rows = self._query(entity, clauses)
            for tid in target_ids:
                snap.linked[(entity, link, tid)] = [r for r in rows if str(r.get(prop) or "").lower() == tid]
            for alias in aliases:
                rec = self.lab.records[alias]
                if (rec.entity, rec.find.link) != (entity, link):
                    continue
                target = rec.find.to or ""
                matches = list(snap.linked[(entity, link, snap.id_of(target) or "")])
                how = f"{link} -> {target}"
                if rec.find.field:
                    wanted = str(self.lab.find_value(alias, self.lang, self.prefix))
                    matches = [r for r in matches
                               if normalize_text(str(r.get(rec.find.field) or "")) == normalize_text(wanted)]
                    how += f", {rec.find.field} = {wanted!r}"
                self._choose(snap, alias, matches, how)

    def _query(self, entity: str, clauses: str) -> list[Row]:
        cols = self.columns.get(entity) or _existing(entity, TIMESTAMPS)
        return list(self.client.records.list(entity, filter=clauses, select=_select(entity, cols),
                                             orderby="createdon desc", annotations=True))

    def _choose(self, snap: Snapshot, alias: str, matches: list[Row], how: str) -> None:
        entity = self.lab.records[alias].entity
        pk = table(entity).primary_id
        located = snap.records[alias]
        located.candidates = len(matches)
        if self.only_tracked and self.lab.records[alias].find.link is None:
            # a lead whose create was journaled but never confirmed (the run died) is this run's too
            journal = self.journal
            tracked = {journal.record_id(alias), journal.pending_id("create", alias)} if journal else set()
            matches = [r for r in matches if str(r[pk]).lower() in tracked]
            if not matches:
                located.how = f"not created by this run ({how}; the run journal tracks no such record)"
                return
        if not matches:
            located.how = say(self.lang, "how_not_found", how=how)
            return
        chosen, why = self._pick(alias, matches, pk)
        located.row = chosen
        located.id = str(chosen[pk]).lower()
        located.how = how + (f"; {why}" if why else "")
        if len(matches) > 1 and self.lab.records[alias].find.link is None and str(located.id) != (
                self.journal.record_id(alias) if self.journal else None):
            # no journal decides: the checker picks the candidate that fits the lab best (see duplicates.py)
            snap.ambiguous[alias] = matches

    def _pick(self, alias: str, matches: list[Row], pk: str) -> tuple[Row, str]:
        """Journal id first, else the newest (ties: the smallest id); duplicates.py may choose again."""
        newest_first = sorted(matches, key=lambda r: str(r[pk]).lower())
        newest_first.sort(key=lambda r: str(r.get("createdon") or ""), reverse=True)
        if len(matches) == 1:
            return matches[0], ""
        journal_id = self.journal.record_id(alias) if self.journal else None
        for row in newest_first:
            if journal_id and str(row[pk]).lower() == journal_id:
                return row, say(self.lang, "how_journal", count=len(matches))
        return newest_first[0], say(self.lang, "how_newest", count=len(matches))

    def stage_ids(self) -> dict[str, str]:
        """Stage name -> id of the Lead to Opportunity process, read from ``processstages``."""
        try:  # the Sales verb reads them once per client, so runner and checker share one read
            stages = self.client.process_flows.stages()
        except (DataverseError, ValueError):  # hidden table, no stages, odd rows: the OOB ids still hold
            stages = []
        found = {s.stagename: s.processstageid.lower() for s in stages if s.stagename}
        return found or dict(STAGE_IDS)


def _lenient_matches(rows: list[Row], column: str, value: Any) -> list[Row]:
    wanted = normalize_text(str(value))
    return [r for r in rows if normalize_text(str(r.get(column) or "")) == wanted]


def _longest_word(text: str) -> str:
    return max(text.split(), key=len)


def _dedupe(rows: list[Row], entity: str) -> list[Row]:
    pk = table(entity).primary_id
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(str(row.get(pk)), row)
    return list(seen.values())


def journal_is_stale(journal: Journal, lab: LabSpec, snapshot: Snapshot) -> bool:
    """True when the journal names records the tenant does not have (the tenant was reset).

    Only records found by value (the leads) are compared: everything else hangs off them.
    """
    for alias, record_id in journal.data.records.items():
        rec = lab.records.get(alias)
        if rec is not None and rec.find.link is None and snapshot.id_of(alias) != record_id:
            return True
    return False
