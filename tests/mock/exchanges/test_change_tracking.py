"""Change tracking as clients drive it: ``Prefer: odata.track-changes``, then the ``@odata.deltaLink``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
TRACK = {"Prefer": "odata.track-changes"}


def test_initial_read_then_delta_of_creates_updates_and_deletes(api: ServiceRootSession, create: Create) -> None:
    kept, changed, removed = (create("accounts", {"name": n}) for n in ("Kept", "Changed", "Removed"))
    first = api.get("accounts?$select=name", headers=TRACK)
    assert first.status_code == 200
    assert "odata.track-changes" in first.headers["Preference-Applied"]
    body = first.json()
    assert sorted(r["name"] for r in body["value"]) == ["Changed", "Kept", "Removed"]
    link = body["@odata.deltaLink"]
    assert link.startswith(api.service_root + "accounts?$select=name&$deltatoken=")
    api.patch(f"accounts({changed})", json={"name": "Changed again"})
    api.delete(f"accounts({removed})")
    added = create("accounts", {"name": "Added"})
    delta = api.get(link, headers=TRACK)
    assert delta.status_code == 200
    page = delta.json()
    assert page["@odata.context"] == api.service_root + "$metadata#accounts(name)/$delta"
    rows = {r["accountid"]: r["name"] for r in page["value"] if "accountid" in r}
    assert rows == {changed: "Changed again", added: "Added"}
    assert kept not in rows
    deleted = [r for r in page["value"] if r.get("reason") == "deleted"]
    assert deleted == [{"@odata.context": api.service_root + "$metadata#accounts/$deletedEntity",
                        "id": removed, "reason": "deleted"}]
    quiet = api.get(page["@odata.deltaLink"], headers=TRACK).json()
    assert quiet["value"] == []


def test_the_delta_link_comes_on_the_last_page(api: ServiceRootSession, create: Create) -> None:
    for index in range(3):
        create("contacts", {"lastname": f"C{index}"})
    prefer = {"Prefer": "odata.track-changes,odata.maxpagesize=2"}
    first = api.get("contacts?$select=lastname", headers=prefer).json()
    assert "@odata.nextLink" in first and "@odata.deltaLink" not in first
    last = api.get(first["@odata.nextLink"], headers=prefer).json()
    assert "@odata.nextLink" not in last and "$deltatoken=" in last["@odata.deltaLink"]


def test_a_table_without_change_tracking_refuses_the_preference(api: ServiceRootSession) -> None:
    response = api.get("competitors?$select=name", headers=TRACK)
    assert response.status_code == 400
    assert "Change tracking is not enabled" in response.json()["error"]["message"]
    tracked = api.get("EntityDefinitions?$select=LogicalName,ChangeTrackingEnabled"
                      "&$filter=ChangeTrackingEnabled eq true").json()["value"]
    assert sorted(t["LogicalName"] for t in tracked) == ["account", "contact", "lead", "opportunity"]


def test_a_delta_read_takes_select_only(api: ServiceRootSession) -> None:
    assert api.get("accounts?$select=name&$filter=name eq 'x'&$deltatoken=5").status_code == 400
    assert api.get("accounts?$select=name&$deltatoken=abc").status_code == 400
    assert api.get("accounts?$select=name&$deltatoken=99999999999999999999999999").status_code == 400
    assert api.get("accounts/$count?$deltatoken=-1").status_code == 400


def test_count_of_changes_and_refused_options(api: ServiceRootSession, create: Create) -> None:
    gone = create("accounts", {"name": "Gone"})
    link = api.get("accounts?$select=name", headers=TRACK).json()["@odata.deltaLink"]
    token = link.rsplit("$deltatoken=", 1)[1]
    create("accounts", {"name": "New"})
    api.delete(f"accounts({gone})")
    counted = api.get(f"accounts/$count?$deltatoken={token}")
    assert (counted.status_code, counted.text, counted.headers["Content-Type"]) == (200, "2", "text/plain")
    for option in ("$filter=name eq 'New'", "$orderby=name", "$top=1", "$expand=primarycontactid"):
        refused = api.get(f"accounts?$select=name&{option}", headers=TRACK)
        assert refused.status_code == 400
        name = option.split("=", 1)[0]
        assert refused.json()["error"]["message"] == (
            f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.')
    eligible = api.get("EntityDefinitions?$select=SchemaName"
                       "&$filter=ChangeTrackingEnabled eq false and CanChangeTrackingBeEnabled/Value eq false")
    assert eligible.json()["value"] == []
