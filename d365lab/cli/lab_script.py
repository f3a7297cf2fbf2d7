"""The entry point of ``scripts/exN_*.py``: one exercise of a lab, as its own command."""

from __future__ import annotations

import typer

from d365lab.cli.flags import FlagsWithoutTypeCommand
from d365lab.cli.lab_cmd import _LAB, _LANG, _PREFIX, _TZ, EXIT_ERROR, _err_console, do_run
from d365lab.labs.loader import DEFAULT_LAB, load_lab


def exercise_script(number: str) -> None:
    """Entry point of ``scripts/exN_*.py``: run exercise N of ``--lab`` (lab 2.1 by default) with ``--lang`` /
    ``--prefix`` / ``--timezone``."""
    try:
        default = load_lab(DEFAULT_LAB)
    except (FileNotFoundError, ValueError) as exc:
        _err_console().print(f"error: {exc}", markup=False)
        raise SystemExit(EXIT_ERROR) from None
    exercise = default.select_exercises(number)[0]
    script = typer.Typer(add_completion=False)

    @script.command(cls=FlagsWithoutTypeCommand,
                    help=f"{exercise.title['en']} — run exercise {number} of {default.lab.title['en']} "
                         f"(or of the --lab given) after the previous exercises; re-running skips finished steps.")
    def main(lang: str | None = _LANG, prefix: str = _PREFIX, time_zone: str | None = _TZ,
             check: bool = typer.Option(False, "--check", help="Check the lab afterwards."),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print each step."),
             lab_name: str = _LAB) -> None:
        raise typer.Exit(do_run(lab_name, number, lang, prefix, time_zone, check, None, None, quiet))

    script()
