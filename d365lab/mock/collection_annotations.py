"""The ``@Microsoft.Dynamics.CRM.*`` annotations Dataverse adds to a collection answer.

With ``Prefer: odata.include-annotations="*"`` (or a pattern naming them) every
collection page carries, before ``value``:

- ``@Microsoft.Dynamics.CRM.totalrecordcount``: the ``@odata.count`` when ``$count=true``
  was asked, else ``-1`` (as Microsoft's query-data sample shows);
- ``@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded``: true when the count reached
  the 5,000 cap;
- ``@Microsoft.Dynamics.CRM.globalmetadataversion``: the metadata version as a string. The
  mock's metadata never changes, so it is the constant :data:`GLOBAL_METADATA_VERSION`.
"""

from __future__ import annotations

from typing import Any

from d365lab.mock.codec import annotation_wanted

TOTAL_RECORD_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
LIMIT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
METADATA_VERSION = "Microsoft.Dynamics.CRM.globalmetadataversion"
#: The mock's metadata version (its schema is fixed for a given d365lab release).
GLOBAL_METADATA_VERSION = "1000000"
#: The largest count ``$count`` reports.
COUNT_CAP = 5000


def collection_annotations(patterns: list[str] | None, count: int | None) -> dict[str, Any]:
    """The annotations a collection page carries for the request's annotation patterns."""
    if not patterns:
        return {}
    values: dict[str, Any] = {
        TOTAL_RECORD_COUNT: -1 if count is None else count,
        LIMIT_EXCEEDED: count is not None and count >= COUNT_CAP,
        METADATA_VERSION: GLOBAL_METADATA_VERSION,
    }
    return {f"@{name}": value for name, value in values.items() if annotation_wanted(patterns, name)}
