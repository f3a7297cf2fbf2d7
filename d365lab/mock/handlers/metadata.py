"""Metadata: ``EntityDefinitions``, their ``Attributes`` and option sets, the service document.

Built from :mod:`d365lab.models.schema`. Covers the shapes clients parse to find entity
set names, primary ids, attribute types and picklist options (Microsoft's Python SDK
resolves entity sets with ``EntityDefinitions?$select=…&$filter=LogicalName eq '…'`` and
reads picklists through ``Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from xml.sax.saxutils import escape

from d365lab.mock import service_errors as errors
from d365lab.mock.audit_metadata import attribute_audit, entity_audit, update_attribute_definition
from d365lab.mock.codec import declared_keys
from d365lab.mock.handlers.relationship_metadata import (
    ENTITY_SEGMENTS,
    entity_relationships,
    relationship_definitions,
    table_relationships,
)
from d365lab.mock.metadata_filter import compile_filter, select_properties
from d365lab.mock.relationships import one_to_many
from d365lab.mock.routing import NAMESPACE_PREFIX, Route, split_call
from d365lab.mock.tenant_api import Tenant
from d365lab.mock.wire import MockRequest, MockResponse, json_response
from d365lab.models.enums import label_of
from d365lab.models.schema import TABLES, Column, ColumnType, Table

_NAMESPACE = uuid.UUID("8b0a4c9e-7d53-4e55-9a3b-0d365a1ab001")
_SCHEMA_NAMES = {
    "opportunityclose": "OpportunityClose", "leadtoopportunitysalesprocess": "LeadToOpportunitySalesProcess",
    "processstage": "ProcessStage", "systemuser": "SystemUser", "businessunit": "BusinessUnit",
    "transactioncurrency": "TransactionCurrency", "phonecall": "PhoneCall", "activityparty": "ActivityParty",
}
_TYPE_NAMES = {
    ColumnType.GUID: "UniqueidentifierType", ColumnType.STRING: "StringType", ColumnType.MEMO: "MemoType",
    ColumnType.INTEGER: "IntegerType", ColumnType.BIGINT: "BigIntType", ColumnType.BOOLEAN: "BooleanType",
    ColumnType.MONEY: "MoneyType", ColumnType.DOUBLE: "DoubleType", ColumnType.DECIMAL: "DecimalType",
    ColumnType.DATETIME: "DateTimeType", ColumnType.DATEONLY: "DateTimeType",
    ColumnType.PICKLIST: "PicklistType", ColumnType.STATE: "StateType", ColumnType.STATUS: "StatusType",
    ColumnType.LOOKUP: "LookupType", ColumnType.CUSTOMER: "CustomerType", ColumnType.OWNER: "OwnerType",
    ColumnType.ENTITYNAME: "EntityNameType",
}
_METADATA_CLASSES = {
    ColumnType.STRING: "StringAttributeMetadata", ColumnType.MEMO: "MemoAttributeMetadata",
    ColumnType.INTEGER: "IntegerAttributeMetadata", ColumnType.BIGINT: "BigIntAttributeMetadata",
    ColumnType.BOOLEAN: "BooleanAttributeMetadata", ColumnType.MONEY: "MoneyAttributeMetadata",
    ColumnType.DOUBLE: "DoubleAttributeMetadata", ColumnType.DECIMAL: "DecimalAttributeMetadata",
    ColumnType.DATETIME: "DateTimeAttributeMetadata", ColumnType.DATEONLY: "DateTimeAttributeMetadata",
    ColumnType.PICKLIST: "PicklistAttributeMetadata", ColumnType.STATE: "StateAttributeMetadata",
    ColumnType.STATUS: "StatusAttributeMetadata", ColumnType.LOOKUP: "LookupAttributeMetadata",
    ColumnType.CUSTOMER: "LookupAttributeMetadata", ColumnType.OWNER: "LookupAttributeMetadata",
    ColumnType.GUID: "UniqueIdentifierAttributeMetadata", ColumnType.ENTITYNAME: "EntityNameAttributeMetadata",
}


#: The schema's requirement levels (from Microsoft's definitions) as AttributeRequiredLevel names.
_REQUIRED_LEVELS = {"systemrequired": "SystemRequired", "applicationrequired": "ApplicationRequired",
                    "recommended": "Recommended"}


def metadata_id(*parts: str) -> str:
    """A stable MetadataId for a table or attribute."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def schema_name(logical_name: str) -> str:
    """The SchemaName of a table or attribute (PascalCase for the known compound names)."""
    return _SCHEMA_NAMES.get(logical_name, logical_name[:1].upper() + logical_name[1:])


