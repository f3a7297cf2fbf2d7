"""The JSON document of a check (schema ``d365lab.lab-report/1``, described in docs/labs.md)."""

from __future__ import annotations

import json

from d365lab.labs.results import LabReport


def render_json(report: LabReport) -> str:
    """One JSON document, indented, UTF-8 text kept readable (no ``\\u`` escapes)."""
    return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
