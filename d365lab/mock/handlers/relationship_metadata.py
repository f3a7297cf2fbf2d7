"""Relationship metadata: ``RelationshipDefinitions`` and ``EntityDefinitions(...)/…Relationships``.

Exactly the relationships whose navigations the mock serves (:mod:`d365lab.mock.relationships`):
every one-to-many navigation (``contact_customer_accounts``: account 1:N contact through
``parentcustomerid``) as OneToManyRelationshipMetadata, and the N:N ones as
ManyToManyRelationshipMetadata. Each relationship's SchemaName is its collection-valued
navigation's name, as for the out-of-box relationships. Served routes:

- ``RelationshipDefinitions`` (``$select``, ``$filter``), ``RelationshipDefinitions(<MetadataId>)``
  or ``(SchemaName='x')``, and the casts ``/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata``
  / ``ManyToManyRelationshipMetadata`` on the collection or one item;
- ``EntityDefinitions(...)/OneToManyRelationships`` (the table is the referenced one),
  ``/ManyToOneRelationships`` (the table is the referencing one), ``/ManyToManyRelationships``,
  with ``$select``/``$filter``, and ``(<MetadataId>)`` or ``(SchemaName='x')`` on them.
"""

from __future__ import annotations

import re
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.metadata_filter import compile_filter, select_properties
from d365lab.mock.relationships import MANY_TO_MANY, ManyToMany, OneToMany, one_to_many
from d365lab.mock.routing import NAMESPACE_PREFIX, split_call
from d365lab.mock.wire import MockRequest, MockResponse, json_response
from d365lab.models.schema import TABLES, Table

ONE_TO_MANY_TYPE = "OneToManyRelationshipMetadata"
MANY_TO_MANY_TYPE = "ManyToManyRelationshipMetadata"
ENTITY_SEGMENTS = frozenset({"OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"})
_CASCADE = {"Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade", "Reparent": "NoCascade",
            "Share": "NoCascade", "Unshare": "NoCascade", "RollupView": "NoCascade"}


def _metadata_id(*parts: str) -> str:
    from d365lab.mock.handlers.metadata import metadata_id

    return metadata_id("relationship", *parts)


def _referencing_navigation(child: Table, column: str, parent: str) -> str | None:
    """The single-valued navigation of ``child`` through ``column`` to ``parent`` (``parentcustomerid_account``)."""
    for name, (nav_column, target) in child.navigation_properties().items():
        if nav_column.name == column and target == parent:
            return name
    return None


def one_to_many_metadata(parent: Table, relation: OneToMany) -> dict[str, Any]:
    """The OneToManyRelationshipMetadata of a one-to-many navigation of ``parent``."""
    child = TABLES[relation.target]
    return {
        "@odata.type": f"#{NAMESPACE_PREFIX}{ONE_TO_MANY_TYPE}",
        "MetadataId": _metadata_id(relation.name),
        "SchemaName": relation.name,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": False,
        "IsValidForAdvancedFind": True,
        "IsManaged": True,
        "SecurityTypes": "Append",
        "ReferencedEntity": parent.logical_name,
        "ReferencedAttribute": parent.primary_id,
        "ReferencingEntity": child.logical_name,
        "ReferencingAttribute": relation.column,
        "ReferencedEntityNavigationPropertyName": relation.name,
        "ReferencingEntityNavigationPropertyName": _referencing_navigation(child, relation.column, parent.logical_name),
        "IsHierarchical": parent.logical_name == child.logical_name,
        "CascadeConfiguration": dict(_CASCADE),
    }


