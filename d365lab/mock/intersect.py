"""Intersect tables of the mock's N:N relationships (``opportunitycompetitors``).

Each intersect table holds one row per associated pair. It is created in the tenant's
SQLite database the first time it is needed, so tenant files made by earlier versions
gain it without a migration. Associating a pair twice is one row; disassociating a pair
that is not associated is a 404, as the service answers.
"""

from __future__ import annotations

from d365lab.mock import service_errors as errors
from d365lab.mock.relationships import parse_intersect_link
from d365lab.mock.store import Store, quote

_READY_ATTRIBUTE = "_d365lab_intersects_ready"


def _ensure(store: Store, intersect: str, first: str, second: str) -> None:
    ready: set[str] | None = getattr(store, _READY_ATTRIBUTE, None)
    if ready is None:
        ready = set()
        setattr(store, _READY_ATTRIBUTE, ready)
    if intersect in ready:
        return
    store.execute(f"CREATE TABLE IF NOT EXISTS {quote(intersect)} ({quote(first)} TEXT NOT NULL, "
                  f"{quote(second)} TEXT NOT NULL, PRIMARY KEY ({quote(first)}, {quote(second)}))")
    store.execute(f"CREATE INDEX IF NOT EXISTS {quote(intersect + '_' + second)} "
                  f"ON {quote(intersect)} ({quote(second)})")
    ready.add(intersect)


def _parts(link: str) -> tuple[str, str, str]:
    parsed = parse_intersect_link(link)
    if parsed is None:
        raise ValueError(f"{link!r} is not an intersect link")
    return parsed


def link_condition(store: Store, link: str, target_primary_id: str) -> str:
    """SQL (one ``?`` for the parent id) selecting the target rows associated with a parent."""
    intersect, parent_column, child_column = _parts(link)
    _ensure(store, intersect, *sorted((parent_column, child_column)))
    return (f"{quote(target_primary_id)} IN (SELECT {quote(child_column)} FROM {quote(intersect)} "
            f"WHERE {quote(parent_column)} = ?)")


def associate(store: Store, link: str, parent_id: str, child_id: str) -> None:
    """Record that a parent and a child are associated (idempotent)."""
    intersect, parent_column, child_column = _parts(link)
    _ensure(store, intersect, *sorted((parent_column, child_column)))
    store.execute(f"INSERT OR IGNORE INTO {quote(intersect)} ({quote(parent_column)}, {quote(child_column)}) "
                  "VALUES (?, ?)", (parent_id, child_id))


def disassociate(store: Store, link: str, parent_id: str, child_id: str, child_table: str) -> None:
    """Remove an association; 404 when the pair is not associated."""
    intersect, parent_column, child_column = _parts(link)
    _ensure(store, intersect, *sorted((parent_column, child_column)))
    removed = store.execute(f"DELETE FROM {quote(intersect)} WHERE {quote(parent_column)} = ? "
                            f"AND {quote(child_column)} = ?", (parent_id, child_id))
    if not removed:
        raise errors.not_found(child_table, child_id)


def forget(store: Store, link: str, record_id: str) -> None:
    """Drop every association of a deleted parent row."""
    intersect, parent_column, child_column = _parts(link)
    _ensure(store, intersect, *sorted((parent_column, child_column)))
    store.execute(f"DELETE FROM {quote(intersect)} WHERE {quote(parent_column)} = ?", (record_id,))
