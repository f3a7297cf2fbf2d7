"""The three exercise scripts in sequence (separate processes), and class grading with a roster."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.labs.cli_helpers import cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["ex1_manage_leads.py", "ex2_qualify_leads.py", "ex3_work_opportunity.py"]


def _env(lab_env: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_"))}
    env.pop("D365LAB_AUTH", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_three_scripts_one_after_another_score_full_marks(lab_env: Path, lang: str) -> None:
    env = _env(lab_env)
    for script in SCRIPTS:
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--lang", lang, "-q"],
                              env=env, cwd=lab_env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    check = subprocess.run([sys.executable, "-c", "from d365lab.cli import main; main()", "lab", "check",
                            "--lang", lang, "--format", "json"],
                           env=env, cwd=lab_env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    doc = json.loads(check.stdout)
    assert doc["score"] == doc["max_score"] == 15


def test_script_help(lab_env: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / SCRIPTS[2]), "--help"], env=_env(lab_env),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--lang" in done.stdout and "--prefix" in done.stdout and "exercise 3" in done.stdout


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_roster_grades_a_class_and_survives_an_unreachable_tenant(lab_env: Path) -> None:
    assert cli("lab", "run", "--prefix", "[s1]", "-q").exit_code == 0
    assert cli("lab", "run", "--prefix", "[s2]", "--exercise", "1", "-q").exit_code == 0
    assert cli("lab", "run", "--prefix", "[s4]", "--lang", "en", "-q").exit_code == 0
    (lab_env / "down.env").write_text("DATAVERSE_TOKEN=not-a-real-token\n", encoding="utf-8")
    roster = lab_env / "roster.csv"
    roster.write_text(
        "student,prefix,language,env_file,dataverse_url\n"
        "Alice,[s1],,,\n"
        "Bob,[s2],,,\n"
        f"Chloé,,,down.env,http://127.0.0.1:{_closed_port()}\n"
        "Dan,[s4],en,,\n", encoding="utf-8")
    summary = lab_env / "summary.csv"
    result = cli("lab", "check", "--roster", str(roster), "--output", str(summary), "--format", "json",
                 "--reports-dir", str(lab_env / "reports"))
    assert result.exit_code == 2  # one tenant could not be checked
    assert "class summary" in result.stdout
    with summary.open(encoding="utf-8") as handle:
        by_student = {row["student"]: row for row in csv.DictReader(handle)}
    assert (by_student["Alice"]["score"], by_student["Alice"]["passed"]) == ("15", "yes")
    assert 3 <= float(by_student["Bob"]["score"]) < 15 and by_student["Bob"]["passed"] == "no"
    assert by_student["Bob"]["failed_tasks"].split()[0] == "ex2.t1"
    assert by_student["Chloé"]["passed"] == "error" and "no response" in by_student["Chloé"]["error"]
    assert (by_student["Dan"]["score"], by_student["Dan"]["language"]) == ("15", "en")
    reports = sorted(p.name for p in (lab_env / "reports").iterdir())
    assert reports == ["Alice.json", "Bob.json", "Chloé.json", "Dan.json"]
    alice = json.loads((lab_env / "reports" / "Alice.json").read_text(encoding="utf-8"))
    assert alice["student"] == "Alice" and alice["prefix"] == "[s1]"
    reachable = lab_env / "reachable.csv"
    reachable.write_text("student,prefix\nAlice,[s1]\nBob,[s2]\n", encoding="utf-8")
    markdown = lab_env / "summary.md"
    assert cli("lab", "check", "--roster", str(reachable), "--output", str(markdown), "--reports-dir",
               str(lab_env / "md")).exit_code == 1  # Bob has not finished
    assert "| Alice |" in markdown.read_text(encoding="utf-8")
    assert sorted(p.name for p in (lab_env / "md").iterdir()) == ["Alice.txt", "Bob.txt"]


def test_example_roster_grades_as_shipped(lab_env: Path) -> None:
    assert cli("lab", "run", "--prefix", "[alice]", "-q").exit_code == 0
    result = cli("lab", "check", "--roster", str(ROOT / "fixtures" / "roster-example.csv"), "--format", "json",
                 "--reports-dir", str(lab_env / "reports"))
    assert result.exit_code == 1, result.stdout + result.stderr  # Bob and Chloé have not done the lab
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (lab_env / "reports").iterdir()}
    assert sorted(reports) == ["Alice-Martin", "Bob-Smith", "Chloé-Dubois"]
    assert all(r["error"] is None for r in reports.values())
    assert reports["Alice-Martin"]["score"] == 15 and reports["Bob-Smith"]["language"] == "en"


def test_roster_students_with_their_own_tenants(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from d365lab.mock.server import start_background

    own = [start_background(db_path=str(lab_env / f"own{i}.sqlite")) for i in range(2)]
    try:
        for i, server in enumerate(own):
            (lab_env / f"own{i}.env").write_text(
                f"DATAVERSE_URL={server.base_url}\nDATAVERSE_TOKEN={server.token}\n", encoding="utf-8")
        with monkeypatch.context() as env:  # Eve does the lab in her own tenant; Finn only exercise 1
            env.setenv("DATAVERSE_URL", own[0].base_url)
            env.setenv("DATAVERSE_TOKEN", own[0].token)
            assert cli("lab", "run", "--lang", "en", "-q").exit_code == 0
            env.setenv("DATAVERSE_URL", own[1].base_url)
            env.setenv("DATAVERSE_TOKEN", own[1].token)
            assert cli("lab", "run", "--exercise", "1", "-q").exit_code == 0
        roster = lab_env / "roster.csv"
        roster.write_text("student,language,env_file\nEve,en,own0.env\nFinn,,own1.env\n", encoding="utf-8")
        summary = lab_env / "summary.csv"
        result = cli("lab", "check", "--roster", str(roster), "--output", str(summary), "--parallel", "2",
                     "--reports-dir", str(lab_env / "reports"), "--format", "junit")
        assert result.exit_code == 1
        with summary.open(encoding="utf-8") as handle:
            by_student = {row["student"]: row for row in csv.DictReader(handle)}
        assert by_student["Eve"]["passed"] == "yes" and by_student["Eve"]["tenant"] == own[0].base_url
        assert by_student["Finn"]["passed"] == "no" and by_student["Finn"]["tenant"] == own[1].base_url
        assert sorted(p.name for p in (lab_env / "reports").iterdir()) == ["Eve.xml", "Finn.xml"]
    finally:
        for server in own:
            server.stop()
