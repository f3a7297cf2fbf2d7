"""A second lab written as data only (tests/labs/labs/tea-shop.yaml, every step kind, English only)
runs, checks full marks, re-runs as a no-op and cleans up, against the mock, through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from d365lab.labs.step_specs import STEP_SPECS
from tests.labs.cli_helpers import cli, rows

TEA_SHOP = Path(__file__).resolve().parent / "labs" / "tea-shop.yaml"
TABLES = ("lead", "account", "contact", "opportunity", "task", "phonecall", "opportunityclose")


def _kinds_used() -> set[str]:
    data = yaml.safe_load(TEA_SHOP.read_text(encoding="utf-8"))
    return {step["kind"] for ex in data["exercises"] for task in ex["tasks"] for step in task["steps"]}


def test_the_second_lab_uses_every_step_kind() -> None:
    assert _kinds_used() == set(STEP_SPECS)


def test_the_second_lab_runs_checks_and_cleans_up_without_python(lab_env: Path) -> None:
    before = {name: len(rows(name)) for name in TABLES}
    run = cli("lab", "run", "--lab", str(TEA_SHOP), "--check", "--format", "json", "-q")
    assert run.exit_code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["lab_id"] == "DEMO/tea-shop"
    assert report["score"] == report["max_score"] == 11, [t for t in report["tasks"] if t["status"] != "passed"]
    again = cli("lab", "run", "--lab", str(TEA_SHOP))
    assert again.exit_code == 0
    assert "0 step(s) done" in again.stderr
    made = {name: len(rows(name)) - before[name] for name in TABLES}
    assert made == {"lead": 3, "account": 1, "contact": 3, "opportunity": 3, "task": 1, "phonecall": 1,
                    "opportunityclose": 3}  # the tea cup win has no close_record alias
    cleanup = cli("lab", "cleanup", "--lab", str(TEA_SHOP))
    assert cleanup.exit_code == 0, cleanup.stderr
    assert {name: len(rows(name)) for name in TABLES} == before


def test_an_exercise_script_runs_the_lab_given_with_lab(lab_env: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAVERSE_", "AZURE_"))}
    env.pop("D365LAB_AUTH", None)
    env["PYTHONPATH"] = str(root)
    helped = subprocess.run([sys.executable, str(root / "scripts" / "ex1_manage_leads.py"), "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "--lab" in helped.stdout
    done = subprocess.run([sys.executable, str(root / "scripts" / "ex1_manage_leads.py"), "--lab", str(TEA_SHOP),
                           "-q"], env=env, cwd=lab_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    subjects = sorted(row["subject"] for row in rows("lead", select=("subject",)))
    assert subjects == ["Kettle Lead", "Tea Cup Lead", "Teapot Lead"]