def _label(text: str) -> dict[str, Any]:
    localized = {"Label": text, "LanguageCode": 1033, "IsManaged": True}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def entity_metadata(table: Table) -> dict[str, Any]:
    """The EntityMetadata properties clients read."""
    return {
        "@odata.type": "#Microsoft.Dynamics.CRM.EntityMetadata",
        "MetadataId": metadata_id(table.logical_name),
        "LogicalName": table.logical_name,
        "SchemaName": schema_name(table.logical_name),
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "CollectionSchemaName": schema_name(table.entity_set),
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "ObjectTypeCode": table.object_type_code,
        "IsCustomEntity": False,
        "IsPrivate": False,
        "IsIntersect": False,
        "IsActivity": table.primary_id == "activityid",
        "OwnershipType": "UserOwned" if "ownerid" in table.columns else "OrganizationOwned",
        "DisplayName": _label(table.display_name or table.logical_name.title()),
    }


def attribute_metadata(table: Table, column: Column, tenant: Tenant | None = None) -> dict[str, Any]:
    """The AttributeMetadata of one column (with its type-specific properties)."""
    kind = column.type
    attribute_type = "DateTime" if kind is ColumnType.DATEONLY else kind.value
    out: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{_METADATA_CLASSES[kind]}",
        "MetadataId": metadata_id(table.logical_name, column.name),
        "LogicalName": column.name,
        "SchemaName": schema_name(column.name),
        "EntityLogicalName": table.logical_name,
        "AttributeType": attribute_type,
        "AttributeTypeName": {"Value": _TYPE_NAMES[kind]},
        "IsPrimaryId": column.name == table.primary_id,
        "IsPrimaryName": column.name == table.primary_name,
        "IsValidForCreate": column.valid_for_create and not column.read_only
        and not (column.name == "statecode" and not table.state_valid_for_create),
        "IsValidForUpdate": not column.read_only and column.name != table.primary_id,
        "IsValidForRead": True,
        "IsCustomAttribute": False,
        "IsLogical": False,
        "RequiredLevel": {"Value": "SystemRequired" if column.name == table.primary_id
                          else _REQUIRED_LEVELS.get(column.required_level, "None")},
        "DisplayName": _label(column.display_name or column.name),
        **attribute_audit(table, column, tenant),
    }
    if column.max_length is not None:
        out["MaxLength"] = column.max_length
    if column.is_lookup:
        out["Targets"] = list(column.targets)
    if column.min_value is not None:
        out["MinValue"] = column.min_value
    if column.max_value is not None:
        out["MaxValue"] = column.max_value
    if kind is ColumnType.MONEY:  # "<money attribute name>_Base" is the base-currency attribute
        stem = column.name.removesuffix("_base")
        out["IsBaseCurrency"] = stem != column.name and stem in table.columns
    if kind is ColumnType.DATEONLY:
        out["DateTimeBehavior"] = {"Value": "DateOnly"}
        out["Format"] = "DateOnly"
    elif kind is ColumnType.DATETIME:
        out["DateTimeBehavior"] = {"Value": "UserLocal"}
        out["Format"] = "DateAndTime"
    return out


def option_set(table: Table, column: Column) -> dict[str, Any] | None:
    """The OptionSet of a picklist, state, status or two-option (boolean) column."""
    if column.type is ColumnType.BOOLEAN:
        return boolean_option_set(table, column)
    if column.options is None:
        return None
    options: list[dict[str, Any]] = []
    for member in column.options:
        option: dict[str, Any] = {"Value": int(member), "Label": _label(label_of(member))}
        if column.type is ColumnType.STATUS and table.states is not None:
            option["State"] = table.states.state_of(int(member))
        if column.type is ColumnType.STATE and table.states is not None:
            option["DefaultStatus"] = table.states.default_status(int(member))
            option["InvariantName"] = member.name.title().replace("_", "")
        options.append(option)
    return {
        "MetadataId": metadata_id(table.logical_name, column.name, "optionset"),
        "Name": f"{table.logical_name}_{column.name}",
        "IsGlobal": False,
        "OptionSetType": column.type.value,
        "Options": options,
    }


def boolean_option_set(table: Table, column: Column) -> dict[str, Any]:
    """The BooleanOptionSetMetadata of a two-option column: its own true and false labels."""
    return {
        "MetadataId": metadata_id(table.logical_name, column.name, "optionset"),
        "Name": f"{table.logical_name}_{column.name}",
        "IsGlobal": False,
        "OptionSetType": "Boolean",
        "TrueOption": {"Value": 1, "Label": _label(column.true_label)},
        "FalseOption": {"Value": 0, "Label": _label(column.false_label)},
    }


# ------------------------------------------------------------------- handling