def many_to_many_metadata(relation: ManyToMany) -> dict[str, Any]:
    """The ManyToManyRelationshipMetadata of an N:N relationship."""
    return {
        "@odata.type": f"#{NAMESPACE_PREFIX}{MANY_TO_MANY_TYPE}",
        "MetadataId": _metadata_id(relation.name),
        "SchemaName": relation.name,
        "RelationshipType": "ManyToManyRelationship",
        "IsCustomRelationship": False,
        "IsValidForAdvancedFind": True,
        "IsManaged": True,
        "SecurityTypes": "None",
        "Entity1LogicalName": relation.table1,
        "Entity1IntersectAttribute": relation.column1,
        "Entity1NavigationPropertyName": relation.name,
        "Entity2LogicalName": relation.table2,
        "Entity2IntersectAttribute": relation.column2,
        "Entity2NavigationPropertyName": relation.name,
        "IntersectEntityName": relation.intersect,
    }


def all_relationships() -> list[dict[str, Any]]:
    """Every relationship the mock serves, one-to-many first."""
    out = [one_to_many_metadata(table, relation)
           for table in TABLES.values() for relation in one_to_many(table).values() if relation.intersect is None]
    out += [many_to_many_metadata(r) for r in MANY_TO_MANY if r.table1 in TABLES and r.table2 in TABLES]
    return out


def entity_relationships(table: Table, segment: str) -> list[dict[str, Any]]:
    """The relationships of ``EntityDefinitions(<table>)/<segment>``."""
    every = all_relationships()
    if segment == "OneToManyRelationships":
        return [r for r in every if r.get("ReferencedEntity") == table.logical_name]
    if segment == "ManyToOneRelationships":
        return [r for r in every if r.get("ReferencingEntity") == table.logical_name]
    return [r for r in every if table.logical_name in (r.get("Entity1LogicalName"), r.get("Entity2LogicalName"))]


def _pick(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    text = key.strip()
    by_name = re.fullmatch(r"SchemaName\s*=\s*'([^']*)'", text)
    for item in items:
        if (by_name and item["SchemaName"].lower() == by_name.group(1).lower()) or item["MetadataId"] == text.lower():
            return item
    raise errors.MockError(404, "0x80040217", f"Could not find relationship with key {text}.")


def _cast(items: list[dict[str, Any]], segment: str | None) -> tuple[list[dict[str, Any]], str]:
    if segment is None:
        return items, ""
    if not segment.startswith(NAMESPACE_PREFIX) or segment[len(NAMESPACE_PREFIX):] not in (
            ONE_TO_MANY_TYPE, MANY_TO_MANY_TYPE):
        raise errors.unknown_segment(segment)
    wanted = "#" + segment
    return [i for i in items if i["@odata.type"] == wanted], "/" + segment


def answer(request: MockRequest, context: str, items: list[dict[str, Any]], key: str | None,
           rest: list[str]) -> MockResponse:
    """A relationship collection, or one item of it, with the request's cast, $filter and $select."""
    if len(rest) > 1:
        raise errors.unknown_segment(rest[-1])
    cast = rest[0] if rest else None
    items, cast_suffix = _cast(items, cast)
    select = request.query.get("$select")
    if key is not None:
        body = select_properties(_pick(items, key), select)
        return json_response(200, {"@odata.context": f"{context}{cast_suffix}/$entity", **body})
    keep = compile_filter(request.query.get("$filter"))
    values = [select_properties(item, select) for item in items if keep(item)]
    return json_response(200, {"@odata.context": context + cast_suffix, "value": values})


def relationship_definitions(request: MockRequest, key: str | None, rest: list[str]) -> MockResponse:
    """``RelationshipDefinitions[(key)][/cast]``."""
    return answer(request, f"{request.base_url}/$metadata#RelationshipDefinitions", all_relationships(), key, rest)


def table_relationships(request: MockRequest, table: Table, segments: list[str]) -> MockResponse:
    """``EntityDefinitions(<table>)/OneToManyRelationships[(key)]`` and its siblings."""
    name, key = split_call(segments[0])
    context = f"{request.base_url}/$metadata#EntityDefinitions('{table.logical_name}')/{name}"
    return answer(request, context, entity_relationships(table, name), key, segments[1:])
