"""Settings of the columns the mock computes on every write (``MockSettings.computed``).

Each is a behaviour Microsoft's documentation does not pin down (UNVERIFIED), so it is a
setting with the default we believe an org shows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ComputedSettings(BaseModel):
    """How ``*_base`` money columns, ``exchangerate`` and the computed name columns are filled."""

    #: Rounding of a ``*_base`` value (``X / exchangerate``): "currency" rounds it to the base
    #: currency's ``currencyprecision`` (2 for the seeded USD), as a Money column whose
    #: PrecisionSource is the currency; "money" keeps the four decimals SQL Server's money
    #: type stores. Ties round away from zero in both. UNVERIFIED which one the service uses.
    base_rounding: Literal["currency", "money"] = "currency"
    #: When a record takes its currency's current ``exchangerate`` again (its ``*_base``
    #: columns follow): "money_writes" on create and on an update that sends a money column
    #: or the currency; "every_write" on every update. A currency's new rate never rewrites
    #: records by itself. UNVERIFIED which writes refresh the rate in an org.
    exchange_rate_refresh: Literal["money_writes", "every_write"] = "money_writes"
    #: The organization's full-name format (``fullnameconventioncode``), used for ``fullname``
    #: and ``yomifullname`` of leads, contacts and users: 0 "Last, First", 1 "First Last",
    #: 2 "Last, First M.", 3 "First M. Last", 4 "Last, First Middle", 5 "First Middle Last",
    #: 6 "Last First", 7 "LastFirst". Default 1 (what the reference's example answers show).
    full_name_convention: int = Field(default=1, ge=0, le=7)
