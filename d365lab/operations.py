"""Actions and functions: ``client.actions`` and ``client.functions``.

Requests are built by :mod:`d365lab.webapi.messages` and sent through a
:class:`~d365lab.webapi.request.Sender`.

>>> client.actions.call("QualifyLead", {...}, bound=("lead", lead_id))   # doctest: +SKIP
>>> client.functions.call("WhoAmI")                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d365lab.webapi import messages as build
from d365lab.webapi.messages import NAMESPACE, Binding, operation_path
from d365lab.webapi.request import Sender

__all__ = ["NAMESPACE", "Actions", "Binding", "Functions", "operation_path"]


class Actions:
    """Call Dataverse actions (POST)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def call(self, name: str, parameters: Mapping[str, Any] | None = None, *,
             bound: Binding | None = None) -> dict[str, Any] | None:
        """Invoke an action; returns its JSON result, or None for ``204 No Content``.

        Actions are not idempotent, so they are retried only when they cannot have run
        (throttled, service unavailable, connection refused).
        """
        return self._sender.send(build.action(name, parameters, bound=bound))


class Functions:
    """Call Dataverse functions (GET), with parameters passed as aliases (``F(X=@p1)?@p1=...``)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def call(self, name: str, parameters: Mapping[str, Any] | None = None, *,
             bound: Binding | None = None) -> Any:
        """Invoke a function and return its JSON result."""
        return self._sender.send(build.function(name, parameters, bound=bound))
