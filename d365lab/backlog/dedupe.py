"""Duplicate detection for imports: same email, or same name and company.

Keys are folded (case, accents, spacing) so "Émile  Durand" at "Café Noir" matches
"emile durand" at "CAFE NOIR".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from d365lab.backlog.mapping import normalize

#: Lead columns read from the tenant to detect duplicates.
KEY_COLUMNS = ["leadid", "emailaddress1", "firstname", "lastname", "companyname"]


def duplicate_keys(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys a lead is known by: ``("email", ...)`` and ``("name+company", ...)`` when both are set."""
    keys: list[tuple[str, str]] = []
    email = (values.get("emailaddress1") or "").strip().lower()
    if email:
        keys.append(("email", email))
    name = normalize(f"{values.get('firstname') or ''} {values.get('lastname') or ''}")
    company = normalize(str(values.get("companyname") or ""))
    if name and company:
        keys.append(("name+company", f"{name}|{company}"))
    return keys


@dataclass
class DuplicateIndex:
    """Known leads by key; values are an owner token (a tenant lead id or a CSV line number)."""

    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_all(self, rows: Iterable[dict[str, Any]], owner_column: str = "leadid") -> int:
        """Index existing rows (first owner of a key wins); return how many rows were read."""
        count = 0
        for row in rows:
            count += 1
            for key in duplicate_keys(row):
                self.owners.setdefault(key, str(row[owner_column]))
        return count

    def find(self, keys: list[tuple[str, str]]) -> tuple[str, str] | None:
        """``(key kind, owner)`` of the first of ``keys`` (from :func:`duplicate_keys`) already known, else None."""
        for key in keys:
            owner = self.owners.get(key)
            if owner is not None:
                return key[0], owner
        return None

    def add(self, keys: list[tuple[str, str]], owner: str) -> None:
        """Index one more lead by its keys."""
        for key in keys:
            self.owners.setdefault(key, owner)
