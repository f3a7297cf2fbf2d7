"""d365lab: a Python automation client for Dynamics 365 Sales (the Dataverse Web API).

>>> from d365lab import DataverseClient   # doctest: +SKIP
>>> from d365lab.connect import connect   # doctest: +SKIP
>>> with connect() as client:              # doctest: +SKIP
...     print(client.whoami().user_id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["DataverseClient", "DataverseError", "RetryPolicy", "__version__"]

if TYPE_CHECKING:
    from d365lab.client import DataverseClient
    from d365lab.errors import DataverseError
    from d365lab.transport import RetryPolicy


def __getattr__(name: str) -> Any:
    # Lazy, so ``import d365lab`` (the CLI's --version, the mock) does not load requests/msal.
    if name == "DataverseClient":
        from d365lab.client import DataverseClient

        return DataverseClient
    if name == "DataverseError":
        from d365lab.errors import DataverseError

        return DataverseError
    if name == "RetryPolicy":
        from d365lab.transport import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module 'd365lab' has no attribute {name!r}")
