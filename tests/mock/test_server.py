"""The mock tenant over real loopback HTTP: background server, CLI serve/reset, db path."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from d365lab.cli import app as cli_app
from d365lab.mock.server import RunningServer, check_bind, default_db_path, start_background
from d365lab.mock.settings import MockSettings


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_background(":memory:")
    yield running
    running.stop()


def _session(running: RunningServer) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {running.token}"
    return session


def test_background_server_serves_crud_with_keep_alive(server: RunningServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    root = server.base_url + "/api/data/v9.2/"
    with _session(server) as session:
        created = session.post(root + "leads", json={"subject": "over the wire", "lastname": "Net"})
        assert created.status_code == 204
        entity_id = created.headers["OData-EntityId"]
        assert entity_id.startswith(root + "leads(")
        row = session.get(entity_id + "?$select=subject,fullname").json()
        assert row["subject"] == "over the wire"
        page = session.get(root + "leads?$select=subject", headers={"Prefer": "odata.maxpagesize=1"}).json()
        assert page["value"][0]["subject"] == "over the wire"
        assert session.get(root + "WhoAmI()").status_code == 200


def test_background_server_requires_its_generated_token(server: RunningServer) -> None:
    url = server.base_url + "/api/data/v9.2/WhoAmI"
    assert len(server.token) >= 20
    denied = requests.get(url, headers={"Authorization": "Bearer guess"})
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].endswith(f"resource_id={server.base_url}/")
    assert requests.get(url, headers={"Authorization": f"Bearer {server.token}"}).status_code == 200


def test_configured_token_is_used_and_stop_frees_the_port() -> None:
    running = start_background(":memory:", MockSettings.model_validate({"token": "fixed"}))
    assert running.token == "fixed"
    port = int(running.base_url.rsplit(":", 1)[1])
    running.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(running.base_url + "/api/data/v9.2/WhoAmI", timeout=2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_persisted_tenant_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "t.sqlite")
    first = start_background(db)
    with _session(first) as session:
        entity_id = session.post(first.base_url + "/api/data/v9.2/accounts", json={"name": "Kept"}).headers[
            "OData-EntityId"]
    first.stop()
    record = entity_id[entity_id.index("/api/"):]
    second = start_background(db)
    with _session(second) as session:
        assert session.get(second.base_url + record + "?$select=name").json()["name"] == "Kept"
    second.stop()


def test_non_loopback_binds_are_refused_without_permission_and_token() -> None:
    check_bind("127.0.0.1", allow_remote=False, token=None)
    check_bind("::1", allow_remote=False, token=None)
    with pytest.raises(ValueError, match="allow_remote"):
        check_bind("0.0.0.0", allow_remote=False, token="t")
    with pytest.raises(ValueError, match="without a token"):
        check_bind("0.0.0.0", allow_remote=True, token=None)
    check_bind("0.0.0.0", allow_remote=True, token="t")


def test_default_db_path_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("D365LAB_MOCK_DB", ":memory:")
    assert default_db_path() == ":memory:"
    monkeypatch.delenv("D365LAB_MOCK_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path().endswith("mock-tenant.sqlite")


def test_cli_reset_empties_and_reseeds(tmp_path: Path) -> None:
    db = str(tmp_path / "reset.sqlite")
    running = start_background(db)
    with _session(running) as session:
        session.post(running.base_url + "/api/data/v9.2/leads", json={"subject": "old"})
        who = session.get(running.base_url + "/api/data/v9.2/WhoAmI").json()
    running.stop()
    result = CliRunner().invoke(cli_app, ["mock", "reset", "--db", db])
    assert result.exit_code == 0, result.output
    running = start_background(db)
    with _session(running) as session:
        root = running.base_url + "/api/data/v9.2/"
        assert session.get(root + "leads/$count").text == "0"
        assert session.get(root + "WhoAmI").json()["UserId"] == who["UserId"]
        assert session.get(root + "processstages/$count").text == "4"
    running.stop()


def test_cli_serve_refuses_a_remote_bind_without_token() -> None:
    result = CliRunner().invoke(cli_app, ["mock", "serve", "--host", "0.0.0.0", "--allow-remote", "--db", ":memory:"])
    assert result.exit_code == 2
    assert "without a token" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_serve_in_the_foreground() -> None:
    port = _free_port()
    command = [sys.executable, "-c", "from d365lab.cli import main; main()",
               "mock", "serve", "--port", str(port), "--db", ":memory:", "--token", "cli-token"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/data/v9.2/WhoAmI"
        for _ in range(100):
            try:
                response = requests.get(url, headers={"Authorization": "Bearer cli-token"}, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert response.status_code == 200
        assert requests.get(url, headers={"Authorization": "Bearer other"}).status_code == 401
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/api/data/v9.2/" in output
    assert "cli-token" not in output


def test_concurrent_writes_are_serialised_safely(server: RunningServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    root = server.base_url + "/api/data/v9.2/"

    def create(i: int) -> int:
        with _session(server) as session:
            response = session.post(root + "leads?$select=versionnumber", json={"subject": f"c{i}"},
                                    headers={"Prefer": "return=representation"})
            assert response.status_code == 201, response.text
            return int(response.json()["versionnumber"])

    with ThreadPoolExecutor(max_workers=12) as pool:
        versions = list(pool.map(create, range(60)))
    assert len(set(versions)) == 60
    with _session(server) as session:
        assert session.get(root + "leads/$count").text == "60"


def test_two_servers_on_one_file_never_reuse_a_version(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.sqlite")
    first, second = start_background(db), start_background(db)
    try:
        versions = []
        for i in range(6):
            running = first if i % 2 else second
            with _session(running) as session:
                response = session.post(running.base_url + "/api/data/v9.2/accounts?$select=name,versionnumber",
                                        json={"name": f"a{i}"}, headers={"Prefer": "return=representation"})
                assert response.status_code == 201, response.text
                versions.append(int(response.json()["versionnumber"]))
        assert versions == sorted(versions) and len(set(versions)) == 6
        with _session(first) as session:
            assert session.get(first.base_url + "/api/data/v9.2/accounts/$count").text == "6"
    finally:
        first.stop()
        second.stop()


def test_prefer_as_several_headers(server: RunningServer) -> None:
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    try:
        connection.putrequest("POST", "/api/data/v9.2/leads?$select=leadsourcecode")
        connection.putheader("Authorization", f"Bearer {server.token}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Prefer", "return=representation")
        connection.putheader("Prefer", 'odata.include-annotations="*"')
        body = json.dumps({"leadsourcecode": 8}).encode()
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        payload = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 201
    assert payload["leadsourcecode@OData.Community.Display.V1.FormattedValue"] == "Web"
