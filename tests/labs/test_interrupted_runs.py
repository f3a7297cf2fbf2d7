"""A run killed in the middle of a step: the next run finishes the lab and cleanup leaves nothing.

The "kill" is an exception raised as soon as the request returned, before the runner could
journal its answer: the journal file is then exactly what a ``kill -9`` in that window leaves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from d365lab.records import Records
from d365lab.sales.leads import Leads
from tests.labs.cli_helpers import cli, rows

LAB_TABLES = ("lead", "contact", "account", "opportunity", "phonecall", "opportunityclose")


class Killed(BaseException):
    """The process died here (not an error the CLI would catch and report)."""


def _left_in_tenant() -> dict[str, int]:
    return {name: len(rows(name)) for name in LAB_TABLES if rows(name)}


def _run_until_killed(monkeypatch: pytest.MonkeyPatch, owner: type, method: str, nth: int,
                      *, when: Any = lambda *_a, **_k: True) -> None:
    real = getattr(owner, method)
    seen = []

    def dying(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, *args, **kwargs)
        if when(*args, **kwargs):
            seen.append(1)
            if len(seen) == nth:
                raise Killed
        return answer

    monkeypatch.setattr(owner, method, dying)
    with pytest.raises(Killed):
        cli("lab", "run", "-q")
    monkeypatch.setattr(owner, method, real)


def test_killed_right_after_qualify_then_rerun_and_cleanup_leave_nothing(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_until_killed(monkeypatch, Leads, "qualify", 2)  # lead_b qualified: account, contact, opportunity
    rerun = cli("lab", "run", "--check")
    assert rerun.exit_code == 0 and "15/15" in rerun.stdout, rerun.stdout + rerun.stderr
    cleanup = cli("lab", "cleanup")
    assert cleanup.exit_code == 0, cleanup.stderr
    assert _left_in_tenant() == {}


def test_killed_right_after_a_lead_create_then_rerun_makes_no_second_lead(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_until_killed(monkeypatch, Records, "create", 2, when=lambda table, _data: table == "lead")
    assert len(rows("lead")) == 2
    assert cli("lab", "run", "-q").exit_code == 0
    assert len(rows("lead")) == 3  # the second lead is recognised by its journaled id, not made twice
    assert cli("lab", "check").exit_code == 0
    assert cli("lab", "cleanup").exit_code == 0
    assert _left_in_tenant() == {}


def test_killed_after_a_lead_create_then_cleanup_alone_deletes_it(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_until_killed(monkeypatch, Records, "create", 1, when=lambda table, _data: table == "lead")
    assert cli("lab", "cleanup").exit_code == 0
    assert _left_in_tenant() == {}
