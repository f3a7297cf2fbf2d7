"""``D365LAB_LAB_LOCK_WAIT``: a bad value stops a run with one line naming the variable, exit 2, nothing done."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.client import DataverseClient
from d365lab.config import ConfigurationError
from d365lab.labs.loader import DEFAULT_LAB, load_lab
from d365lab.labs.runner import run_lab
from tests.labs.cli_helpers import cli, rows

BAD_WAITS = ("abc", "-1", "nan", "inf", "-inf", "10s")


def assert_names_the_setting(stderr: str, value: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: D365LAB_LAB_LOCK_WAIT: ")
    assert repr(value) in lines[0] and "expected a number, 0 or more" in lines[0]
    assert "Traceback" not in stderr and "unexpected" not in stderr


@pytest.mark.parametrize("value", BAD_WAITS)
def test_lab_run_refuses_a_bad_lock_wait(lab_env: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("D365LAB_LAB_LOCK_WAIT", value)
    result = cli("lab", "run", "--exercise", "1", "-q")
    assert result.exit_code == 2
    assert_names_the_setting(result.stderr, value)
    assert rows("lead", select=("subject",)) == []  # refused before any step


def test_seed_and_cleanup_refuse_a_bad_lock_wait(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
    monkeypatch.setenv("D365LAB_LAB_LOCK_WAIT", "soon")
    for command in (("lab", "seed", "--upto", "ex2", "-q"), ("lab", "cleanup")):
        result = cli(*command)
        assert result.exit_code == 2, command
        assert_names_the_setting(result.stderr, "soon")
    assert len(rows("lead", select=("subject",))) == 3  # nothing seeded, nothing cleaned up


@pytest.mark.parametrize("value", ["0", "2.5", " "])
def test_good_lock_waits_are_accepted(lab_env: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("D365LAB_LAB_LOCK_WAIT", value)  # blank means the default
    result = cli("lab", "run", "--exercise", "1", "-q")
    assert result.exit_code == 0, result.stderr


def test_run_lab_raises_a_configuration_error_naming_the_variable(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch, d365_client: DataverseClient) -> None:
    monkeypatch.setenv("D365LAB_LAB_LOCK_WAIT", "abc")
    with pytest.raises(ConfigurationError) as refused:
        run_lab(d365_client, load_lab(DEFAULT_LAB), lang="en", exercise="1")
    assert refused.value.variable == "D365LAB_LAB_LOCK_WAIT"
    assert "'abc'" in str(refused.value)
    assert d365_client.records.count("lead") == 0
