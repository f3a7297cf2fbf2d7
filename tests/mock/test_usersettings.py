"""``usersettingscollection`` through the Web API of the mock, and the mock user's zone as a setting.

Source: Microsoft Learn, the ``usersettings`` EntityType reference (facts sheet §2.1).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from d365lab.cli import app as cli_app
from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.server import start_background
from d365lab.mock.settings import MockSettings

Create = Callable[[str, dict[str, Any]], str]
SELECT = "$select=timezonecode,localeid,uilanguageid,dateformatstring,timeformatstring,timezonebias"


def my_settings(api: ServiceRootSession) -> dict[str, Any]:
    user = api.get("WhoAmI").json()["UserId"]
    response = api.get(f"usersettingscollection({user})?{SELECT}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_mock_user_has_settings_with_the_documented_defaults(api: ServiceRootSession) -> None:
    row = my_settings(api)
    assert (row["timezonecode"], row["localeid"], row["uilanguageid"]) == (105, 1033, 1033)
    assert row["timezonebias"] == -60
    assert row["systemuserid"] == api.get("WhoAmI").json()["UserId"]


def test_a_user_changes_the_time_zone_as_in_personal_options(api: ServiceRootSession) -> None:
    user = api.get("WhoAmI").json()["UserId"]
    response = api.patch(f"usersettingscollection({user})", json={"timezonecode": 4, "localeid": 1036,
                                                                   "uilanguageid": 1036})
    assert response.status_code == 204, response.text
    rows = api.get(f"usersettingscollection?$filter=systemuserid eq {user}&{SELECT}").json()["value"]
    assert [(r["timezonecode"], r["localeid"], r["uilanguageid"], r["timezonebias"]) for r in rows] == [
        (4, 1036, 1036, 480)]


def test_an_unknown_time_zone_code_is_refused(api: ServiceRootSession) -> None:
    user = api.get("WhoAmI").json()["UserId"]
    response = api.patch(f"usersettingscollection({user})", json={"timezonecode": 9999})
    assert response.status_code == 400
    assert "9999" in response.json()["error"]["message"]
    assert my_settings(api)["timezonecode"] == 105


def test_user_settings_cannot_be_created_or_deleted(api: ServiceRootSession) -> None:
    user = api.get("WhoAmI").json()["UserId"]
    assert api.post("usersettingscollection", json={"timezonecode": 4}).status_code == 400
    assert api.delete(f"usersettingscollection({user})").status_code == 400
    missing = api.patch("usersettingscollection(00000000-0000-0000-0000-000000000042)", json={"timezonecode": 4})
    assert missing.status_code == 400
    assert "does not support" in missing.json()["error"]["message"]


def test_a_new_user_gets_its_own_settings(api: ServiceRootSession, create: Create) -> None:
    other = create("systemusers", {"firstname": "Ann", "lastname": "Lee"})  # fullname is computed
    me = api.get("WhoAmI").json()["UserId"]
    assert api.patch(f"usersettingscollection({me})", json={"timezonecode": 35}).status_code == 204
    assert api.get(f"usersettingscollection({other})?$select=timezonecode").json()["timezonecode"] == 105
    rows = api.get("usersettingscollection?$select=systemuserid,timezonecode").json()["value"]
    assert {(r["systemuserid"], r["timezonecode"]) for r in rows} == {(me, 35), (other, 105)}


@pytest.mark.parametrize("mock_settings", [MockSettings.model_validate({"time_zones": {
    "user_timezone": "America/Los_Angeles", "default_localeid": 1036, "default_uilanguageid": 1036}})])
def test_the_mock_users_zone_is_a_setting(api: ServiceRootSession) -> None:
    row = my_settings(api)
    assert (row["timezonecode"], row["localeid"], row["dateformatstring"]) == (4, 1036, "dd/MM/yyyy")


def test_a_set_zone_is_applied_to_an_existing_tenant_file(tmp_path: Path) -> None:
    db = str(tmp_path / "tenant.sqlite")
    first = start_background(db_path=db, settings=MockSettings.model_validate({}))
    first.stop()
    second = start_background(db_path=db, settings=MockSettings.model_validate(
        {"time_zones": {"user_timezone": "35"}}))
    try:
        headers = {"Authorization": f"Bearer {second.token}"}
        root = second.base_url + "/api/data/v9.2/"
        user = requests.get(root + "WhoAmI", headers=headers, timeout=10).json()["UserId"]
        row = requests.get(root + f"usersettingscollection({user})?$select=timezonecode", headers=headers,
                           timeout=10).json()
        assert row["timezonecode"] == 35
    finally:
        second.stop()


def test_an_unknown_zone_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        MockSettings.model_validate({"time_zones": {"user_timezone": "Mars/Olympus"}})


def test_cli_serve_refuses_an_unknown_user_timezone() -> None:
    result = CliRunner().invoke(cli_app, ["mock", "serve", "--db", ":memory:", "--user-timezone", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "Mars/Olympus" in result.output
    assert "mock tenant: http://" not in result.output


def test_cli_serve_with_a_user_timezone() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-c", "from d365lab.cli import main; main()", "mock", "serve", "--port", str(port),
               "--db", ":memory:", "--token", "tz-token", "--user-timezone", "America/Los_Angeles"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = f"http://127.0.0.1:{port}/api/data/v9.2/"
    headers = {"Authorization": "Bearer tz-token"}
    try:
        for _ in range(100):
            try:
                user = requests.get(root + "WhoAmI", headers=headers, timeout=1).json()["UserId"]
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        row = requests.get(root + f"usersettingscollection({user})?$select=timezonecode", headers=headers,
                           timeout=10).json()
        assert row["timezonecode"] == 4
    finally:
        process.terminate()
        process.communicate(timeout=10)