def _find_table(args: str) -> Table:
    key = args.strip()
    match = re.fullmatch(r"LogicalName\s*=\s*'([^']*)'", key)
    if match:
        found = TABLES.get(match.group(1).lower())
    else:
        found = next((t for t in TABLES.values() if metadata_id(t.logical_name) == key.lower()), None)
    if found is None:
        raise errors.MockError(404, "0x80040217", f"Could not find entity with key {key}.")
    return found


def find_table(args: str) -> Table:
    """The table an ``EntityDefinitions(…)`` key names (``LogicalName='lead'`` or a MetadataId); 404 when none."""
    return _find_table(args)


def _find_column(table: Table, args: str) -> Column:
    key = args.strip()
    match = re.fullmatch(r"LogicalName\s*=\s*'([^']*)'", key)
    name = match.group(1).lower() if match else next(
        (c.name for c in table.columns.values() if metadata_id(table.logical_name, c.name) == key.lower()), "")
    column = table.columns.get(name)
    if column is None:
        raise errors.MockError(404, "0x80040217", f"Could not find attribute with key {key} on {table.logical_name}.")
    return column


def update_attribute(tenant: Tenant, request: MockRequest, table: Table, segments: list[str]) -> MockResponse:
    """``PUT EntityDefinitions(…)/Attributes(LogicalName='x')``: a column's definition (its audit switch)."""
    name, args = split_call(segments[0])
    if name != "Attributes" or args is None or len(segments) != 1:
        raise errors.unknown_segment(segments[-1])
    column = _find_column(table, args)
    return update_attribute_definition(tenant, request, table, column, _METADATA_CLASSES[column.type])


def handle(tenant: Tenant, request: MockRequest, route: Route) -> MockResponse:
    """GET on ``EntityDefinitions`` and below."""
    base = request.base_url
    query = request.query
    if route.name == "RelationshipDefinitions":
        return relationship_definitions(request, route.args, route.segments)
    if route.name != "EntityDefinitions":
        return json_response(200, {"@odata.context": f"{base}/$metadata#{route.name}", "value": []})
    if route.args is None:
        if route.segments:
            raise errors.unknown_segment(route.segments[0])
        described = [{**entity_metadata(t), **entity_audit(tenant, t), **_tracking(tenant, t)} for t in TABLES.values()]
        keep = compile_filter(query.get("$filter"))
        items = [select_properties(d, query.get("$select")) for d in described if keep(d)]
        selected = query.get("$select")
        context = f"{base}/$metadata#EntityDefinitions" + (f"({selected})" if selected else "")
        return json_response(200, {"@odata.context": context, "value": items})
    table = _find_table(route.args)
    if not route.segments:
        described_one = {**entity_metadata(table), **entity_audit(tenant, table), **_tracking(tenant, table)}
        body = select_properties(described_one, query.get("$select"))
        if "Attributes" in query.get("$expand", ""):
            nested = re.search(r"Attributes\(\$select=([^;)]*)", query["$expand"])
            body["Attributes"] = [select_properties(attribute_metadata(table, c, tenant),
                                                  nested.group(1) if nested else None)
                                  for c in table.columns.values()]
        if "Keys" in query.get("$expand", ""):
            nested = re.search(r"Keys\(\$select=([^;)]*)", query["$expand"])
            body["Keys"] = [select_properties(key, nested.group(1) if nested else None)
                            for key in key_metadata(tenant, table)]
        for segment in ENTITY_SEGMENTS:
            if segment in query.get("$expand", ""):
                body[segment] = entity_relationships(table, segment)
        body["@odata.context"] = f"{base}/$metadata#EntityDefinitions/$entity"
        return json_response(200, body)
    if split_call(route.segments[0])[0] in ENTITY_SEGMENTS:
        return table_relationships(request, table, route.segments)
    if route.segments == ["Keys"]:
        items = [select_properties(key, query.get("$select")) for key in key_metadata(tenant, table)]
        return json_response(200, {"@odata.context": f"{base}/$metadata#EntityDefinitions('{table.logical_name}')/Keys",
                                   "value": items})
    return _attributes(table, request, route.segments, tenant)


def _tracking(tenant: Tenant, table: Table) -> dict[str, Any]:
    """``ChangeTrackingEnabled`` as ``MockSettings.change_tracking`` says."""
    return {"ChangeTrackingEnabled": table.logical_name in tenant.settings.change_tracking,
            "CanChangeTrackingBeEnabled": {"Value": True, "CanBeChanged": False,
                                           "ManagedPropertyLogicalName": "canchangetrackingbeenabled"}}


