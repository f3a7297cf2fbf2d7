"""The ``d365lab`` command line.

Each command family lives in its own module (``whoami.py``, ``mock_cmd.py``,
``lab_cmd.py``, ``backlog_cmd.py``) and registers a Typer sub-app here.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys

import typer

from d365lab import __version__
from d365lab.cli.flags import FlagsWithoutTypeGroup
from d365lab.errors import describe_error

app = typer.Typer(
    name="d365lab",
    help="Dynamics 365 Sales automation: labs, grading, backlogs, and a local mock tenant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=FlagsWithoutTypeGroup,  # --help: "--dry-run  Validate...", not "--dry-run  <bool>  Validate..."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"d365lab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Dynamics 365 Sales automation: labs, grading, backlogs, and a local mock tenant."""


#: Modules that each expose ``register(app)``; a missing module is simply not offered.
_COMMAND_MODULES = ("core_cmd", "mock_cmd", "lab_cmd", "backlog_cmd")

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"d365lab.cli.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a family is unbuilt
        if exc.name != f"d365lab.cli.{_name}":
            raise
        continue
    _module.register(app)


#: Exit code for "could not do it" (configuration, connection, files), as ``lab check`` documents.
EXIT_COULD_NOT = 2


def main() -> None:
    """Console-script entry point.

    Commands report the errors they expect themselves. Anything that still escapes (a file
    that cannot be written, a database that cannot be opened, a failure nobody foresaw)
    becomes one ``error:`` line and exit code 2 instead of a traceback, because callers such
    as lab platforms read exit code 1 as "the student's work failed the check".
    ``D365LAB_DEBUG=1`` shows the traceback.
    """
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except (OSError, sqlite3.Error) as exc:
        if os.environ.get("D365LAB_DEBUG"):
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        raise SystemExit(EXIT_COULD_NOT) from None
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("D365LAB_DEBUG"):
            raise
        print(f"error: {describe_error(exc)} (unexpected; set D365LAB_DEBUG=1 to see the traceback)", file=sys.stderr)
        raise SystemExit(EXIT_COULD_NOT) from None


