"""Pydantic models of a lab as data (``fixtures/labs/<lab>.yaml``).

A lab is records (aliases and how to find them), exercises, and tasks. Each task lists
the *steps* the runner performs (one step kind each, see :mod:`d365lab.labs.steps`) and
the *expectations* the checker evaluates. Values that differ by language are
``{"en": ..., "fr": ...}`` mappings, resolved with :func:`localize`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from d365lab.labs.step_specs import AnyStep, StepSpec
from d365lab.models.schema import TABLES

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")


def is_localized(value: object) -> bool:
    """True when ``value`` is a ``{"en": ..., "fr": ...}`` mapping (keys are languages only)."""
    return isinstance(value, dict) and bool(value) and set(value) <= set(LANGUAGES)


def localize(value: Any, lang: Language) -> Any:
    """Pick the ``lang`` variant of a localized value; other values pass through.

    >>> localize({"en": "Topic", "fr": "Sujet"}, "fr")
    'Sujet'
    >>> localize(17000, "en")
    17000
    """
    if is_localized(value):
        if lang in value:
            return value[lang]
        return next(iter(value.values()))
    return value


def clean_prefix(prefix: str) -> str:
    """A ``--prefix`` as every command uses it: no leading/trailing spaces, inner runs as one.

    >>> clean_prefix("  [P1]   x ")
    '[P1] x'
    """
    return " ".join(prefix.split())


#: Product-wide labels and hint templates every lab gets (``d365lab/labs/product.yaml``).
PRODUCT_FILE = Path(__file__).with_name("product.yaml")


@lru_cache(maxsize=1)
def product_wording() -> dict[str, dict[str, Any]]:
    """The product file's sections (field_labels, option_labels_fr, ..., hint_templates)."""
    with PRODUCT_FILE.open(encoding="utf-8") as handle:
        data: dict[str, dict[str, Any]] = yaml.safe_load(handle)
    return data


