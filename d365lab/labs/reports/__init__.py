"""Renderings of a :class:`~d365lab.labs.results.LabReport`: table, JSON, JUnit XML, Markdown, lab platforms."""

from __future__ import annotations

from collections.abc import Callable

from d365lab.labs.reports.classroom import render_classroom
from d365lab.labs.reports.instruqt import render_instruqt
from d365lab.labs.reports.json_report import render_json
from d365lab.labs.reports.junit import render_junit
from d365lab.labs.reports.markdown import render_markdown
from d365lab.labs.reports.skillable import render_skillable
from d365lab.labs.reports.table import render_table
from d365lab.labs.results import LabReport

#: Formats made for a lab platform's check script (one student's check; see docs/lab-platforms.md).
PLATFORM_FORMATS = ("instruqt", "skillable", "classroom")
FORMATS = ("table", "json", "junit", "markdown", *PLATFORM_FORMATS)

#: Every format but ``table`` (which prints to a rich console) as text.
TEXT_RENDERERS: dict[str, Callable[[LabReport], str]] = {
    "json": render_json, "junit": render_junit, "markdown": render_markdown,
    "instruqt": render_instruqt, "skillable": render_skillable, "classroom": render_classroom,
}

__all__ = ["FORMATS", "PLATFORM_FORMATS", "TEXT_RENDERERS", "render_classroom", "render_instruqt", "render_json",
           "render_junit", "render_markdown", "render_skillable", "render_table"]
