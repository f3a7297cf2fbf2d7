"""Activity rules: the ``activitypointer`` view, completion stamps and closed activities.

- Every activity (phone call, task, email, appointment, opportunity close) has its row in
  ``activitypointers``, kept in step with each write in the same transaction: the columns the
  two tables share, ``activitytypecode`` (the activity's table), and the pointer's own status
  for the activity's state. ``activitypointers`` itself is read-only (the service answers
  "The 'Create' method does not support entities of type 'activitypointer'.").
- Completing a task, email or appointment stamps ``actualend`` when it is empty (as a phone
  call's completion does, :mod:`d365lab.mock.rules.lifecycle`), and field updates on a
  completed or canceled one follow ``closed_record_updates``.
"""

from __future__ import annotations

from functools import cache

from d365lab.mock.audit import store_of
from d365lab.mock.rules.audit import read_only
from d365lab.mock.rules.base import register
from d365lab.mock.rules.common import is_blank, utc_now
from d365lab.mock.rules.lifecycle import ClosedRecordRule
from d365lab.mock.tenant_api import Row, Tenant
from d365lab.models.activity_tables import TYPED_ACTIVITIES
from d365lab.models.schema import TABLES

POINTER = "activitypointer"
#: Activities that have a row in ``activitypointers``.
POINTED: tuple[str, ...] = (*TYPED_ACTIVITIES, "opportunityclose")
_COMPLETED = 1


@cache
def _shared_columns(activity: str) -> tuple[str, ...]:
    """The columns an activity shares with ``activitypointer`` (copied into its pointer row)."""
    pointer = TABLES[POINTER].columns
    return tuple(name for name, column in TABLES[activity].columns.items()
                 if name in pointer and name not in ("statuscode", "activitytypecode")
                 and column.type is pointer[name].type)


class ActivityPointerSync:
    """Keeps the ``activitypointer`` row of one activity table in step with its writes."""

    def __init__(self, activity: str) -> None:
        self.activity = activity

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Nothing to check."""

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Insert or overwrite the pointer row (bypassing the pointer's read-only rule)."""
        store = store_of(tenant)
        if store is None:
            return
        pointer = TABLES[POINTER]
        row: Row = dict.fromkeys(pointer.columns)
        row.update(pointer.defaults)
        row.update({name: new.get(name) for name in _shared_columns(self.activity)})
        row["activitytypecode"] = self.activity
        state = new.get("statecode")
        row["statuscode"] = pointer.states.default_status(state) if pointer.states and state is not None else None
        if store.exists(pointer, str(new["activityid"])):
            store.replace(pointer, row)
        else:
            store.insert(pointer, row)

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """The pointer row goes with its activity."""
        store = store_of(tenant)
        if store is not None:
            store.delete(TABLES[POINTER], str(row["activityid"]))


class PointerIsReadOnly:
    """``activitypointers`` is written through the activity tables only."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Refuse every write."""
        raise read_only(POINTER, "Create" if old is None else "Update")

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Never reached."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """Refuse every delete."""
        raise read_only(POINTER, "Delete")


class CompletionStampRule:
    """Completing an activity stamps ``actualend`` when the caller left it empty."""

    def before_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """Stamp the completion time."""
        completing = new.get("statecode") == _COMPLETED
        was_completed = old is not None and old.get("statecode") == _COMPLETED
        if completing and not was_completed and is_blank(new.get("actualend")):
            new["actualend"] = utc_now()

    def after_write(self, tenant: Tenant, old: Row | None, new: Row) -> None:
        """No side effect."""

    def before_delete(self, tenant: Tenant, row: Row) -> None:
        """No check."""


for _activity in POINTED:
    register(_activity, ActivityPointerSync(_activity))
for _activity in ("task", "email", "appointment"):
    register(_activity, ClosedRecordRule(_activity))
    register(_activity, CompletionStampRule())
register(POINTER, PointerIsReadOnly())
