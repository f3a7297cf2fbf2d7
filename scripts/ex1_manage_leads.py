#!/usr/bin/env python3
"""Lab 2.1 (MB-280T02), Exercise 1 – Manage customers: create the three leads.

Runs against the configured tenant (the embedded mock when DATAVERSE_URL is unset), after
the previous exercises; state lives in the tenant, and re-running skips finished steps.

    python3 scripts/ex1_manage_leads.py [--lab NAME|PATH] [--lang fr|en] [--prefix TEXT]
        [--timezone Europe/Paris] [--check]
"""

import sys
from pathlib import Path

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from d365lab.cli.lab_script import exercise_script  # noqa: E402

if __name__ == "__main__":
    exercise_script("1")
