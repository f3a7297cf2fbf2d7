"""``d365lab ... --help`` as a user reads it: flags take no value, so no ``<bool>`` after them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from d365lab.cli import app

ROOT = Path(__file__).resolve().parents[2]
WIDE = {"COLUMNS": "200"}  # one row per option, whatever the terminal running the tests

#: command -> (flag, the start of its help text): the help must follow the flag with no type in between
FLAGS = {
    ("backlog", "import"): [("--dry-run", "Validate and detect duplicates"), ("--help", "Show this message")],
    ("backlog", "triage"): [("--dry-run", "Print the plan"), ("--progress", "--no-progress")],
    ("lab", "run"): [("--check", "Check the lab afterwards"), ("-q", "Do not print each step")],
    ("lab", "check"): [("--no-journal", "Ignore the local run journal"), ("-q", "Do not print progress lines")],
    ("mock", "serve"): [("--allow-remote", "Allow a non-loopback --host")],
    (): [("--version", "Show the version"), ("--help", "Show this message")],
}
#: options that take a value keep their type between the name and the help text
VALUED = {("backlog", "import"): ("--batch-size", "Leads per CreateMultiple request"),
          ("lab", "run"): ("--output", "Write the report to this file")}


def help_of(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def shows_flag_bare(text: str, flag: str, help_start: str) -> bool:
    """True when a row reads ``<flag>  <help...>``: nothing but spaces between them."""
    return re.search(rf"(^|[ │]){re.escape(flag)} +{re.escape(help_start)}", text, re.MULTILINE) is not None


@pytest.mark.parametrize("command", list(FLAGS), ids=lambda c: " ".join(c) or "d365lab")
def test_flags_show_their_help_and_no_type(command: tuple[str, ...]) -> None:
    text = help_of(*command)
    assert "<bool>" not in text and "BOOLEAN" not in text
    for flag, help_start in FLAGS[command]:
        assert shows_flag_bare(text, flag, help_start), f"{flag} in\n{text}"
    if command in VALUED:
        option, help_start = VALUED[command]
        assert option in text and not shows_flag_bare(text, option, help_start), text


def _command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub_command in getattr(command, "commands", {}).items():
            walk(sub_command, (*path, name))

    walk(get_command(app), ())
    return paths


def test_no_command_shows_bool_after_a_flag() -> None:
    paths = _command_paths()
    assert ("backlog", "import") in paths and ("lab", "cleanup") in paths  # the whole tree, sub-apps included
    for path in paths:
        text = help_of(*path)
        assert "<bool>" not in text, f"d365lab {' '.join(path)} --help:\n{text}"
        assert shows_flag_bare(text, "--help", "Show this message"), text


def test_flags_still_work_after_the_help_change() -> None:
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("d365lab ")
    refused = CliRunner().invoke(app, ["lab", "run", "--check=yes"])
    assert refused.exit_code == 2 and "does not take a value" in refused.output


def test_an_exercise_script_help_shows_its_flags_bare() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_"))}
    env.update(WIDE, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "ex1_manage_leads.py"), "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "<bool>" not in done.stdout
    assert shows_flag_bare(done.stdout, "--check", "Check the lab afterwards"), done.stdout
    assert shows_flag_bare(done.stdout, "-q", "Do not print each step"), done.stdout
