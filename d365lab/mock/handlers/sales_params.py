"""Parsing of action parameters shared by the Sales message handlers.

Entity-typed parameters arrive as ``{"@odata.type": "Microsoft.Dynamics.CRM.account",
"accountid": "<guid>"}``; navigation binds as ``"/opportunities(<guid>)"``, relative
without the slash, or absolute.
"""

from __future__ import annotations

import re
from typing import Any

from d365lab.mock.service_errors import bad_request
from d365lab.mock.tenant_api import Ref, Tenant
from d365lab.models.schema import TABLES, TYPE_NAMESPACE

_BIND = re.compile(r"(?:^|/)([A-Za-z_][A-Za-z0-9_]*)\(([0-9a-fA-F-]{36})\)$")


def type_name(value: object) -> str | None:
    """The logical name in an ``@odata.type`` value (``"#Microsoft.Dynamics.CRM.lead"`` -> ``"lead"``)."""
    if not isinstance(value, str):
        return None
    name = value.lstrip("#")
    prefix = f"{TYPE_NAMESPACE}."
    return name[len(prefix):] if name.startswith(prefix) else None


def required_bool(parameters: dict[str, Any], name: str) -> bool:
    """A required Edm.Boolean parameter, or 400."""
    value = parameters.get(name)
    if not isinstance(value, bool):
        raise bad_request(
            f"The parameter '{name}' is required and must be a boolean (true or false); got {value!r}.")
    return value


def required_int(parameters: dict[str, Any], name: str) -> int:
    """A required Edm.Int32 parameter, or 400."""
    value = parameters.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"The parameter '{name}' is required and must be an integer; got {value!r}.")
    return value


def entity_reference(tenant: Tenant, parameters: dict[str, Any], name: str,
                     allowed: tuple[str, ...]) -> Ref | None:
    """An optional entity-typed parameter as a :class:`Ref` to an existing row.

    400 when it is not one of ``allowed`` or has no id; 404 when the row does not exist.
    """
    value = parameters.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request(f"The parameter '{name}' must be an entity object with @odata.type and its id.")
    logical = type_name(value.get("@odata.type"))
    if logical is None and len(allowed) == 1:
        logical = allowed[0]
    if logical not in allowed:
        kinds = " or ".join(f"{TYPE_NAMESPACE}.{t}" for t in allowed)
        raise bad_request(
            f"The parameter '{name}' must be of type {kinds}; got @odata.type {value.get('@odata.type')!r}.")
    primary = TABLES[logical].primary_id
    record_id = value.get(primary)
    if not isinstance(record_id, str) or not record_id:
        raise bad_request(f"The parameter '{name}' must carry '{primary}'.")
    tenant.require(logical, record_id.lower())
    return Ref(logical, record_id.lower())


def parse_bind(value: object, entity_set: str) -> str | None:
    """The id in a bind value pointing to ``entity_set``, or None if it does not point there."""
    if not isinstance(value, str):
        return None
    match = _BIND.search(value.strip())
    if match is None or match.group(1) != entity_set:
        return None
    return match.group(2).lower()
