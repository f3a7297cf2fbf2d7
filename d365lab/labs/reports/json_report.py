"""The JSON document of a check (schema ``d365lab.lab-report/1``, described in docs/labs.md)."""

from __future__ import annotations

import json
from typing import Any

from d365lab.labs.results import LabReport


def report_document(report: LabReport) -> dict[str, Any]:
    """The report as JSON data; a task or check that could not be observed has ``"passed": null``.

    Not observable is neither a pass nor a failure: ``null`` with ``"status": "not_observable"``
    keeps a platform that reads ``passed`` from counting it either way.
    """
    document = report.to_json_dict()
    for task in document.get("tasks", []):
        if task.get("status") == "not_observable":
            task["passed"] = None
        for check in task.get("checks", []):
            if check.get("status") == "not_observable":
                check["passed"] = None
    return document


def render_json(report: LabReport) -> str:
    """One JSON document, indented, UTF-8 text kept readable (no ``\\u`` escapes)."""
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"
