"""The ``d365lab`` command line.

Each command family lives in its own module (``whoami.py``, ``mock_cmd.py``,
``lab_cmd.py``, ``backlog_cmd.py``) and registers a Typer sub-app here.
"""

from __future__ import annotations

import importlib

import typer

from d365lab import __version__

app = typer.Typer(
    name="d365lab",
    help="Dynamics 365 Sales automation: labs, grading, backlogs, and a local mock tenant.",
    no_args_is_help=True,
    add_completion=False,
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


def main() -> None:
    """Console-script entry point."""
    app()
