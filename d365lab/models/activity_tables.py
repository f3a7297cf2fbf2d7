"""The activity tables: phone calls, tasks, emails, appointments, opportunity close records,
the ``activitypointer`` view over all of them, and activity parties.

Columns come from the generated CDM facts; what is written here is the state machines
(open / completed / canceled, plus appointments' scheduled state, with the statuscodes CDM
lists), the regarding navigations seen from lead, account, contact and opportunity
(``Account_Tasks``, ``Lead_Emails``...), the activity parties collections, and indexes.
"""

from __future__ import annotations

from d365lab.models import enums as e
from d365lab.models.cdm import state_model
from d365lab.models.columns import CollectionNavigation, Table
from d365lab.models.sales_tables import cdm_table, indexed

#: Activity tables a client creates (``activitypointer`` is read-only, ``opportunityclose`` comes from actions).
TYPED_ACTIVITIES: tuple[str, ...] = ("phonecall", "task", "email", "appointment")
#: Tables an activity may be regarding, with the prefix of their collection navigations.
REGARDING_PARENTS: dict[str, str] = {"account": "Account", "contact": "Contact", "lead": "Lead",
                                     "opportunity": "Opportunity"}
#: The collection-navigation suffix of each activity table (``Account_Tasks``).
REGARDING_SUFFIX: dict[str, str] = {"phonecall": "Phonecalls", "task": "Tasks", "email": "Emails",
                                    "appointment": "Appointments", "activitypointer": "ActivityPointers"}

_ACTIVITY_INDEXED = indexed("subject", "regardingobjectid", "ownerid")


def _parties(table: str) -> dict[str, CollectionNavigation]:
    name = f"{table}_activity_parties"
    return {name: CollectionNavigation(name, "activityparty", "activityid")}


def _activity(logical: str, entity_set: str, otc: int, states: e.StateModel, **kw: object) -> Table:
    refine = dict(_ACTIVITY_INDEXED)
    if logical == "phonecall":
        refine["prioritycode"] = {"options": e.Priority}
    return cdm_table(logical, entity_set, "subject", otc, states, refine, collections=_parties(logical),
                     supports_bulk=False, state_valid_for_create=False, **kw)  # type: ignore[arg-type]


PHONECALL = _activity("phonecall", "phonecalls", 4210, e.PHONECALL_STATES)
TASK = _activity("task", "tasks", 4212, state_model("task", "Task"))
EMAIL = _activity("email", "emails", 4202, state_model("email", "Email"))
APPOINTMENT = _activity("appointment", "appointments", 4201, state_model("appointment", "Appointment"))
ACTIVITYPOINTER = cdm_table("activitypointer", "activitypointers", "subject", 4200,
                            state_model("activitypointer", "ActivityPointer"), _ACTIVITY_INDEXED,
                            supports_bulk=False, state_valid_for_create=False, creatable=False)

ACTIVITYPARTY = cdm_table("activityparty", "activityparties", "partyid", 135, None, {
    **indexed("activityid", "partyid"), "participationtypemask": {"options": e.ParticipationType},
}, supports_bulk=False)

OPPORTUNITYCLOSE = cdm_table("opportunityclose", "opportunitycloses", "subject", 4208, e.ACTIVITY_STATES, {
    **indexed("opportunityid", "ownerid"),
    "opportunitystatecode": {"options": e.OpportunityState},
    "opportunitystatuscode": {"options": e.OpportunityStatus},
}, state_valid_for_create=False)

ACTIVITY_TABLES: tuple[Table, ...] = (PHONECALL, TASK, EMAIL, APPOINTMENT, ACTIVITYPOINTER, ACTIVITYPARTY,
                                      OPPORTUNITYCLOSE)
