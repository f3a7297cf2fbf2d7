"""Renderings of a :class:`~d365lab.labs.results.LabReport`: table, JSON, JUnit XML, Markdown."""

from __future__ import annotations

from d365lab.labs.reports.json_report import render_json
from d365lab.labs.reports.junit import render_junit
from d365lab.labs.reports.markdown import render_markdown
from d365lab.labs.reports.table import render_table

FORMATS = ("table", "json", "junit", "markdown")

__all__ = ["FORMATS", "render_json", "render_junit", "render_markdown", "render_table"]
