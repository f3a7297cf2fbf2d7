"""The ``audit`` history source: prove a transient state from the tenant's audit table.

As ``audit-timezones-grading.md`` (1.1-1.5) documents it:

1. ``GET audits?$filter=_objectid_value eq <id>&$select=auditid,action,operation,createdon,_userid_value
   &$orderby=createdon asc`` lists the record's audit rows (one request);
2. the old and new values of each update row (``operation`` 2) come from
   ``GET audits(<id>)/Microsoft.Dynamics.CRM.RetrieveAuditDetails`` (``AuditDetail.OldValue`` /
   ``NewValue``), else from ``changedata`` (``{"changedAttributes": [{"logicalName", "oldValue",
   "newValue"}]}``, strings) when the tenant serves it.

What a lead's state change records is UNVERIFIED, so every documented variant is accepted:
``action`` 41 Set State, 4 Activate / 5 Deactivate, 24 Qualify / 25 Disqualify or 2 Update, one
row carrying both ``statecode`` and ``statuscode`` or one row each. The values decide, never the
action: the row values are replayed in time order and the task is *seen* when the record held
every wanted value at once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests

from d365lab.errors import AccessDeniedError, DataverseError
from d365lab.labs.history import HistoryAnswer, HistoryQuestion
from d365lab.labs.spec import Language
from d365lab.labs.tenant_settings import OrgAudit, TableAudit, organization_audit, table_audit
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

#: ``audit.action`` labels (facts sheet 1.2) of the rows a state change may record.
ACTION_LABELS = {1: "Create", 2: "Update", 3: "Delete", 4: "Activate", 5: "Deactivate", 13: "Assign",
                 24: "Qualify", 25: "Disqualify", 41: "Set State", 44: "Win", 45: "Lose"}
OPERATION_CREATE, OPERATION_UPDATE = 1, 2
#: At most this many update rows of one record have their details read (one request each).
MAX_DETAIL_READS = 40

_TENANT_ERRORS = (DataverseError, requests.RequestException, ValueError, KeyError, TypeError)
Change = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # (audit row, old values, new values)


class AuditHistory:
    """Reads the audit table of the tenant behind ``client`` (read-only)."""

    name = "audit"

    def __init__(self, client: DataverseClient) -> None:
        self.client = client
        #: record id -> True when its last answer came from audit rows read fine (a later read,
        #: once late rows show, may say more); False when the audit could not be read at all
        self.read_ok: dict[str, bool] = {}
        self._org: OrgAudit | None | bool = False  # False: not read yet
        self._tables: dict[str, TableAudit | None] = {}

    def answer(self, question: HistoryQuestion, lang: Language) -> HistoryAnswer:
        """``seen`` with the audit rows that show the state, ``never`` when audit watched the record
        from its creation without it, ``unknown`` (with the reason and the remedy) otherwise."""
        self.read_ok[question.record_id] = False
        try:
            rows = self._audit_rows(question.record_id)
        except AccessDeniedError:
            return self._unknown(lang, "audit_denied", "remedy_audit_privilege")
        except _TENANT_ERRORS:
            return self._unknown(lang, "audit_unreadable", "remedy_prepare")
        self.read_ok[question.record_id] = True
        if not rows:
            def explain() -> HistoryAnswer:
                return self._unknown(lang, self._why_no_rows(question.entity), "remedy_prepare",
                                     alias=question.alias, table=question.entity)

            plain = self._unknown(lang, "audit_no_rows", "remedy_prepare", alias=question.alias)
            return replace(plain, explain=explain)
        changes = self._changes(question.record_id, rows)
        if changes is None:
            self.read_ok[question.record_id] = False  # reading them again will not help
            return self._unknown(lang, "audit_values_unreadable", "remedy_audit_privilege",
                                 rows=", ".join(_row_name(r) for r in rows if _is_update(r)))
        state: dict[str, str] = {}
        for row, _old, new in changes:
            state.update({k: _plain(v) for k, v in new.items()})
            if all(state.get(k) == _plain(v) for k, v in question.wanted.items()):
                shown, ids = _describe_change(changes, row, question.wanted)
                return HistoryAnswer("seen", self.name, say(lang, "audit_seen", alias=question.alias, rows=shown),
                                     refs=ids)
        watched_from_creation = any(r.get("operation") == OPERATION_CREATE for r in rows)
        if watched_from_creation:
            seen = "; ".join(_describe(r, o, n) for r, o, n in changes if _touches(n, question.wanted))
            return HistoryAnswer("never", self.name,
                                 say(lang, "audit_never", alias=question.alias, wanted=_values(question.wanted),
                                     seen=seen or say(lang, "audit_no_change")),
                                 refs=tuple(str(r.get("auditid")) for r in rows))
        return self._unknown(lang, "audit_started_late", "remedy_prepare", alias=question.alias)

    # ------------------------------------------------------------------ reading
    def _audit_rows(self, record_id: str) -> list[dict[str, Any]]:
        return list(self.client.records.list(
            "audits", filter=f"_objectid_value eq {record_id}",
            select=["auditid", "action", "operation", "createdon", "_userid_value"], orderby="createdon asc"))

    def _changes(self, record_id: str, rows: list[dict[str, Any]]) -> list[Change] | None:
        """Old/new values of each update row, in time order; None when no way to read them works."""
        updates = [r for r in rows if _is_update(r)][:MAX_DETAIL_READS]
        changes: list[Change] = []
        for row in updates:
            detail = self._details(str(row.get("auditid")))
            if detail is None:
                return self._from_changedata(record_id, updates)
            changes.append((row, *detail))
        return changes

    def _details(self, audit_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        try:
            result = self.client.functions.call("RetrieveAuditDetails", bound=("audits", audit_id))
        except _TENANT_ERRORS:
            return None
        detail = (result or {}).get("AuditDetail") if isinstance(result, dict) else None
        if not isinstance(detail, dict):
            return None
        return _entity_values(detail.get("OldValue")), _entity_values(detail.get("NewValue"))

    def _from_changedata(self, record_id: str, updates: list[dict[str, Any]]) -> list[Change] | None:
        try:
            data = {str(r.get("auditid")): r.get("changedata") for r in self.client.records.list(
                "audits", filter=f"_objectid_value eq {record_id}", select=["auditid", "changedata"])}
        except _TENANT_ERRORS:
            return None
        changes: list[Change] = []
        for row in updates:
            parsed = _parse_changedata(data.get(str(row.get("auditid"))))
            if parsed is None:
                return None
            changes.append((row, *parsed))
        return changes

    def _why_no_rows(self, entity: str) -> str:
        org = self.organization()
        if org is not None and not org.enabled:
            return "audit_off_org"
        table = self.table(entity)
        if table is not None and not table.enabled:
            return "audit_off_table"
        return "audit_no_rows"

    # ------------------------------------------------------------------ switches (read once per check)
    def organization(self) -> OrgAudit | None:
        """The environment's auditing switch (read once), None when it cannot be read."""
        if self._org is False:
            self._org = organization_audit(self.client)
        return self._org if isinstance(self._org, OrgAudit) else None

    def table(self, entity: str) -> TableAudit | None:
        """A table's auditing switch (read once), None when it cannot be read."""
        if entity not in self._tables:
            self._tables[entity] = table_audit(self.client, entity)
        return self._tables[entity]

    def auditing_on(self, entity: str) -> bool:
        """False only when the environment or ``entity``'s table is read as not auditing."""
        org = self.organization()
        if org is not None and not org.enabled:
            return False
        table = self.table(entity)
        return table is None or table.enabled

    def _unknown(self, lang: Language, reason: str, remedy: str, **values: Any) -> HistoryAnswer:
        return HistoryAnswer("unknown", self.name, say(lang, reason, **values), remedy=say(lang, remedy))


