"""Class-wide chores (seed / prepare / cleanup --roster) and what a new user tripped over."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.labs.cli_helpers import cli, rows


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _roster(lab_env: Path, *, with_unreachable: bool = False) -> Path:
    lines = ["student,prefix,language,env_file,dataverse_url", "Alice,[s1],,,", "Bob,[s2],en,,"]
    if with_unreachable:
        (lab_env / "down.env").write_text("D365LAB_AUTH=token\nDATAVERSE_TOKEN=not-a-real-token\n", encoding="utf-8")
        lines.append(f"Chloé,,,down.env,http://127.0.0.1:{_closed_port()}")
    roster = lab_env / "roster.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return roster


def test_seed_check_and_cleanup_a_class_with_one_line_per_student(lab_env: Path) -> None:
    roster = _roster(lab_env)
    seeded = cli("lab", "seed", "--upto", "ex2", "--roster", str(roster))
    assert seeded.exit_code == 0, seeded.stdout + seeded.stderr
    assert "Alice : ok ; préparé jusqu'à ex2" in seeded.stdout  # Alice's language: French
    assert "Bob: ok; seeded up to ex2" in seeded.stdout
    assert "2 stagiaire(s) : 2 ok, 0 en échec" in seeded.stdout  # the command's language
    summary = lab_env / "summary.json"
    graded = cli("lab", "check", "--upto", "ex2.t4", "--roster", str(roster), "--output", str(summary),
                 "--reports-dir", str(lab_env / "reports"))
    assert graded.exit_code == 0, graded.stdout
    students = {s["student"]: s for s in json.loads(summary.read_text(encoding="utf-8"))["students"]}
    # numbers and booleans, not "15" and "yes"
    assert students["Alice"]["score"] == 7 and students["Alice"]["max_score"] == 7
    assert students["Alice"]["passed"] is True and students["Bob"]["failed_tasks"] == []
    cleaned = cli("lab", "cleanup", "--roster", str(roster))
    assert cleaned.exit_code == 0, cleaned.stdout + cleaned.stderr
    assert "Alice : ok ; " in cleaned.stdout and "supprimé(s)" in cleaned.stdout
    assert rows("lead") == []


def test_a_student_whose_tenant_is_down_fails_alone_and_the_class_exits_2(lab_env: Path) -> None:
    result = cli("lab", "prepare", "--roster", str(_roster(lab_env, with_unreachable=True)), "--lang", "en")
    assert result.exit_code == 2
    assert "Alice: ok" in result.stdout and "Bob: ok" in result.stdout
    assert "Chloé: FAILED" in result.stderr and "127.0.0.1" in result.stderr  # the connection error itself
    assert "3 student(s): 2 ok, 1 failed (Chloé)" in result.stdout


def test_prepare_a_class_switches_auditing_on_once(lab_env: Path) -> None:
    roster = _roster(lab_env)
    first = cli("lab", "prepare", "--roster", str(roster), "--lang", "en", "--parallel", "2")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert first.stdout.count("the tenant is gradable") + first.stdout.count("le tenant peut être corrigé") == 2


def test_running_the_lab_exercise_by_exercise_warns_about_nothing(lab_env: Path) -> None:
    outputs = [cli("lab", "run", "--exercise", n) for n in ("1", "2", "3")]
    assert all(r.exit_code == 0 for r in outputs)
    everything = "".join(r.stdout + r.stderr for r in outputs)
    assert "earlier run" not in everything and "ne s'est pas terminée" not in everything
    third = outputs[2].stdout + outputs[2].stderr
    # the first run on a fresh tenant skips the move to Develop: said in a student's words
    assert "qualifier le prospect fait passer sa nouvelle opportunité à la phase Développer" in third


def test_lab_option_is_shown_in_help() -> None:
    for command in ("run", "check", "seed", "cleanup", "prepare"):
        assert "--lab" in cli("lab", command, "--help").stdout, command


def test_two_option_values_are_labelled_with_the_column_s_own_labels(lab_env: Path) -> None:
    assert cli("lab", "seed", "--upto", "ex3.t1.a", "-q").exit_code == 0
    opportunity = rows("opportunity", filter="budgetamount eq 17000", select=("opportunityid",))[0]
    from d365lab.connect import connect

    with connect() as client:
        client.records.update("opportunity", opportunity["opportunityid"], {"isrevenuesystemcalculated": True})
    doc = cli("lab", "check", "--upto", "ex3.t1.a", "--format", "json").json()
    check = next(c for t in doc["tasks"] for c in t["checks"] if c["field"] == "isrevenuesystemcalculated")
    assert (check["expected_label"], check["actual_label"]) == ("Fourni par l'utilisateur", "Calculé par le système")


def test_a_french_markdown_report_uses_french_punctuation(lab_env: Path) -> None:
    assert cli("lab", "run", "-q").exit_code == 0
    markdown = cli("lab", "check", "--format", "markdown").stdout
    assert "- **Score : 15 / 15**" in markdown and "- Langue : fr" in markdown
