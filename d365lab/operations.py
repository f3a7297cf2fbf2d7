"""Actions and functions: ``client.actions`` and ``client.functions``.

Bound operations use the full ``Microsoft.Dynamics.CRM.`` name (mandatory on Dataverse);
unbound ones use the bare name.

>>> client.actions.call("QualifyLead", {...}, bound=("lead", lead_id))   # doctest: +SKIP
>>> client.functions.call("WhoAmI")                                      # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from d365lab.errors import ClientValidationError
from d365lab.odata import dumps, encode_params, key_segment, literal
from d365lab.tables import resolve
from d365lab.transport import Transport, json_or_none

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


class Actions:
    """Call Dataverse actions (POST)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def call(self, name: str, parameters: Mapping[str, Any] | None = None, *,
             bound: Binding | None = None) -> dict[str, Any] | None:
        """Invoke an action; returns its JSON result, or None for ``204 No Content``.

        Actions are not idempotent, so they are retried only when they cannot have run
        (throttled, service unavailable, connection refused).
        """
        response = self._transport.request("POST", operation_path(name, bound), data=dumps(dict(parameters or {})),
                                           idempotent=False)
        result = json_or_none(response)
        return result if isinstance(result, dict) else None


class Functions:
    """Call Dataverse functions (GET), with parameters passed as aliases (``F(X=@p1)?@p1=...``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def call(self, name: str, parameters: Mapping[str, Any] | None = None, *,
             bound: Binding | None = None) -> Any:
        """Invoke a function and return its JSON result."""
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
        return json_or_none(self._transport.request("GET", path, query=query))


def _function_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"))
    return literal(value)
