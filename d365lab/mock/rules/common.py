"""Helpers shared by the table rules and the Sales message handlers.

Settings reach rules through the tenant (``tenant.settings`` when the implementation
exposes it). Message handlers that legitimately perform a transition a plain PATCH may
not (WinOpportunity closing an opportunity, QualifyLead qualifying a lead) say so with
:func:`performing`, which the rules consult through :func:`is_performing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from d365lab.mock import validation
from d365lab.mock.settings import MockSettings
from d365lab.mock.tenant_api import Row, Tenant

_MESSAGES_IN_PROGRESS: ContextVar[frozenset[str]] = ContextVar("d365lab_mock_messages", default=frozenset())
_SENT_COLUMNS: ContextVar[frozenset[str] | None] = ContextVar("d365lab_mock_sent_columns", default=None)

#: Columns the tenant maintains on every write; a change there is not a "field update".
SYSTEM_COLUMNS = frozenset({"modifiedon", "modifiedby", "versionnumber", "createdon", "createdby"})


def settings_of(tenant: Tenant) -> MockSettings:
    """The tenant's settings."""
    return tenant.settings


def utc_now() -> str:
    """Current UTC time in the storage form ``YYYY-MM-DDTHH:MM:SSZ``."""
    return validation.utc_now()


def utc_today() -> str:
    """Current UTC date in the storage form ``YYYY-MM-DD``."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


@contextmanager
def performing(message: str) -> Iterator[None]:
    """Mark that a Dataverse message (e.g. ``"WinOpportunity"``) is writing, for the rules."""
    token = _MESSAGES_IN_PROGRESS.set(_MESSAGES_IN_PROGRESS.get() | {message})
    try:
        yield
    finally:
        _MESSAGES_IN_PROGRESS.reset(token)


def is_performing(message: str) -> bool:
    """True while a handler runs inside :func:`performing` for ``message``."""
    return message in _MESSAGES_IN_PROGRESS.get()


def changed_columns(old: Row, new: Row) -> set[str]:
    """Columns whose value differs between two storage-form rows, system columns excluded."""
    names = (set(old) | set(new)) - SYSTEM_COLUMNS
    return {name for name in names if old.get(name) != new.get(name)}


def is_blank(value: Any) -> bool:
    """True for None and empty strings."""
    return value is None or value == ""


class _SentColumnsScope:
    """The context manager :func:`sending` returns (a class: it runs once per row of a bulk create)."""

    __slots__ = ("_columns", "_token")

    def __init__(self, columns: frozenset[str]) -> None:
        self._columns = columns
        self._token: Token[frozenset[str] | None] | None = None

    def __enter__(self) -> None:
        self._token = _SENT_COLUMNS.set(self._columns)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _SENT_COLUMNS.reset(self._token)
            self._token = None


def sending(columns: Iterable[str]) -> AbstractContextManager[None]:
    """Tell the rules which columns the caller sent for the write about to run.

    The tenant wraps a write's ``before_write`` hooks in this, so a rule can tell
    "statecode and statuscode both sent" from "only statuscode sent" (``new`` is merged
    with the stored row, which hides that). Without it the rules fall back to comparing
    ``new`` with ``old``.
    """
    return _SentColumnsScope(frozenset(columns))


def sent_columns() -> frozenset[str] | None:
    """The columns the caller sent for the current write, or None when the tenant did not say."""
    return _SENT_COLUMNS.get()
