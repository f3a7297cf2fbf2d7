"""The arguments of every step kind, as pydantic models checked when a lab file is loaded.

Each step kind declares one model here (``kind`` is its literal tag); :data:`AnyStep` is the
discriminated union of all of them, so a misspelt kind, a missing or unknown argument, or a
record alias that names no record of the lab is refused at load, before any request. The
implementations (what a kind does to a tenant) are in :mod:`d365lab.labs.steps`.

Generic kinds work on any table: ``create``, ``update``, ``set_state``, ``call_action``,
``win``, ``lose``, ``move_process_flow``, ``finish_process_flow``, ``complete_activity``,
``qualify_lead``, ``disqualify_lead``, ``reactivate_lead``. Lab 2.1's older names
(``create_lead``, ``update_record``, ``create_phonecall``, ``complete_phonecall``,
``win_opportunity``) are kept as thin variants of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from d365lab.models.schema import STAGE_IDS

#: A value that may differ by language: ``"text"`` or ``{en: ..., fr: ...}``.
Localized = str | dict[Literal["fr", "en"], str]


class DueSpec(BaseModel):
    """When an activity is due: ``days`` after the step's day, at ``local_time`` in the lab's zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = 0
    local_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class StepSpec(BaseModel):
    """One action of a task; ``kind`` selects the step implementation, the rest are its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    record: str
    #: Tables the step's ``record`` may be (empty: any table).
    record_tables: ClassVar[tuple[str, ...]] = ()
    #: Arguments that name another record of the lab (their value is an alias).
    record_args: ClassVar[tuple[str, ...]] = ()
    #: Arguments that name a task of the lab.
    task_args: ClassVar[tuple[str, ...]] = ()

    def arg(self, name: str, default: Any = None) -> Any:
        """An argument of the step kind (``default`` when it is not set)."""
        value = getattr(self, name, None)
        return default if value is None else value

    def referenced_records(self) -> dict[str, str]:
        """``argument path -> alias`` for every record this step names besides ``record``."""
        refs = {name: str(getattr(self, name)) for name in self.record_args if getattr(self, name, None)}
        creates: dict[str, str] = getattr(self, "creates", None) or {}
        refs.update({f"creates.{kind}": alias for kind, alias in creates.items()})
        return refs

    def created_records(self) -> set[str]:
        """Aliases of the records this step creates (what a missing record's message points to)."""
        return set()


class CreateStep(StepSpec):
    """Create the record with its find value (plus the run's prefix when the find says so) and ``values``.

    ``regarding`` links an activity to another record; ``due`` sets its ``scheduledend``.
    """

    kind: Literal["create"]
    values: dict[str, Any] = Field(default_factory=dict)
    regarding: str | None = None
    due: DueSpec | None = None
    record_args: ClassVar[tuple[str, ...]] = ("regarding",)

    def created_records(self) -> set[str]:
        """The step's own record."""
        return {self.record}


class CreateLeadStep(CreateStep):
    """Lab 2.1's name for ``create`` on a lead."""

    kind: Literal["create_lead"]  # type: ignore[assignment]
    record_tables: ClassVar[tuple[str, ...]] = ("lead",)


class CreatePhoneCallStep(StepSpec):
    """Create a phone call about ``regarding``, with ``subject``, due at ``due``."""

    kind: Literal["create_phonecall"]
    subject: Localized
    regarding: str
    due: DueSpec = DueSpec()
    record_tables: ClassVar[tuple[str, ...]] = ("phonecall",)
    record_args: ClassVar[tuple[str, ...]] = ("regarding",)

    def created_records(self) -> set[str]:
        """The step's own record."""
        return {self.record}


class UpdateStep(StepSpec):
    """Set columns on the record (opportunities through the Sales verb)."""

    kind: Literal["update"]
    values: dict[str, Any] = Field(min_length=1)


class UpdateRecordStep(UpdateStep):
    """Lab 2.1's name for ``update``."""

    kind: Literal["update_record"]  # type: ignore[assignment]


class SetStateStep(StepSpec):
    """Give the record a ``state`` (statecode) and ``status`` (statuscode), e.g. deactivate an account."""

    kind: Literal["set_state"]
    state: int = Field(ge=0)
    status: int


class CallActionStep(StepSpec):
    """Call a Dataverse action bound to the record (``bound``) or unbound, with ``parameters``.

    Its effect is not read back: the run journal remembers it was done.
    """

    kind: Literal["call_action"]
    action: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    bound: bool = True
    parameters: dict[str, Any] = Field(default_factory=dict)


class QualifyLeadStep(StepSpec):
    """Qualify a lead; ``creates`` names the aliases of the account/contact/opportunity it makes."""

    kind: Literal["qualify_lead"]
    create_account: bool = False
    creates: dict[Literal["account", "contact", "opportunity"], str] = Field(default_factory=dict)
    record_tables: ClassVar[tuple[str, ...]] = ("lead",)

    def created_records(self) -> set[str]:
        """The aliases given to what the qualification makes."""
        return set(self.creates.values())


class DisqualifyLeadStep(StepSpec):
    """Disqualify a lead with a ``reason`` (lost, cannot_contact, no_longer_interested, canceled)."""

    kind: Literal["disqualify_lead"]
    reason: Literal["lost", "cannot_contact", "no_longer_interested", "canceled"] = "no_longer_interested"
    record_tables: ClassVar[tuple[str, ...]] = ("lead",)


class ReactivateLeadStep(StepSpec):
    """Reopen a lead; ``after`` is the task that disqualified it (done only once that task is)."""

    kind: Literal["reactivate_lead"]
    after: str | None = None
    record_tables: ClassVar[tuple[str, ...]] = ("lead",)
    task_args: ClassVar[tuple[str, ...]] = ("after",)


class MoveProcessFlowStep(StepSpec):
    """Move the process flow of ``opportunity`` (the record) to ``stage`` (adjacent moves)."""

    kind: Literal["move_process_flow"]
    opportunity: str
    stage: str
    record_tables: ClassVar[tuple[str, ...]] = ("leadtoopportunitysalesprocess",)
    record_args: ClassVar[tuple[str, ...]] = ("opportunity",)

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, stage: str) -> str:
        if stage not in STAGE_IDS:
            raise ValueError(f"unknown stage {stage!r}; expected one of: {', '.join(STAGE_IDS)}")
        return stage


