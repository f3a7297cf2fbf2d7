"""The rows every new mock tenant starts with.

The calling user, its business unit and organization, the base currency (USD), the
"Lead to Opportunity Sales Process" workflow and its four stages with the out-of-box
ids. Ids are constants, so a persisted tenant keeps them across restarts and
``WhoAmI`` answers the same ids every time.
"""

from __future__ import annotations

from d365lab.mock.platform_seed import seed_platform
from d365lab.mock.tenant import SqliteTenant
from d365lab.mock.tenant_api import Caller, Ref
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


def seed(tenant: SqliteTenant, organization_name: str) -> bool:
    """Create the seed rows when the tenant is empty; return True if it seeded."""
    with tenant.transaction():
        if tenant.get("systemuser", USER_ID) is not None:
            seed_platform(tenant)
            return False
        tenant.create("businessunit", {"businessunitid": BUSINESS_UNIT_ID, "name": "Contoso Coffee"})
        tenant.create("systemuser", {
            "systemuserid": USER_ID, "fullname": "Mock Administrator", "firstname": "Mock",
            "lastname": "Administrator", "domainname": "admin@contoso-coffee.mock",
            "internalemailaddress": "admin@contoso-coffee.mock",
            "businessunitid": Ref("businessunit", BUSINESS_UNIT_ID), "isdisabled": False,
        })
        tenant.create("transactioncurrency", {
            "transactioncurrencyid": USD_CURRENCY_ID, "currencyname": "US Dollar",
            "isocurrencycode": "USD", "currencysymbol": "$", "exchangerate": 1.0, "currencyprecision": 2,
        })
        tenant.create("organization", {
            "organizationid": ORGANIZATION_ID, "name": organization_name,
            "basecurrencyid": Ref("transactioncurrency", USD_CURRENCY_ID),
        })
        tenant.create("workflow", {
            "workflowid": LEAD_TO_OPPORTUNITY_PROCESS_ID, "name": "Lead to Opportunity Sales Process",
            "primaryentity": "lead", "category": 4, "uniquename": "leadtoopportunitysalesprocess",
        })
        for name, (category, entity) in _STAGES.items():
            tenant.create("processstage", {
                "processstageid": STAGE_IDS[name], "stagename": name, "stagecategory": int(category),
                "primaryentitytypecode": entity,
                "processid": Ref("workflow", LEAD_TO_OPPORTUNITY_PROCESS_ID),
            })
        seed_platform(tenant, fresh=True)
        return True
