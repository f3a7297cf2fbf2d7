"""Option sets and state machines of the Sales tables, defined once.

Both the client (validation before sending) and the mock tenant (enforcement) read
these values, so a fact such as "status 6 belongs to the Disqualified state" lives in
exactly one place. Values are the out-of-box Dataverse integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class LeadState(IntEnum):
    """`lead.statecode`."""

    OPEN = 0
    QUALIFIED = 1
    DISQUALIFIED = 2


class LeadStatus(IntEnum):
    """`lead.statuscode`."""

    NEW = 1
    CONTACTED = 2
    QUALIFIED = 3
    LOST = 4
    CANNOT_CONTACT = 5
    NO_LONGER_INTERESTED = 6
    CANCELED = 7


class OpportunityState(IntEnum):
    """`opportunity.statecode`."""

    OPEN = 0
    WON = 1
    LOST = 2


class OpportunityStatus(IntEnum):
    """`opportunity.statuscode`."""

    IN_PROGRESS = 1
    ON_HOLD = 2
    WON = 3
    CANCELED = 4
    OUT_SOLD = 5


class PhoneCallState(IntEnum):
    """`phonecall.statecode`."""

    OPEN = 0
    COMPLETED = 1
    CANCELED = 2


class PhoneCallStatus(IntEnum):
    """`phonecall.statuscode`."""

    OPEN = 1
    MADE = 2
    CANCELED = 3
    RECEIVED = 4


class ActivityState(IntEnum):
    """`opportunityclose.statecode` (generic activity states)."""

    OPEN = 0
    COMPLETED = 1
    CANCELED = 2


class ActivityStatus(IntEnum):
    """`opportunityclose.statuscode`."""

    OPEN = 1
    COMPLETED = 2
    CANCELED = 3


class ProcessFlowState(IntEnum):
    """`leadtoopportunitysalesprocess.statecode`."""

    ACTIVE = 0
    INACTIVE = 1


class ProcessFlowStatus(IntEnum):
    """`leadtoopportunitysalesprocess.statuscode`."""

    ACTIVE = 1
    FINISHED = 2
    ABORTED = 3


class ActiveState(IntEnum):
    """statecode of simple tables (account, contact, systemuser, ...)."""

    ACTIVE = 0
    INACTIVE = 1


class ActiveStatus(IntEnum):
    """statuscode of simple tables."""

    ACTIVE = 1
    INACTIVE = 2


class PurchaseTimeframe(IntEnum):
    """`purchasetimeframe` on lead and opportunity."""

    IMMEDIATE = 0
    THIS_QUARTER = 1
    NEXT_QUARTER = 2
    THIS_YEAR = 3
    UNKNOWN = 4


class PurchaseProcess(IntEnum):
    """`purchaseprocess` on lead and opportunity."""

    INDIVIDUAL = 0
    COMMITTEE = 1
    UNKNOWN = 2


class BudgetStatus(IntEnum):
    """`budgetstatus` on lead and opportunity."""

    NO_COMMITTED_BUDGET = 0
    MAY_BUY = 1
    CAN_BUY = 2
    WILL_BUY = 3


class Need(IntEnum):
    """`need` on lead and opportunity."""

    MUST_HAVE = 0
    SHOULD_HAVE = 1
    GOOD_TO_HAVE = 2
    NO_NEED = 3


class LeadSource(IntEnum):
    """`lead.leadsourcecode`."""

    ADVERTISEMENT = 1
    EMPLOYEE_REFERRAL = 2
    EXTERNAL_REFERRAL = 3
    PARTNER = 4
    PUBLIC_RELATIONS = 5
    SEMINAR = 6
    TRADE_SHOW = 7
    WEB = 8
    WORD_OF_MOUTH = 9
    OTHER = 10


class Rating(IntEnum):
    """`lead.leadqualitycode` and `opportunity.opportunityratingcode`."""

    HOT = 1
    WARM = 2
    COLD = 3


class Priority(IntEnum):
    """`phonecall.prioritycode`."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class ParticipationType(IntEnum):
    """`activityparty.participationtypemask`."""

    SENDER = 1
    TO_RECIPIENT = 2
    CC = 3
    BCC = 4
    REQUIRED_ATTENDEE = 5
    OPTIONAL_ATTENDEE = 6
    ORGANIZER = 7
    REGARDING = 8
    OWNER = 9
    RESOURCE = 10
    CUSTOMER = 11


class StageCategory(IntEnum):
    """`processstage.stagecategory` and `opportunity.salesstage`."""

    QUALIFY = 0
    DEVELOP = 1
    PROPOSE = 2
    CLOSE = 3
    IDENTIFY = 4
    RESEARCH = 5
    RESOLVE = 6
    APPROVAL = 7


class ForecastCategory(IntEnum):
    """`opportunity.msdyn_forecastcategory`."""

    PIPELINE = 100000001
    BEST_CASE = 100000002
    COMMITTED = 100000003
    OMITTED = 100000004
    WON = 100000005
    LOST = 100000006


class InitialCommunication(IntEnum):
    """`opportunity.initialcommunication`."""

    CONTACTED = 0
    NOT_CONTACTED = 1