# ------------------------------------------------------------------ values
def _is_update(row: dict[str, Any]) -> bool:
    return row.get("operation") == OPERATION_UPDATE


def _entity_values(value: Any) -> dict[str, Any]:
    """The changed columns of an entity-shaped ``OldValue`` / ``NewValue`` (annotations left out)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if "@" not in k}


def _parse_changedata(text: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``{"changedAttributes": [{"logicalName", "oldValue", "newValue"}]}`` -> (old, new)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    changed = document.get("changedAttributes") if isinstance(document, dict) else None
    if not isinstance(changed, list):
        return None
    old = {str(c.get("logicalName")): c.get("oldValue") for c in changed if isinstance(c, dict)}
    new = {str(c.get("logicalName")): c.get("newValue") for c in changed if isinstance(c, dict)}
    return old, new


def _plain(value: Any) -> str:
    """Values compared as the text both shapes share (``6`` and ``"6"``, ``True`` and ``"true"``)."""
    return str(value).strip().lower()


def _touches(values: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return any(k in values for k in wanted)


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


def _row_name(row: dict[str, Any]) -> str:
    action = row.get("action")
    label = ACTION_LABELS.get(action, str(action)) if isinstance(action, int) else str(action)
    return f"audit {row.get('auditid')} ({row.get('createdon')}, action {action} {label})"


def _describe(row: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> str:
    moves = ", ".join(f"{k} {old.get(k, '?')}→{v}" for k, v in new.items())
    return f"{_row_name(row)}: {moves or '-'}"


def _describe_change(changes: list[Change], last: dict[str, Any],
                     wanted: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The rows that brought the record into the wanted state (one, or one per column), and their ids."""
    shown: list[tuple[str, str]] = []
    for row, old, new in changes:
        if _touches(new, wanted):
            shown.append((_describe(row, {k: old.get(k) for k in new if k in wanted},
                                    {k: v for k, v in new.items() if k in wanted}), str(row.get("auditid"))))
        if row is last:
            break
    kept = shown[-len(wanted):]
    return "; ".join(text for text, _id in kept), tuple(dict.fromkeys(i for _t, i in kept))
