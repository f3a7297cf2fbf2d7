"""URL routing of the service root: what a path names.

``leads``, ``leads(<id>)``, ``accounts(accountnumber='A1')``, ``leads/$count``,
``leads(<id>)/subject``, ``leads(<id>)/parentaccountid/$ref``,
``accounts(<id>)/contact_customer_accounts``, its ``/$count`` and ``/$ref``,
``leads(<id>)/Microsoft.Dynamics.CRM.QualifyLead``, ``WhoAmI()``,
``RetrieveActivePath(ProcessInstanceId=@p)``, ``EntityDefinitions(...)/...``, ``$batch``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from d365lab.mock import service_errors as errors
from d365lab.mock.handlers import registry
from d365lab.mock.handlers.registry import DEFAULT, HandlerRegistry
from d365lab.mock.relationships import one_to_many
from d365lab.mock.wire import split_outside_quotes, split_top_level
from d365lab.models.schema import BY_ENTITY_SET, TYPE_NAMESPACE, Table

NAMESPACE_PREFIX = TYPE_NAMESPACE + "."
METADATA_SETS = frozenset({"EntityDefinitions", "GlobalOptionSetDefinitions", "RelationshipDefinitions"})


class RouteKind(StrEnum):
    """What a path addresses."""

    SERVICE_ROOT = "service_root"
    METADATA_DOCUMENT = "metadata_document"
    BATCH = "batch"
    COLLECTION = "collection"
    COUNT = "count"
    ENTITY = "entity"
    PROPERTY = "property"
    REF = "ref"
    NAVIGATION_COLLECTION = "navigation_collection"
    NAVIGATION_COUNT = "navigation_count"
    COLLECTION_REF = "collection_ref"
    BOUND_ACTION = "bound_action"
    FUNCTION = "function"
    UNBOUND_ACTION = "unbound_action"
    ENTITY_DEFINITIONS = "entity_definitions"


@dataclass
class Route:
    """A parsed path: the kind, and the table/key/name it concerns."""

    kind: RouteKind
    table: Table | None = None
    key: str | None = None
    name: str | None = None
    args: str | None = None
    segments: list[str] = field(default_factory=list)


def split_segments(path: str) -> list[str]:
    """Path segments, not splitting inside parentheses or quotes."""
    text = path.strip("/")
    return split_top_level(text, "/") if text else []


def split_call(segment: str) -> tuple[str, str | None]:
    """``Name(args)`` -> ``("Name", "args")``; ``Name`` -> ``("Name", None)``."""
    if segment.endswith(")") and "(" in segment:
        name, _, rest = segment.partition("(")
        return name, rest[:-1]
    return segment, None


def parse_route(path: str, handlers: HandlerRegistry = DEFAULT) -> Route:
    """Route a path relative to the service root; unknown segments are 404 ``0x8006088a``.

    Whether a name is a message depends on ``handlers`` (the app's registry).
    """
    segments = split_segments(path)
    if not segments:
        return Route(RouteKind.SERVICE_ROOT)
    name, args = split_call(segments[0])
    rest = segments[1:]
    if name == "$batch" and not rest:
        return Route(RouteKind.BATCH)
    if name == "$metadata":
        return Route(RouteKind.METADATA_DOCUMENT)
    if name in METADATA_SETS:
        return Route(RouteKind.ENTITY_DEFINITIONS, name=name, args=args, segments=rest)
    table = BY_ENTITY_SET.get(name)
    if table is not None:
        return _table_route(table, args, rest, handlers)
    bare = name[len(NAMESPACE_PREFIX):] if name.startswith(NAMESPACE_PREFIX) else name
    if bare in handlers.functions and not rest:
        return Route(RouteKind.FUNCTION, name=bare, args=args)
    if bare in handlers.unbound_actions and not rest and args is None:
        return Route(RouteKind.UNBOUND_ACTION, name=bare)
    raise errors.unknown_segment(name)


def _table_route(table: Table, key: str | None, rest: list[str], handlers: HandlerRegistry) -> Route:
    if key is None:
        if not rest:
            return Route(RouteKind.COLLECTION, table)
        if rest == ["$count"]:
            return Route(RouteKind.COUNT, table)
        if len(rest) == 1:
            return _bound_action(table, None, rest[0], handlers)
        raise errors.unknown_segment(rest[-1])
    if not rest:
        return Route(RouteKind.ENTITY, table, key)
    if len(rest) == 1:
        segment = rest[0]
        if segment in one_to_many(table):
            return Route(RouteKind.NAVIGATION_COLLECTION, table, key, name=segment)
        if segment.startswith(NAMESPACE_PREFIX) or _is_bound_action(table, segment, handlers):
            return _bound_action(table, key, segment, handlers)
        if segment in table.columns or segment in table.navigation_properties():
            return Route(RouteKind.PROPERTY, table, key, name=segment)
        raise errors.unknown_segment(segment)
    if len(rest) == 2 and rest[1] == "$ref" and rest[0] in table.navigation_properties():
        return Route(RouteKind.REF, table, key, name=rest[0])
    if len(rest) == 2 and rest[1] == "$count" and rest[0] in one_to_many(table):
        return Route(RouteKind.NAVIGATION_COUNT, table, key, name=rest[0])
    if len(rest) == 2 and rest[1] == "$ref" and split_call(rest[0])[0] in one_to_many(table):
        name, child_key = split_call(rest[0])
        return Route(RouteKind.COLLECTION_REF, table, key, name=name, args=child_key)
    raise errors.unknown_segment(rest[-1])


def _is_bound_action(table: Table, name: str, handlers: HandlerRegistry) -> bool:
    return handlers.bound(table.logical_name, name) is not None


def _bound_action(table: Table, key: str | None, segment: str, handlers: HandlerRegistry) -> Route:
    name, _ = split_call(segment)
    if not name.startswith(NAMESPACE_PREFIX):
        if _is_bound_action(table, name, handlers):
            raise errors.bad_request("Request message has unresolved parameters.", code="0x80040203")
        raise errors.unknown_segment(segment)
    bare = name[len(NAMESPACE_PREFIX):]
    if not _is_bound_action(table, bare, handlers):
        raise errors.unknown_segment(segment)
    return Route(RouteKind.BOUND_ACTION, table, key, name=bare)


def bound_handler(table: Table, name: str, handlers: HandlerRegistry = DEFAULT) -> registry.Handler:
    """The registered handler of a bound action (table-specific before ``"*"``)."""
    found = handlers.bound(table.logical_name, name)
    if found is None:
        raise errors.unknown_segment(name)
    return found


def parse_literal(raw: str) -> Any:
    """An OData literal in a function call or alias: ``'text'``, numbers, booleans, null, JSON, GUIDs."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def function_parameters(args: str | None, query: dict[str, str]) -> dict[str, Any]:
    """``Param=@p,Other='x'`` with ``@p`` resolved from the query string."""
    params: dict[str, Any] = {}
    if not args:
        return params
    for item in split_outside_quotes(args):
        name, sep, raw = item.partition("=")
        if not sep:
            raise errors.bad_request(f"Malformed function parameter '{item}'.")
        raw = raw.strip()
        if raw.startswith("@"):
            if raw not in query:
                raise errors.bad_request(f"The parameter alias '{raw}' has no value in the query string.")
            raw = query[raw]
        params[name.strip()] = parse_literal(raw)
    return params