#: Labels registered for an enum class (the generated schema's labels; see register_labels).
_REGISTERED_LABELS: dict[type[IntEnum], dict[int, str]] = {}


def register_labels(enum_cls: type[IntEnum], labels: dict[int, str]) -> None:
    """Give an option-set enum the labels of the schema (what :func:`label_of` then returns)."""
    _REGISTERED_LABELS[enum_cls] = dict(labels)


#: English labels of option values, keyed by enum class. French labels live with the
#: lab data; these are the labels the service returns as formatted values.
def label_of(value: IntEnum) -> str:
    """Return the English display label of an option value.

    The schema's own label when one is registered (``"Word of Mouth"``), else the member
    name in title case ("NO_LONGER_INTERESTED" -> "No Longer Interested").
    """
    registered = _REGISTERED_LABELS.get(type(value))
    if registered is not None and int(value) in registered:
        return registered[int(value)]
    special = {
        (LeadStatus, 5): "Cannot Contact",
        (OpportunityStatus, 5): "Out-Sold",
        (BudgetStatus, 0): "No Committed Budget",
    }
    key = (type(value), int(value))
    if key in special:
        return special[key]
    return value.name.replace("_", " ").title()


def options_of(enum_cls: type[IntEnum]) -> dict[int, str]:
    """Return `{value: label}` for every member of an option-set enum."""
    return {int(member): label_of(member) for member in enum_cls}


@dataclass(frozen=True)
class StateModel:
    """The legal statecode/statuscode pairs of one table.

    ``states`` maps a statecode to its label; ``statuses`` maps each statuscode to
    ``(statecode, label)``; ``defaults`` maps a statecode to its default statuscode.
    """

    state_enum: type[IntEnum]
    status_enum: type[IntEnum]
    statuses: dict[int, int]
    defaults: dict[int, int]
    enum_prefix: str

    def state_of(self, status: int) -> int | None:
        """The statecode a statuscode belongs to, or None if the status is unknown."""
        return self.statuses.get(status)

    def is_valid(self, state: int, status: int) -> bool:
        """True when ``status`` belongs to ``state``."""
        return self.statuses.get(status) == state

    def default_status(self, state: int) -> int | None:
        """The default statuscode of a statecode, or None if the state is unknown."""
        return self.defaults.get(state)

    def statuses_of(self, state: int) -> list[int]:
        """All statuscodes of a statecode, in ascending order."""
        return sorted(s for s, st in self.statuses.items() if st == state)

    def state_label(self, state: int) -> str:
        """English label of a statecode."""
        return label_of(self.state_enum(state))

    def status_label(self, status: int) -> str:
        """English label of a statuscode."""
        return label_of(self.status_enum(status))

    def invalid_message(self, status: int, state: int, entity: str, record_id: str) -> str:
        """The service's message for a statuscode that does not belong to the statecode."""
        try:
            state_name = self.state_enum(state).name.title().replace("_", "")
        except ValueError:
            state_name = str(state)
        return (
            f"{status} is not a valid status code for state code "
            f"{self.enum_prefix or entity.title()}State.{state_name} on {entity} with Id {record_id}."
        )


LEAD_STATES = StateModel(
    LeadState, LeadStatus,
    statuses={1: 0, 2: 0, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2},
    defaults={0: 1, 1: 3, 2: 4},
    enum_prefix="Lead",
)
OPPORTUNITY_STATES = StateModel(
    OpportunityState, OpportunityStatus,
    statuses={1: 0, 2: 0, 3: 1, 4: 2, 5: 2},
    defaults={0: 1, 1: 3, 2: 4},
    enum_prefix="Opportunity",
)
PHONECALL_STATES = StateModel(
    PhoneCallState, PhoneCallStatus,
    statuses={1: 0, 2: 1, 4: 1, 3: 2},
    defaults={0: 1, 1: 2, 2: 3},
    enum_prefix="PhoneCall",
)
ACTIVITY_STATES = StateModel(
    ActivityState, ActivityStatus,
    statuses={1: 0, 2: 1, 3: 2},
    defaults={0: 1, 1: 2, 2: 3},
    enum_prefix="OpportunityClose",
)
PROCESS_FLOW_STATES = StateModel(
    ProcessFlowState, ProcessFlowStatus,
    statuses={1: 0, 2: 1, 3: 1},
    defaults={0: 1, 1: 2},
    enum_prefix="LeadToOpportunitySalesProcess",
)
ACTIVE_STATES = StateModel(
    ActiveState, ActiveStatus,
    statuses={1: 0, 2: 1},
    defaults={0: 1, 1: 2},
    enum_prefix="",
)

#: Disqualification reasons a user may pick (statuscodes of the Disqualified state).
DISQUALIFY_REASONS: dict[str, LeadStatus] = {
    "lost": LeadStatus.LOST,
    "cannot_contact": LeadStatus.CANNOT_CONTACT,
    "no_longer_interested": LeadStatus.NO_LONGER_INTERESTED,
    "canceled": LeadStatus.CANCELED,
}
