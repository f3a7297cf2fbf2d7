"""The rows every new mock tenant starts with.

The calling user, its business unit and organization, the base currency (USD), the
"Lead to Opportunity Sales Process" workflow and its four stages with the out-of-box
ids. Ids are constants, so a persisted tenant keeps them across restarts and
``WhoAmI`` answers the same ids every time.
"""

from __future__ import annotations

from d365lab.mock.platform_seed import seed_platform
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Caller, Ref, Row
from d365lab.models.enums import StageCategory
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS

USER_ID = "5f6c1a8e-2b7d-4c3e-9a10-0d365a100001"
BUSINESS_UNIT_ID = "5f6c1a8e-2b7d-4c3e-9a10-0d365a100002"
ORGANIZATION_ID = "5f6c1a8e-2b7d-4c3e-9a10-0d365a100003"
USD_CURRENCY_ID = "5f6c1a8e-2b7d-4c3e-9a10-0d365a100004"
#: The caller of every request (the mock has one user).
CALLER = Caller(user_id=USER_ID, business_unit_id=BUSINESS_UNIT_ID, organization_id=ORGANIZATION_ID)

#: stage name -> (category, primary entity), in process order.
_STAGES: dict[str, tuple[StageCategory, str]] = {
    "Qualify": (StageCategory.QUALIFY, "lead"),
    "Develop": (StageCategory.DEVELOP, "opportunity"),
    "Propose": (StageCategory.PROPOSE, "opportunity"),
    "Close": (StageCategory.CLOSE, "opportunity"),
}


def _system_rows(organization_name: str) -> list[tuple[str, Row]]:
    """Every seed row, as ``(table, values)`` in creation order (a row's lookups point backwards)."""
    rows: list[tuple[str, Row]] = [
        ("businessunit", {"businessunitid": BUSINESS_UNIT_ID, "name": "Contoso Coffee"}),
        ("systemuser", {
            "systemuserid": USER_ID, "firstname": "Mock",  # fullname is computed
            "lastname": "Administrator", "domainname": "admin@contoso-coffee.mock",
            "internalemailaddress": "admin@contoso-coffee.mock",
            "businessunitid": Ref("businessunit", BUSINESS_UNIT_ID), "isdisabled": False,
        }),
        ("transactioncurrency", {
            "transactioncurrencyid": USD_CURRENCY_ID, "currencyname": "US Dollar",
            "isocurrencycode": "USD", "currencysymbol": "$", "exchangerate": 1.0, "currencyprecision": 2,
        }),
        ("organization", {
            "organizationid": ORGANIZATION_ID, "name": organization_name,
            "basecurrencyid": Ref("transactioncurrency", USD_CURRENCY_ID),
        }),
        ("workflow", {
            "workflowid": LEAD_TO_OPPORTUNITY_PROCESS_ID, "name": "Lead to Opportunity Sales Process",
            "primaryentity": "lead", "category": 4, "uniquename": "leadtoopportunitysalesprocess",
        }),
    ]
    for name, (category, entity) in _STAGES.items():
        rows.append(("processstage", {
            "processstageid": STAGE_IDS[name], "stagename": name, "stagecategory": int(category),
            "primaryentitytypecode": entity, "processid": Ref("workflow", LEAD_TO_OPPORTUNITY_PROCESS_ID),
        }))
    return rows


def seed(tenant: SqliteTenant, organization_name: str) -> bool:
    """Create the seed rows a tenant lacks; return True if it created any.

    An empty tenant gets all of them; a tenant file from which a system row was removed
    (by an older mock that let it be deleted, or by hand) gets that row back, with its
    constant id, so lead creates and ``WhoAmI`` work again.
    """
    created = False
    with tenant.transaction():
        fresh = tenant.get("organization", ORGANIZATION_ID) is None  # a new or emptied tenant
        for table, values in _system_rows(organization_name):
            primary = tenant.table(table).primary_id
            if tenant.get(table, str(values[primary])) is None:
                tenant.create(table, dict(values))
                created = True
        seed_platform(tenant, fresh=fresh)
    return created
