"""``d365lab mock serve|reset`` on common mistakes: one ``error:`` line, exit 2, and no banner first."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from d365lab.cli import app as cli_app

BANNER = "mock tenant: http://"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield int(listener.getsockname()[1])


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "notdb.sqlite"
    path.write_text("garbage, not SQLite\n" * 50)
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_serve_on_a_port_in_use(busy_port: int) -> None:
    code, output = _invoke("mock", "serve", "--port", str(busy_port), "--db", ":memory:")
    assert code == 2
    assert output.strip() == f"error: port {busy_port} is already in use"


@pytest.mark.parametrize("kind", ["missing folder", "not a database"])
def test_serve_with_an_unusable_db(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "x.sqlite" if kind == "missing folder" else _not_a_database(tmp_path)
    code, output = _invoke("mock", "serve", "--port", "8765", "--db", str(path))  # the db is opened before binding
    assert code == 2
    assert BANNER not in output
    assert output.strip().startswith(f"error: --db: cannot open database {path}")
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["missing folder", "not a database"])
def test_reset_with_an_unusable_db(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "x.sqlite" if kind == "missing folder" else _not_a_database(tmp_path)
    code, output = _invoke("mock", "reset", "--db", str(path))
    assert code == 2
    assert output.strip().startswith(f"error: --db: cannot open database {path}")


def test_reset_with_an_unusable_environment_db_names_the_variable(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nope" / "x.sqlite"
    monkeypatch.setenv("D365LAB_MOCK_DB", str(path))
    code, output = _invoke("mock", "reset")
    assert code == 2
    assert output.strip().startswith(f"error: D365LAB_MOCK_DB: cannot open database {path}")


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_serve_refuses_ports_outside_the_tcp_range(port: str) -> None:
    code, output = _invoke("mock", "serve", "--port", port, "--db", ":memory:")
    assert code == 2
    assert BANNER not in output
    assert "--port" in output
