"""Requests that call Dataverse actions (POST) and functions (GET).

Bound operations use the full ``Microsoft.Dynamics.CRM.`` name (mandatory on Dataverse);
unbound ones use the bare name. Function parameters are passed as aliases (``F(X=@p1)?@p1=...``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from d365lab.errors import ClientValidationError
from d365lab.odata import encode_params, key_segment, literal
from d365lab.tables import resolve
from d365lab.webapi.request import Answer, Request, json_answer

NAMESPACE = "Microsoft.Dynamics.CRM"
Binding = tuple[str, str | None]


def operation_path(name: str, bound: Binding | None) -> str:
    """``leads(<id>)/Microsoft.Dynamics.CRM.QualifyLead``, ``leads/Microsoft.Dynamics.CRM.CreateMultiple``
    or ``WinOpportunity``."""
    if not name.replace("_", "").isalnum():
        raise ClientValidationError(f"{name!r} is not an operation name")
    if bound is None:
        return name
    table, record_id = bound
    info = resolve(table)
    target = key_segment(info.entity_set, record_id) if record_id else info.entity_set
    return f"{target}/{NAMESPACE}.{name}"


def object_answer(answer: Answer) -> dict[str, Any] | None:
    """An action's JSON result, or None for ``204 No Content`` (or a non-object answer)."""
    result = answer.json()
    return result if isinstance(result, dict) else None


def action(name: str, parameters: Mapping[str, Any] | None = None, *,
           bound: Binding | None = None) -> Request[dict[str, Any] | None]:
    """POST an action; decodes to its JSON result, or None for ``204 No Content``.

    Actions are not idempotent, so they are retried only when they cannot have run
    (throttled, service unavailable, connection refused).
    """
    return Request("POST", operation_path(name, bound), object_answer, body=dict(parameters or {}),
                   idempotent=False)


def function(name: str, parameters: Mapping[str, Any] | None = None, *, bound: Binding | None = None) -> Request[Any]:
    """GET a function; decodes to its JSON result."""
    path = operation_path(name, bound)
    query: str | None = None
    if parameters:
        aliases = []
        values = []
        for index, (param, value) in enumerate(parameters.items(), start=1):
            aliases.append(f"{param}=@p{index}")
            values.append((f"@p{index}", _function_value(value)))
        path = f"{path}({','.join(aliases)})"
        query = encode_params(values)
    return Request("GET", path, json_answer, query=query)


def _function_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"))
    return literal(value)
