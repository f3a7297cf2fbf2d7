"""What the checker saw in the tenant: the lab's records, found once, as plain row dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass
class LocatedRecord:
    """One lab record: its row as fetched (``None`` when not found) and how it was found."""

    alias: str
    entity: str
    row: Row | None = None
    id: str | None = None
    how: str = "not found"
    candidates: int = 0


@dataclass
class Snapshot:
    """Every lab record plus the rows linked to the lab's leads (for "none exists" checks)."""

    records: dict[str, LocatedRecord]
    #: ``(entity, link column, target id) -> rows`` fetched while locating.
    linked: dict[tuple[str, str, str], list[Row]] = field(default_factory=dict)
    #: Stage name -> processstage id, and the reverse.
    stage_ids: dict[str, str] = field(default_factory=dict)
    #: Records found by value with several candidates and no run journal to decide (alias -> rows).
    ambiguous: dict[str, list[Row]] = field(default_factory=dict)

    def row(self, alias: str) -> Row | None:
        """The fetched row of a lab record, or None."""
        found = self.records.get(alias)
        return found.row if found else None

    def id_of(self, alias: str) -> str | None:
        """The id of a lab record, or None."""
        found = self.records.get(alias)
        return found.id if found else None

    def stage_name(self, stage_id: str) -> str:
        """The name of a stage id (the id itself when unknown)."""
        for name, sid in self.stage_ids.items():
            if sid.lower() == stage_id.lower():
                return name
        return stage_id
