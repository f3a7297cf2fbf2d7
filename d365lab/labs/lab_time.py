"""The lab user's time zone: the one "today 16:30" is typed in.

"Due" (``phonecall.scheduledend``) is a user-local column: the app converts what the
student types with the student's own Dataverse time zone (``usersettings.timezonecode``).
So the zone comes, in order, from ``--timezone``, ``$D365LAB_TIMEZONE``, the tenant (the
personal settings of the user who owns the lab's records, or of the caller when there are
none yet), the run journal (the zone an earlier run used), and last the lab file's zone for
the language. The source is reported with the zone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from d365lab.labs.snapshot import Snapshot
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.tenant_settings import user_time_zone
from d365lab.labs.timeutil import TIMEZONE_ENV, zone_of
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

SOURCE_OPTION = "--timezone"
SOURCE_ENV = TIMEZONE_ENV
SOURCE_LAB = "lab default"


def is_lab_default(source: str) -> bool:
    """True when the zone is only the lab file's fallback (nothing better was known)."""
    return source.startswith(SOURCE_LAB)


def owner_of(snapshot: Snapshot) -> str | None:
    """The owner (``_ownerid_value``) of the first lab record found, or None."""
    for located in snapshot.records.values():
        owner = (located.row or {}).get("_ownerid_value")
        if isinstance(owner, str) and owner:
            return owner
    return None


def is_explicit(source: str) -> bool:
    """True when the zone was given (``--timezone`` or the variable), not looked up."""
    return source in (SOURCE_OPTION, SOURCE_ENV)


def lab_time_zone(client: DataverseClient, lab: LabSpec, lang: Language, explicit: str | None = None,
                  owner_id: str | None = None, remembered: str | None = None,
                  caller_id: str | None = None, remembered_explicit: bool = False) -> tuple[str, str]:
    """``(IANA zone, where it came from)``; ``ValueError`` for an explicit name that is no zone.

    ``owner_id`` is the user whose settings count (the owner of the lab's records); without
    it the caller's (``caller_id``, else ``WhoAmI``) settings are read. ``remembered`` is the run
    journal's zone; when the run was told it (``remembered_explicit``) it comes before the tenant.
    """
    if explicit:
        zone_of(explicit)
        return explicit, SOURCE_OPTION
    from_env = os.environ.get(TIMEZONE_ENV)
    if from_env:
        zone_of(from_env)
        return from_env, SOURCE_ENV
    if remembered and remembered_explicit:
        zone_of(remembered)
        return remembered, say(lang, "tz_journal_explicit")
    user = owner_id or caller_id or str(client.whoami().user_id)
    found = user_time_zone(client, user)
    if found is not None and found.zone is not None:
        whose = say(lang, "tz_owner" if owner_id else "tz_caller")
        return found.zone, say(lang, "tz_from_tenant", user=user, whose=whose, code=found.code)
    if remembered:
        zone_of(remembered)
        return remembered, say(lang, "tz_journal")
    default = lab.lab.time_zones.get(lang, "UTC")
    reason = (say(lang, "tz_code_unknown", code=found.code) if found is not None
              else say(lang, "tz_not_in_tenant"))
    return default, f"{SOURCE_LAB}: {say(lang, 'tz_lab_default', language=lang)}{say(lang, 'sep')}{reason}"
