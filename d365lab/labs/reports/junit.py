"""JUnit XML: one ``testcase`` per task, ``failure`` with the evidence, ``skipped`` when not observable.

The layout CI systems read (Jenkins, GitLab, GitHub test reporters): ``testsuites`` >
``testsuite`` (tests, failures, errors, skipped counts) > ``testcase`` (classname, name,
time) > ``failure`` / ``error`` / ``skipped`` and ``system-out``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from d365lab.labs.reports.common import check_line, counts_as_failed, distinct_hints, points
from d365lab.labs.results import LabReport, TaskResult


def _suite(report: LabReport) -> ET.Element:
    name = f"{report.lab_id}" + (f" [{report.student}]" if report.student else "")
    suite = ET.Element("testsuite", name=name, timestamp=report.checked_at.rstrip("Z"), time="0")
    props = ET.SubElement(suite, "properties")
    for key, value in (("tenant", report.tenant), ("language", report.language), ("prefix", report.prefix),
                       ("score", points(report.score)), ("max_score", points(report.max_score))):
        ET.SubElement(props, "property", name=key, value=str(value))
    if report.error:
        case = ET.SubElement(suite, "testcase", classname=report.lab_id, name="connect", time="0")
        ET.SubElement(case, "error", message=report.error, type="CouldNotCheck").text = report.error
        suite.set("tests", "1")
        suite.set("failures", "0")
        suite.set("errors", "1")
        suite.set("skipped", "0")
        return suite
    failures = skipped = 0
    for task in report.tasks:
        case = ET.SubElement(suite, "testcase", classname=f"{report.lab_id}.{task.exercise}",
                             name=f"{task.id} {task.title}", time="0")
        evidence = "\n".join(check_line(c, report.language) for c in task.checks)
        if counts_as_failed(task, report):
            failures += 1
            message = "; ".join(distinct_hints(task)) or "failed"
            ET.SubElement(case, "failure", message=message, type="LabCheckFailed").text = evidence
        elif task.status == "not_observable":
            skipped += 1
            ET.SubElement(case, "skipped", message=_skip_message(task))
        out = [f"points {points(task.points)}/{points(task.max_points)}"]
        if task.how_known:
            out.append(task.how_known)
        ET.SubElement(case, "system-out").text = "\n".join([*out, evidence])
    suite.set("tests", str(len(report.tasks)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    return suite


def _skip_message(task: TaskResult) -> str:
    """Why a task is not graded and how to make it observable (Azure shows it as Not Executed)."""
    parts = [p for p in (task.how_known, task.how_to_observe, task.hint) if p]
    return " ".join(dict.fromkeys(parts)) or "not observable"


def render_junit(reports: LabReport | Sequence[LabReport]) -> str:
    """JUnit XML for one report or a class of reports (one ``testsuite`` each)."""
    many = [reports] if isinstance(reports, LabReport) else list(reports)
    root = ET.Element("testsuites", name="d365lab lab check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in many:
        suite = _suite(report)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