class LabReferenceError(ValueError):
    """A name in a lab file (record alias, task id) that resolves to nothing; ``loc`` is where it is."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindSpec(_Model):
    """How to find a record: by a field value (leads), or by a link to another record.

    ``link``/``to``: the record's lookup ``link`` points to the record aliased ``to``.
    ``field``/``value``: the field equals ``value`` (localized); ``prefixed`` values get the
    run's ``--prefix``.
    """

    field: str | None = None
    value: Any = None
    prefixed: bool = False
    link: str | None = None
    to: str | None = None

    @model_validator(mode="after")
    def _has_a_criterion(self) -> FindSpec:
        if self.link is None and self.field is None:
            raise ValueError("find needs a field/value or a link/to")
        if (self.link is None) != (self.to is None):
            raise ValueError("find: link and to go together")
        return self


class RecordSpec(_Model):
    """A record the lab creates or changes, under a stable alias."""

    entity: str
    label: dict[Language, str]
    find: FindSpec

    @field_validator("entity")
    @classmethod
    def _known_table(cls, entity: str) -> str:
        if entity not in TABLES:
            raise ValueError(f"unknown table {entity!r}; expected one of: {', '.join(sorted(TABLES))}")
        return entity


class RelativeDate(_Model):
    """A date relative to the day of the step (never the grader's clock)."""

    days: int = 0
    local_time: str | None = None
    #: ``alias.column`` timestamps that stand in for the step's day when no journal exists.
    anchors: list[str] = Field(default_factory=list)


class NoneExists(_Model):
    """No ``entity`` row may link to ``to`` through ``link``."""

    entity: str
    link: str
    to: str


class Expectation(_Model):
    """One check of a task. Exactly one operator is set."""

    id: str
    record: str | None = None
    field: str | None = None
    equals: Any = None
    equals_find: bool = False
    equals_field: str | None = None
    is_null: bool | None = None
    ref: str | None = None
    exists: bool | None = None
    none_exists: NoneExists | None = None
    equals_relative_date: RelativeDate | None = None
    equals_relative_datetime: RelativeDate | None = None
    contains_stages: list[str] | None = None
    equals_stage: str | None = None
    #: This task must be known done (passed) in the same report, e.g. a reactivation needs the disqualify.
    task_done: str | None = None
    accept_prefix: dict[Language, str] | None = None
    strict: bool = True
    #: A later task that changes this state (the check is graded only before it).
    superseded_by: str | None = None
    note: str | None = None

    @property
    def operator(self) -> str:
        """The name of the operator this check uses."""
        for name in ("equals_find", "equals_field", "is_null", "ref", "exists", "none_exists",
                     "equals_relative_date", "equals_relative_datetime", "contains_stages", "equals_stage",
                     "task_done"):
            value = getattr(self, name)
            if value is None or (name == "equals_find" and not value):
                continue
            return name
        if "equals" in self.model_fields_set:
            return "equals"
        raise ValueError(f"check {self.id} has no operator")

    @model_validator(mode="after")
    def _one_operator(self) -> Expectation:
        self.operator  # noqa: B018 - raises when no operator is set
        if self.none_exists is None and self.record is None:
            raise ValueError(f"check {self.id} needs a record")
        if self.operator not in ("exists", "none_exists", "task_done") and self.field is None:
            raise ValueError(f"check {self.id} needs a field")
        return self


class TaskSpec(_Model):
    """A task: what the runner does and what the checker expects afterwards."""

    id: str
    title: dict[Language, str]
    points: float = Field(1, ge=0)
    hint: dict[Language, str]
    transient: bool = False
    steps: list[AnyStep]
    expect: list[Expectation]

    @field_validator("expect")
    @classmethod
    def _unique_ids(cls, checks: list[Expectation]) -> list[Expectation]:
        ids = [c.id for c in checks]
        if len(ids) != len(set(ids)):
            raise ValueError("check ids must be unique within a task")
        return checks


class ExerciseSpec(_Model):
    """An exercise: an ordered list of tasks."""

    id: str
    title: dict[Language, str]
    tasks: list[TaskSpec]


class LabInfo(_Model):
    """Identity and defaults of a lab."""

    id: str
    key: str
    title: dict[Language, str]
    course: dict[Language, str]
    default_language: Language = "fr"
    time_zones: dict[Language, str]


class LabSpec(_Model):
    """A whole lab, as loaded from YAML and validated."""

    spec_version: int
    lab: LabInfo
    #: The wording below comes from the product file (:data:`PRODUCT_FILE`); a lab adds or overrides entries.
    field_labels: dict[str, dict[Language, str]] = Field(default_factory=dict)
    option_labels_fr: dict[str, dict[int, str]] = Field(default_factory=dict)
    #: French wording of the two-option labels of the schema (English ``true_label`` -> French).
    boolean_labels_fr: dict[str, str] = Field(default_factory=dict)
    stage_labels: dict[str, dict[Language, str]] = Field(default_factory=dict)
    hint_templates: dict[str, dict[Language, str]] = Field(default_factory=dict)
    records: dict[str, RecordSpec]
    exercises: list[ExerciseSpec]

    @model_validator(mode="before")
    @classmethod
    def _with_product_wording(cls, data: Any) -> Any:
        """Put the product-wide wording under the lab's own (the lab's entries win)."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for key, entries in product_wording().items():
            own = data.get(key)
            merged[key] = {**entries, **own} if isinstance(own, dict) else (entries if own is None else own)
        return merged

    @model_validator(mode="after")
    def _references_resolve(self) -> LabSpec:
        task_ids = [t.id for t in self.tasks]
        if len(task_ids) != len(set(task_ids)):
            raise ValueError("task ids must be unique")
        for name, rec in self.records.items():
            if rec.find.to is not None and rec.find.to not in self.records:
                raise LabReferenceError(("records", name, "find", "to"),
                                        f"record {name} links to unknown record {rec.find.to!r}; "
                                        f"{self._expected_records()}")
        for e, exercise in enumerate(self.exercises):
            for t, task in enumerate(exercise.tasks):
                where: tuple[str | int, ...] = ("exercises", e, "tasks", t)
                self._check_expectations(task, task_ids, where)
                for s, step in enumerate(task.steps):
                    self._check_step(step, task_ids, (*where, "steps", s))
        return self

    def _expected_records(self) -> str:
        return f"expected one of the lab's records: {', '.join(self.records)}"

    def _check_expectations(self, task: TaskSpec, task_ids: list[str], where: tuple[str | int, ...]) -> None:
        for c, check in enumerate(task.expect):
            aliases: dict[str, str | None] = {"record": check.record, "ref": check.ref}
            if check.none_exists is not None:
                aliases["none_exists.to"] = check.none_exists.to
            if check.equals_field is not None:
                aliases["equals_field"] = check.equals_field.split(".")[0]
            for arg, alias in aliases.items():
                if alias is not None and alias not in self.records:
                    raise LabReferenceError((*where, "expect", c, *arg.split(".")),
                                            f"{task.id}.{check.id}: {arg} names unknown record {alias!r}; "
                                            f"{self._expected_records()}")
            for arg in ("superseded_by", "task_done"):
                other = getattr(check, arg)
                if other is not None and other not in task_ids:
                    raise LabReferenceError((*where, "expect", c, arg),
                                            f"{task.id}.{check.id}: {arg} names unknown task {other!r}; "
                                            f"expected one of: {', '.join(task_ids)}")

    def _check_step(self, step: StepSpec, task_ids: list[str], where: tuple[str | int, ...]) -> None:
        for arg, alias in {"record": step.record, **step.referenced_records()}.items():
            if alias not in self.records:
                raise LabReferenceError((*where, *arg.split(".")),
                                        f"step {step.kind}: {arg} names unknown record {alias!r}; "
                                        f"{self._expected_records()}")
        entity = self.records[step.record].entity
        if step.record_tables and entity not in step.record_tables:
            raise LabReferenceError((*where, "record"),
                                    f"step {step.kind}: record {step.record} is a {entity}; expected a record of "
                                    f"table {' or '.join(step.record_tables)}")
        for arg in step.task_args:
            other = getattr(step, arg)
            if other is not None and other not in task_ids:
                raise LabReferenceError((*where, arg), f"step {step.kind}: {arg} names unknown task {other!r}; "
                                                       f"expected one of: {', '.join(task_ids)}")

    def find_value(self, alias: str, lang: Language, prefix: str = "") -> Any:
        """The value record ``alias`` is found by, in ``lang``, with ``prefix`` when its spec says so."""
        find = self.records[alias].find
        value = localize(find.value, lang)
        if find.prefixed and prefix and isinstance(value, str):
            return f"{prefix} {value}"
        return value

    @property
    def tasks(self) -> list[TaskSpec]:
        """Every task, in lab order."""
        return [t for ex in self.exercises for t in ex.tasks]

    def task_ids(self) -> list[str]:
        """Every task id, in lab order."""
        return [t.id for t in self.tasks]

    def exercise_of(self, task_id: str) -> ExerciseSpec:
        """The exercise holding a task."""
        for ex in self.exercises:
            if any(t.id == task_id for t in ex.tasks):
                return ex
        raise KeyError(task_id)

    def resolve_upto(self, upto: str | None) -> str:
        """Turn ``--upto`` (a task id, an exercise id, or None = the end) into a task id.

        Raises ``ValueError`` naming the valid choices when ``upto`` is unknown.
        """
        ids = self.task_ids()
        if upto is None:
            return ids[-1]
        if upto in ids:
            return upto
        for ex in self.exercises:
            if ex.id == upto:
                return ex.tasks[-1].id
        choices = ", ".join([ex.id for ex in self.exercises] + ids)
        raise ValueError(f"unknown task or exercise {upto!r}; choose one of: {choices}")

    def tasks_upto(self, upto: str | None) -> list[TaskSpec]:
        """The tasks from the start up to and including ``upto``."""
        last = self.resolve_upto(upto)
        ids = self.task_ids()
        return self.tasks[: ids.index(last) + 1]

    def select_exercises(self, exercise: str | None) -> list[ExerciseSpec]:
        """Exercises selected by ``--exercise`` ("1", "ex1", "all" or None = all)."""
        if exercise is None or exercise == "all":
            return list(self.exercises)
        wanted = exercise if exercise.startswith("ex") else f"ex{exercise}"
        chosen = [ex for ex in self.exercises if ex.id == wanted]
        if not chosen:
            choices = ", ".join(ex.id.removeprefix("ex") for ex in self.exercises)
            raise ValueError(f"unknown exercise {exercise!r}; choose one of: {choices}, all")
        return chosen

    def order_of(self, task_id: str) -> int:
        """Position of a task in the lab (0-based)."""
        return self.task_ids().index(task_id)