class FinishProcessFlowStep(StepSpec):
    """Finish the process flow (at its last stage)."""

    kind: Literal["finish_process_flow"]
    record_tables: ClassVar[tuple[str, ...]] = ("leadtoopportunitysalesprocess",)


class CompleteActivityStep(StepSpec):
    """Mark an activity (phone call, task, ...) completed."""

    kind: Literal["complete_activity"]
    record_tables: ClassVar[tuple[str, ...]] = ("phonecall", "task", "appointment", "email", "letter", "fax")


class CompletePhoneCallStep(CompleteActivityStep):
    """Lab 2.1's name for ``complete_activity`` on a phone call."""

    kind: Literal["complete_phonecall"]  # type: ignore[assignment]
    record_tables: ClassVar[tuple[str, ...]] = ("phonecall",)


class WinStep(StepSpec):
    """Close an opportunity as won; ``close_record`` is the alias of the close activity it creates."""

    kind: Literal["win"]
    close_record: str | None = None
    record_tables: ClassVar[tuple[str, ...]] = ("opportunity",)
    record_args: ClassVar[tuple[str, ...]] = ("close_record",)


class WinOpportunityStep(WinStep):
    """Lab 2.1's name for ``win``."""

    kind: Literal["win_opportunity"]  # type: ignore[assignment]


class LoseStep(WinStep):
    """Close an opportunity as lost (``status``: 4 canceled, 5 out-sold)."""

    kind: Literal["lose"]  # type: ignore[assignment]
    status: Literal[4, 5] = 4


#: Every step kind's argument model, by kind.
STEP_SPECS: dict[str, type[StepSpec]] = {
    model.model_fields["kind"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (CreateStep, CreateLeadStep, CreatePhoneCallStep, UpdateStep, UpdateRecordStep, SetStateStep,
                  CallActionStep, QualifyLeadStep, DisqualifyLeadStep, ReactivateLeadStep, MoveProcessFlowStep,
                  FinishProcessFlowStep, CompleteActivityStep, CompletePhoneCallStep, WinStep, WinOpportunityStep,
                  LoseStep)
}

if TYPE_CHECKING:
    AnyStep = StepSpec
else:
    #: The discriminated union of every step kind (the ``kind`` tag picks the model).
    AnyStep = Annotated[Union[tuple(STEP_SPECS.values())], Field(discriminator="kind")]  # noqa: UP007
