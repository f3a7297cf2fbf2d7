"""Unbound functions of Microsoft's Web API functions-and-actions sample.

- ``FormatAddress(Line1=@p1,City=@p2,StateOrProvince=@p3,PostalCode=@p4,Country=@p5)``:
  the address as one ``\\r\\n``-separated string. Japan's order (postal code, prefecture,
  city, line, country) is used for ``JAPAN``/``JP``/``日本``; every other country gets the
  US order (line, ``City, State PostalCode``, country). The service knows more regional
  formats; the mock knows these two (the ones the sample shows). The formatting lives in
  :mod:`d365lab.mock.address_format`, which the composite address columns share.
- ``InitializeFrom(EntityMoniker=@p1,TargetEntityName=@p2,TargetFieldType=@p3)``: the data
  for a new row created from an existing one. The mock has no column mappings, so (as the
  sample shows for a tenant without mappings) only the lookup binding the new row to the
  source comes back: ``{"@odata.type": "#Microsoft.Dynamics.CRM.account",
  "parentaccountid@odata.bind": "accounts(<id>)"}``.
- ``RetrieveCurrentOrganization(AccessType=@p1)`` with
  ``Microsoft.Dynamics.CRM.EndpointAccessType'Default'`` (or ``'Internet'``/``'Intranet'``):
  the organization's ``Detail`` (id, name, version, endpoints on the mock's own URL).
- ``RetrieveTotalRecordCount(EntityNames=@p1)`` with ``["account","contact"]``: the row count
  of each table (exact: the mock's "snapshot" is always current).
"""

from __future__ import annotations

import json
import re
from typing import Any

from d365lab.mock import address_format
from d365lab.mock import service_errors as errors
from d365lab.mock.codec import parse_entity_reference
from d365lab.mock.handlers.registry import OperationCall, OperationResult, function
from d365lab.mock.store import quote
from d365lab.mock.tenant_api import Tenant
from d365lab.models.schema import TABLES, TYPE_NAMESPACE, Table

_ENUM_LITERAL = re.compile(r"^(?:Microsoft\.Dynamics\.CRM\.)?(?P<type>\w+)'(?P<member>\w+)'$")
_ACCESS_TYPES = frozenset({"Default", "Internet", "Intranet"})
_FIELD_TYPES = frozenset({"ValidForCreate", "ValidForUpdate", "ValidForRead", "ValidForAdvancedFind"})


def _text(call: OperationCall, name: str) -> str:
    value = call.parameters.get(name)
    return "" if value is None else str(value)


@function("FormatAddress")
def format_address(tenant: Tenant, call: OperationCall) -> OperationResult:
    """An address formatted for its country (Japanese or US order)."""
    del tenant
    address = address_format.format_address(
        [_text(call, "Line1")], _text(call, "City"), _text(call, "StateOrProvince"),
        _text(call, "PostalCode"), _text(call, "Country"))
    return OperationResult(200, {"@odata.context": call.response_context("FormatAddress"), "Address": address})


def enum_member(raw: Any, enum_type: str, members: frozenset[str]) -> str:
    """``Microsoft.Dynamics.CRM.EndpointAccessType'Default'`` -> ``"Default"`` (400 for another type or member)."""
    match = _ENUM_LITERAL.match(str(raw or "").strip())
    if match is None or match.group("type") != enum_type or match.group("member") not in members:
        raise errors.bad_request(
            f"The value '{raw}' is not a valid {TYPE_NAMESPACE}.{enum_type} member "
            f"(expected {TYPE_NAMESPACE}.{enum_type}'{sorted(members)[0]}').")
    return match.group("member")


def entity_moniker(raw: Any) -> str:
    """The ``@odata.id`` of an entity-reference parameter (``{'@odata.id':'accounts(<id>)'}``)."""
    if isinstance(raw, dict):
        value = raw.get("@odata.id")
    else:
        try:
            parsed = json.loads(str(raw).replace("'", '"'))
        except ValueError:
            parsed = None
        value = parsed.get("@odata.id") if isinstance(parsed, dict) else None
    if not isinstance(value, str) or not value:
        raise errors.bad_request("EntityMoniker must be an entity reference such as {'@odata.id':'accounts(<id>)'}.")
    return value


