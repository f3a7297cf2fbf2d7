"""Unbound functions: ``WhoAmI`` and ``RetrieveVersion``."""

from __future__ import annotations

from d365lab.mock.handlers.registry import OperationCall, OperationResult, function
from d365lab.mock.tenant_api import Tenant


@function("WhoAmI")
def who_am_i(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The caller's user, business unit and organization ids (stable, seeded)."""
    caller = tenant.caller
    return OperationResult(200, {
        "@odata.context": call.response_context("WhoAmI"),
        "BusinessUnitId": caller.business_unit_id,
        "UserId": caller.user_id,
        "OrganizationId": caller.organization_id,
    })


@function("RetrieveVersion")
def retrieve_version(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The service version (``MockSettings.version``)."""
    version = getattr(getattr(tenant, "settings", None), "version", "9.2")
    return OperationResult(200, {
        "@odata.context": call.response_context("RetrieveVersion"),
        "Version": version,
    })
