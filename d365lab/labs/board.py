"""The live class board of ``lab check --watch --roster``: students x tasks, as HTML and as a terminal table.

The HTML page is standalone (inline CSS, no script, no external resource), reloads itself
every round (``<meta http-equiv="refresh">``) and is rewritten atomically, so a browser
never shows half a page. Every text from the tenant or the roster is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text

from d365lab.labs.reports.common import points
from d365lab.labs.results import LabReport
from d365lab.labs.spec import LabSpec, Language, localize
from d365lab.labs.watch import WatchedStudent
from d365lab.labs.watch_journal import write_atomically

#: Cell status -> (CSS colour, rich style). ``pending``: waits for an earlier task; ``error``: tenant not checked.
STATUSES = {
    "passed": ("#2e7d32", "bold green"),
    "failed": ("#c62828", "red"),
    "not_observable": ("#f9a825", "yellow"),
    "error": ("#616161", "dim"),
    "pending": ("#9e9e9e", "dim"),
}
#: The page's words, per language (English for any other).
WORDS = {
    "en": {"passed": "passed", "failed": "not yet", "not_observable": "not observable", "error": "could not check",
           "pending": "waiting for an earlier task", "board": "class board", "student": "Student", "points": "Points",
           "last": "Last change (UTC)", "note": "Note",
           "meta": "Round {round}, updated {at} UTC; this page reloads every {refresh} s.",
           "round": "round {round}, {at} UTC", "last_short": "last change"},
    "fr": {"passed": "réussie", "failed": "pas encore", "not_observable": "non observable",
           "error": "vérification impossible", "pending": "attend une tâche précédente",
           "board": "tableau de la classe",
           "student": "Stagiaire", "points": "Points", "last": "Dernier changement (UTC)", "note": "Remarque",
           "meta": "Tour {round}, mis à jour {at} UTC ; cette page se recharge toutes les {refresh} s.",
           "round": "tour {round}, {at} UTC", "last_short": "dernier changement"},
}


@dataclass(frozen=True)
class BoardRow:
    """One student's line of the board."""

    student: str
    statuses: dict[str, str]
    score: float
    max_score: float
    last_change: str | None
    error: str | None = None