def key_metadata(tenant: Tenant, table: Table) -> list[dict[str, Any]]:
    """The EntityKeyMetadata of the table's declared alternate keys (``MockSettings.alternate_keys``).

    Names are the mock's own (``accountnumber_key``); the index is always ``Active``.
    """
    items: list[dict[str, Any]] = []
    for columns in declared_keys(tenant, table) or []:
        logical_name = "_".join(columns) + "_key"
        items.append({
            "MetadataId": metadata_id(table.logical_name, "keys", logical_name),
            "LogicalName": logical_name,
            "SchemaName": schema_name(logical_name),
            "EntityLogicalName": table.logical_name,
            "KeyAttributes": list(columns),
            "EntityKeyIndexStatus": "Active",
            "AsyncJob": None,
            "DisplayName": _label(" ".join(columns).title() + " Key"),
            "IsManaged": False,
            "IsCustomizable": {"Value": True, "CanBeChanged": True, "ManagedPropertyLogicalName": "iscustomizable"},
            "IntroducedVersion": "1.0",
            "HasChanged": None,
        })
    return items


def _attributes(table: Table, request: MockRequest, segments: list[str], tenant: Tenant | None = None) -> MockResponse:
    base = request.base_url
    name, args = split_call(segments[0])
    if name != "Attributes" or len(segments) > 2:
        raise errors.unknown_segment(segments[-1])
    cast = segments[1][len(NAMESPACE_PREFIX):] if len(segments) == 2 else None
    if cast is not None and not segments[1].startswith(NAMESPACE_PREFIX):
        raise errors.unknown_segment(segments[1])
    expand_options = "OptionSet" in request.query.get("$expand", "") or "GlobalOptionSet" in request.query.get(
        "$expand", "")
    select = request.query.get("$select")

    def render(column: Column) -> dict[str, Any]:
        item = select_properties(attribute_metadata(table, column, tenant), select)
        if expand_options:
            item["OptionSet"] = option_set(table, column)
            if "GlobalOptionSet" in request.query.get("$expand", ""):
                item["GlobalOptionSet"] = None
        return item

    if args is None:
        columns = [c for c in table.columns.values()
                   if cast is None or _METADATA_CLASSES[c.type] == cast]
        keep = compile_filter(request.query.get("$filter"))
        items = [render(c) for c in columns if keep(attribute_metadata(table, c, tenant))]
        context = f"{base}/$metadata#EntityDefinitions('{table.logical_name}')/Attributes"
        return json_response(200, {"@odata.context": context + (f"/{NAMESPACE_PREFIX}{cast}" if cast else ""),
                                   "value": items})
    column = _find_column(table, args)
    if cast is not None and _METADATA_CLASSES[column.type] != cast:
        raise errors.bad_request(f"The attribute '{column.name}' is not a {cast}.")
    body = render(column)
    body["@odata.context"] = f"{base}/$metadata#EntityDefinitions('{table.logical_name}')/Attributes/$entity"
    return json_response(200, body)


def service_document(request: MockRequest) -> MockResponse:
    """GET on the service root: the entity sets."""
    return json_response(200, {
        "@odata.context": f"{request.base_url}/$metadata",
        "value": [{"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set} for t in TABLES.values()],
    })


_EDM = {
    ColumnType.GUID: "Edm.Guid", ColumnType.INTEGER: "Edm.Int32", ColumnType.BIGINT: "Edm.Int64",
    ColumnType.BOOLEAN: "Edm.Boolean", ColumnType.MONEY: "Edm.Decimal", ColumnType.DOUBLE: "Edm.Double",
    ColumnType.DECIMAL: "Edm.Decimal", ColumnType.DATETIME: "Edm.DateTimeOffset", ColumnType.DATEONLY: "Edm.Date",
    ColumnType.PICKLIST: "Edm.Int32", ColumnType.STATE: "Edm.Int32", ColumnType.STATUS: "Edm.Int32",
}


def metadata_document(request: MockRequest) -> MockResponse:
    """A CSDL document with the entity types, keys, properties, navigation properties and sets."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
             "<edmx:DataServices>",
             '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">']
    for t in TABLES.values():
        lines.append(f'<EntityType Name="{t.logical_name}"><Key><PropertyRef Name="{t.primary_id}"/></Key>')
        for c in t.columns.values():
            edm = _EDM.get(c.type, "Edm.String")
            lines.append(f'<Property Name="{escape(c.value_property)}" Type="{edm}"/>')
        for nav, (_, target) in t.navigation_properties().items():
            lines.append(f'<NavigationProperty Name="{escape(nav)}" Type="mscrm.{target}"/>')
        for relation in one_to_many(t).values():
            lines.append(f'<NavigationProperty Name="{relation.name}" Type="Collection(mscrm.{relation.target})"/>')
        lines.append("</EntityType>")
    lines.append('<EntityContainer Name="System">')
    lines += [f'<EntitySet Name="{t.entity_set}" EntityType="mscrm.{t.logical_name}"/>' for t in TABLES.values()]
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    out = MockResponse(200, body="\n".join(lines).encode())
    out.headers["Content-Type"] = "application/xml"
    return out
