"""``--help`` shows no value type after a flag: ``--dry-run  Validate...``, not ``--dry-run  <bool>``.

The installed typer's rich help prints a type column for every option (``<str>``,
``<path>``, ``<int range>``), flags included, although a flag takes no value (typer's
plain help already leaves flags bare). Use :class:`FlagsWithoutTypeGroup` as the ``cls``
of a root :class:`typer.Typer`, or :class:`FlagsWithoutTypeCommand` as the ``cls`` of the
command of a one-command app: once typer has built the command tree, every flag in it,
``--help`` included, gets an empty metavar, which the help shows instead of the type.

Example::

    app = typer.Typer(cls=FlagsWithoutTypeGroup)
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


def hide_flag_types(command: TyperCommand | TyperGroup, parent: typer.Context | None = None) -> None:
    """Give every flag of ``command`` and of its sub-commands (``--help`` too) an empty metavar.

    A flag given its own metavar keeps it. ``parent`` is the context of the enclosing
    group, so the help option gets the names the real command line would give it.
    """
    ctx = typer.Context(command, parent=parent, info_name=command.name, **command.context_settings)
    help_option = command.get_help_option(ctx)  # created once per command, then reused by --help
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    for sub_command in getattr(command, "commands", {}).values():
        if isinstance(sub_command, TyperCommand | TyperGroup):
            hide_flag_types(sub_command, ctx)


class FlagsWithoutTypeGroup(TyperGroup):
    """A :class:`TyperGroup` whose whole command tree shows flags without a value type in ``--help``."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        hide_flag_types(self)


class FlagsWithoutTypeCommand(TyperCommand):
    """A :class:`TyperCommand` (the command of a one-command app) showing its flags without a value type."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        hide_flag_types(self)