def board_rows(lab: LabSpec, watched: list[WatchedStudent], upto: str | None = None) -> list[BoardRow]:
    """The board's rows, one per student, a status per task of the lab (up to ``upto``)."""
    task_ids = [t.id for t in lab.tasks_upto(lab.resolve_upto(upto))]
    rows = []
    for item in watched:
        report: LabReport | None = item.report
        if report is None or report.error:
            fill = "pending" if report is None else "error"
            rows.append(BoardRow(item.student.name, dict.fromkeys(task_ids, fill), 0,
                                 report.max_score if report else 0, item.last_change,
                                 report.error if report else None))
            continue
        green = item.green if item.green is not None else set()
        # a task passing only because an earlier one cannot be seen yet (reactivate before any disqualify
        # was seen) waits: green is what the watch announced
        statuses = {t.id: "pending" if t.status == "passed" and t.id not in green else t.status
                    for t in report.tasks}
        rows.append(BoardRow(item.student.name, {i: statuses.get(i, "pending") for i in task_ids},
                             report.score, report.max_score, item.last_change))
    return rows


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:1.5rem;color:#212121}
h1{font-size:1.3rem;margin:0 0 .3rem} p.meta{color:#555;margin:0 0 1rem}
table{border-collapse:collapse;font-size:.85rem} th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:center}
th.student,td.student{text-align:left;white-space:nowrap} td.points{font-weight:600;white-space:nowrap}
td.cell{color:#fff;min-width:2.2rem} td.when{white-space:nowrap} td.error{text-align:left;color:#616161}
ul.legend{list-style:none;padding:0;display:flex;gap:1rem;font-size:.8rem}
ul.legend span{display:inline-block;width:.9rem;height:.9rem;margin-right:.3rem;vertical-align:middle}
"""


def render_board_html(lab: LabSpec, rows: list[BoardRow], *, language: str, round_number: int, updated_at: str,
                      refresh_seconds: float, upto: str | None = None) -> str:
    """The board as one standalone HTML page."""
    esc = html.escape
    lang: Language = "fr" if language == "fr" else "en"
    words = WORDS[lang]
    tasks = lab.tasks_upto(lab.resolve_upto(upto))
    title = f"{localize(lab.lab.title, lang)} — {words['board']}"
    head = "".join(f'<th scope="col" title="{esc(str(localize(t.title, lang)))}">{esc(t.id)}</th>' for t in tasks)
    body = []
    for row in rows:
        cells = []
        for task in tasks:
            status = row.statuses.get(task.id, "pending")
            colour, label = STATUSES[status][0], words[status]
            mark = {"passed": "&#10003;", "failed": "&#10007;", "not_observable": "?"}.get(status, "&middot;")
            cells.append(f'<td class="cell {status}" style="background:{colour}" '
                         f'title="{esc(task.id)}: {esc(label)}">{mark}</td>')
        extra = f'<td class="error">{esc(row.error)}</td>' if row.error else "<td></td>"
        body.append(f'<tr><td class="student">{esc(row.student)}</td>{"".join(cells)}'
                    f'<td class="points">{points(row.score)}/{points(row.max_score)}</td>'
                    f'<td class="when">{esc(_when(row.last_change))}</td>{extra}</tr>')
    legend = "".join(f'<li><span style="background:{colour}"></span>{esc(words[status])}</li>'
                     for status, (colour, _style) in STATUSES.items())
    refresh = max(int(refresh_seconds), 1)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="refresh" content="{refresh}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n"
        f'<p class="meta">{esc(words["meta"].format(round=round_number, at=_when(updated_at, True), refresh=refresh))}'
        "</p>\n"
        f'<table id="board">\n<thead><tr><th scope="col" class="student">{words["student"]}</th>{head}'
        f'<th scope="col">{words["points"]}</th><th scope="col">{esc(words["last"])}</th>'
        f'<th scope="col">{words["note"]}</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(body)}\n</tbody>\n</table>\n"
        f'<ul class="legend">{legend}</ul>\n</body>\n</html>\n'
    )


def _when(at: str | None, with_day: bool = False) -> str:
    """``19:26:57`` (``2026-12-06 19:26:57`` with the day) for a wire timestamp; ``-`` for none."""
    if not at:
        return "-"
    return at.replace("T", " ").rstrip("Z") if with_day else at[11:19]


def write_board(path: Path, page: str) -> None:
    """Replace the board file atomically (a reloading browser never reads half a page)."""
    write_atomically(path, page)


def board_table(lab: LabSpec, rows: list[BoardRow], *, language: str, round_number: int, updated_at: str,
                upto: str | None = None) -> Table:
    """The same board as a rich table for the terminal."""
    words = WORDS["fr" if language == "fr" else "en"]
    tasks = lab.tasks_upto(lab.resolve_upto(upto))
    table = Table(title=f"{lab.lab.id} — {words['round'].format(round=round_number, at=_when(updated_at, True))}")
    table.add_column(words["student"], no_wrap=True)
    for task in tasks:
        table.add_column(task.id.replace("ex", "").replace(".t", "."), justify="center", no_wrap=True)
    table.add_column(words["points"], justify="right", no_wrap=True)
    table.add_column(words["last_short"], no_wrap=True)
    for row in rows:
        cells = []
        for task in tasks:
            status = row.statuses.get(task.id, "pending")
            mark = {"passed": "✓", "failed": "✗", "not_observable": "?"}.get(status, "·")
            cells.append(Text(mark, style=STATUSES[status][1]))
        note = _when(row.last_change)
        if row.error:
            note = f"{note} — {row.error}"
        table.add_row(row.student, *cells, f"{points(row.score)}/{points(row.max_score)}", note)
    return table