def _binding_navigation(target: Table, source: Table) -> str:
    """The single-valued navigation of ``target`` that points to ``source`` (``parent<source>id`` first)."""
    candidates = [nav for nav, (_, to) in target.navigation_properties().items() if to == source.logical_name]
    preferred = f"parent{source.logical_name}id"
    if preferred in candidates:
        return preferred
    if not candidates:
        raise errors.bad_request(
            f"No relationship maps {source.logical_name} rows to new {target.logical_name} rows.")
    return sorted(candidates, key=len)[0]


@function("InitializeFrom")
def initialize_from(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The data of a new ``TargetEntityName`` row initialised from ``EntityMoniker`` (no column mappings)."""
    source, source_id = parse_entity_reference(tenant, entity_moniker(call.parameters.get("EntityMoniker")))
    tenant.require(source.logical_name, source_id)
    target = TABLES.get(_text(call, "TargetEntityName"))
    if target is None:
        raise errors.bad_request(f"The entity '{_text(call, 'TargetEntityName')}' does not exist.")
    enum_member(call.parameters.get("TargetFieldType"), "TargetFieldType", _FIELD_TYPES)
    body = {
        "@odata.context": f"{call.base_url}/$metadata#{target.entity_set}/$entity",
        "@odata.type": f"#{TYPE_NAMESPACE}.{target.logical_name}",
        f"{_binding_navigation(target, source)}@odata.bind": f"{source.entity_set}({source_id})",
    }
    return OperationResult(200, body, {"Preference-Applied": "return=representation"})


@function("RetrieveCurrentOrganization")
def retrieve_current_organization(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The organization's details; endpoints are on the mock's own URL."""
    enum_member(call.parameters.get("AccessType"), "EndpointAccessType", _ACCESS_TYPES)
    origin = call.base_url.split("/api/data/")[0]
    org_id = tenant.caller.organization_id
    unique = "org" + org_id.replace("-", "")[:8]
    detail = {
        "OrganizationId": org_id,
        "FriendlyName": tenant.settings.organization_name,
        "OrganizationVersion": tenant.settings.version,
        "EnvironmentId": f"Default-{org_id}",
        "DatacenterId": org_id,
        "Geo": "NA",
        "TenantId": org_id,
        "UrlName": unique,
        "UniqueName": unique,
        "State": "Enabled",
        "Endpoints": {
            "Count": 3,
            "IsReadOnly": False,
            "Keys": ["WebApplication", "OrganizationService", "OrganizationDataService"],
            "Values": [f"{origin}/", f"{origin}/XRMServices/2011/Organization.svc",
                       f"{origin}/XRMServices/2011/OrganizationData.svc"],
        },
    }
    return OperationResult(200, {"@odata.context": call.response_context("RetrieveCurrentOrganization"),
                                 "Detail": detail})


def _entity_names(raw: Any) -> list[str]:
    names = raw
    if isinstance(raw, str):
        try:
            names = json.loads(raw.replace("'", '"'))
        except ValueError:
            names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise errors.bad_request('EntityNames must be a list of table logical names, e.g. ["account","contact"].')
    return names


@function("RetrieveTotalRecordCount")
def retrieve_total_record_count(tenant: Tenant, call: OperationCall) -> OperationResult:
    """The number of rows of each named table."""
    names = _entity_names(call.parameters.get("EntityNames"))
    counts: list[int] = []
    for name in names:
        table = TABLES.get(name)
        if table is None:
            raise errors.bad_request(f"The entity '{name}' does not exist.")
        store = getattr(tenant, "store")  # noqa: B009 - the SQLite tenant's store; the protocol hides it
        counts.append(int(store.scalar(f"SELECT COUNT(*) FROM {quote(table.logical_name)}") or 0))
    collection = {"Count": len(names), "IsReadOnly": False, "Keys": names, "Values": counts}
    return OperationResult(200, {"@odata.context": call.response_context("RetrieveTotalRecordCount"),
                                 "EntityRecordCountCollection": collection})
