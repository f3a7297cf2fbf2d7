"""Columns from Microsoft's Common Data Model, as generated into ``cdm_columns.json``.

``scripts/generate_schema.py`` writes the data file from ``shared/reference/schema`` (never
edit it by hand). This module turns it into :class:`~d365lab.models.columns.Column` objects:
types, lengths, ranges, option sets (an ``IntEnum`` per column, labelled with the data's
labels), lookup targets with their navigation property names, read-only flags, display
names, requirement levels and create defaults.

Contains information from the Common Data Model (https://github.com/microsoft/CDM),
(c) Microsoft Corporation, licensed under CC BY 4.0; see the data file's ``attribution``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from enum import IntEnum
from functools import cache
from importlib import resources
from typing import Any

from d365lab.models import enums as e
from d365lab.models.columns import Column, ColumnType

#: Activity tables whose regarding navigations are named ``regardingobjectid_<target>_<table>``.
_TYPED_REGARDING = frozenset({"phonecall", "task", "email", "appointment", "opportunityclose"})
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z]+")


@cache
def cdm_data() -> dict[str, Any]:
    """The generated data file (read once)."""
    text = resources.files("d365lab.models").joinpath("cdm_columns.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def cdm_table_facts(table: str) -> dict[str, Any]:
    """The generated facts of one table (``display_name``, ``primary_id``, ``columns``)."""
    facts: dict[str, Any] = cdm_data()["tables"][table]
    return facts


def option_enum(name: str, options: list[list[Any]]) -> type[IntEnum]:
    """An ``IntEnum`` for an option list ``[[value, label, (state)], ...]``, labelled with its labels.

    Member names are the labels in upper snake case (``"Not Started"`` -> ``NOT_STARTED``);
    :func:`d365lab.models.enums.label_of` returns the labels themselves.
    """
    members: dict[str, int] = {}
    for option in options:
        value, label = int(option[0]), str(option[1])
        member = _NOT_IDENTIFIER.sub("_", label).strip("_").upper()[:40] or f"VALUE_{value}"
        if member[0].isdigit():
            member = f"V_{member}"
        if member in members:
            member = f"{member}_{value}"
        members[member] = value
    enum_cls = IntEnum(name, members)  # type: ignore[misc]  # functional API with a dict of members
    e.register_labels(enum_cls, {int(o[0]): str(o[1]) for o in options})
    return enum_cls


def state_model(table: str, prefix: str) -> e.StateModel:
    """The state machine CDM states for a table: each status's state, each state's default status.

    The default status of a state is the first status CDM lists for it (its display order).
    """
    columns = cdm_table_facts(table)["columns"]
    state_options, status_options = columns["statecode"]["options"], columns["statuscode"]["options"]
    statuses = {int(o[0]): int(o[2]) for o in status_options}
    defaults: dict[int, int] = {}
    for value, state in statuses.items():
        defaults.setdefault(state, value)
    return e.StateModel(option_enum(f"{prefix}State", state_options), option_enum(f"{prefix}Status", status_options),
                        statuses=statuses, defaults=defaults, enum_prefix=prefix)


def navigation_names(table: str, column: str, kind: ColumnType, targets: list[str]) -> dict[str, str]:
    """The single-valued navigation property of a lookup for each target, as Dataverse names them.

    One target: the column name (``parentaccountid``). Several: ``<column>_<target>``
    (``customerid_account``, ``partyid_lead``), except ``regardingobjectid`` of a typed
    activity (``regardingobjectid_account_task``). Owner lookups bind ``ownerid`` to users
    only (the mock has no team table).
    """
    if kind is ColumnType.OWNER:
        return {"systemuser": column}
    if len(targets) == 1:
        return {targets[0]: column}
    if column == "regardingobjectid" and table in _TYPED_REGARDING:
        return {t: f"regardingobjectid_{t}_{table}" for t in targets}
    return {t: f"{column}_{t}" for t in targets}


def _column(table: str, name: str, facts: dict[str, Any]) -> Column:
    kind = ColumnType(facts["type"])
    options = facts.get("options")
    labels = facts.get("labels") or ("Yes", "No")
    return Column(
        name, kind,
        max_length=facts.get("max_length"),
        options=option_enum(f"{table}_{name}", options) if options and kind is ColumnType.PICKLIST else None,
        navigation=navigation_names(table, name, kind, facts.get("targets", [])) if "targets" in facts else {},
        read_only=bool(facts.get("read_only", False)),
        min_value=facts.get("min_value"), max_value=facts.get("max_value"),
        true_label=labels[0], false_label=labels[1],
        default=facts.get("default"), display_name=facts.get("display_name"),
        required_level=facts.get("required_level", "none"),
    )


def cdm_columns(table: str, *, states: e.StateModel | None = None,
                refine: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Column]:
    """Every generated column of ``table``, with ``refine`` applied (Sales behaviour written by hand).

    ``refine`` maps a column to :class:`Column` field changes (``{"subject": {"indexed": True}}``,
    an enum for ``options``...). An ``options`` enum must have exactly the data's values (its
    labels become the data's labels). State and status columns take ``states``' enums.
    """
    facts = cdm_table_facts(table)["columns"]
    out: dict[str, Column] = {}
    for name, column_facts in facts.items():
        column = _column(table, name, column_facts)
        if states is not None and column.type is ColumnType.STATE:
            column = replace(column, options=states.state_enum)
        elif states is not None and column.type is ColumnType.STATUS:
            column = replace(column, options=states.status_enum)
        out[name] = column
    for name, changes in (refine or {}).items():
        if name not in out:
            raise KeyError(f"{table}.{name} is not in the generated CDM columns")
        enum_cls = changes.get("options")
        if enum_cls is not None:
            _adopt_labels(table, name, enum_cls, facts[name].get("options") or [])
        out[name] = replace(out[name], **changes)
    return out


def _adopt_labels(table: str, name: str, enum_cls: type[IntEnum], options: list[list[Any]]) -> None:
    """Check a hand-written enum against the data's option list and label it with the data's labels."""
    data_values = {int(o[0]) for o in options}
    if {int(m) for m in enum_cls} != data_values:
        raise ValueError(f"{table}.{name}: {enum_cls.__name__} values differ from the generated option list "
                         f"{sorted(data_values)}")
    e.register_labels(enum_cls, {int(o[0]): str(o[1]) for o in options})
