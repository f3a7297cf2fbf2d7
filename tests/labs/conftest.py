"""Fixtures of the lab tests: an isolated environment (mock database, journal folder, cwd)."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.pytest_plugin import d365_client, d365_mock_app  # noqa: F401 - fixtures used by the tests


@pytest.fixture
def lab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private embedded mock database and run-journal folder; no real tenant configured."""
    for name in ("DATAVERSE_URL", "D365LAB_AUTH", "D365LAB_TIMEZONE", "DATAVERSE_TOKEN", "D365LAB_LABS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("D365LAB_MOCK_DB", str(tmp_path / "tenant.sqlite"))
    monkeypatch.setenv("D365LAB_LAB_STATE", str(tmp_path / "journals"))
    monkeypatch.chdir(tmp_path)  # no stray .env file is picked up
    return tmp_path
