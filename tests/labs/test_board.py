"""The live class board of ``lab check --watch --roster``: one standalone HTML page and a terminal table."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.labs.cli_helpers import Result, cli

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base", "embed", "track"}
ODD_NAME = '<b>Zoé & "co"</b>'
TASKS = 12


class BoardPage(HTMLParser):
    """Reads the board: rows of cells (class, text), and whether every tag closes in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self.external: list[str] = []
        self.meta: list[dict[str, str | None]] = []
        self._in_body_row = False
        self._cell: tuple[str, str] | None = None
        self._tbody = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "link", "iframe", "img") or any(
                (values.get(a) or "").startswith(("http:", "https:", "//")) for a in ("src", "href")):
            self.external.append(tag)
        if tag == "meta":
            self.meta.append(values)
        if tag in VOID:
            return
        self.open.append(tag)
        if tag == "tbody":
            self._tbody = True
        elif tag == "tr" and self._tbody:
            self.rows.append([])
        elif tag == "td" and self._tbody:
            self._cell = (values.get("class") or "", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1] if self.open else 'nothing'}")
            return
        self.open.pop()
        if tag == "tbody":
            self._tbody = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell = (self._cell[0], self._cell[1] + data)


def _read_board(text: str) -> BoardPage:
    page = BoardPage()
    page.feed(text)
    page.close()
    return page


@pytest.fixture
def class_watched(lab_env: Path) -> tuple[Path, Result]:
    """Three students on one tenant: Ann did it all, Bob up to ex2.t2, the third nothing; one watch round."""
    assert cli("lab", "run", "--prefix", "A1", "-q").exit_code == 0
    assert cli("lab", "seed", "--upto", "ex2.t2", "--prefix", "B2", "-q").exit_code == 0
    quoted = ODD_NAME.replace('"', '""')  # CSV quoting
    (lab_env / "class.csv").write_text(f'student,prefix\nAnn,A1\nBob,B2\n"{quoted}",C3\n', encoding="utf-8")
    result = cli("lab", "check", "--watch", "--roster", "class.csv", "--max-time", "0", "--reports-dir", "reports")
    return lab_env / "reports" / "board.html", result


def test_board_shows_each_student_by_task_with_points(class_watched: tuple[Path, Result]) -> None:
    board, result = class_watched
    assert result.exit_code == 1  # two students have not finished
    page = _read_board(board.read_text(encoding="utf-8"))
    assert not page.problems and not page.open
    assert len(page.rows) == 3
    names = [row[0][1] for row in page.rows]
    assert names == ["Ann", "Bob", ODD_NAME]  # shown as text, not as markup
    ann, bob, third = (dict(enumerate(row)) for row in page.rows)
    ann_cells = [ann[i][0] for i in range(1, TASKS + 1)]
    assert ann_cells == ["cell passed"] * TASKS and ann[TASKS + 1][1] == "15/15"
    bob_cells = [bob[i][0] for i in range(1, TASKS + 1)]
    assert bob_cells[:3] == ["cell passed"] * 3 and "cell passed" not in bob_cells[3:]
    assert bob[TASKS + 2][1] != "-"  # time of the last change
    assert all(third[i][0] != "cell passed" for i in range(1, TASKS + 1))
    assert (board.parent / "Ann.txt").is_file()  # one report per student at the end


def test_board_is_standalone_and_reloads_itself(class_watched: tuple[Path, Result]) -> None:
    board, _result = class_watched
    text = board.read_text(encoding="utf-8")
    page = _read_board(text)
    assert text.startswith("<!DOCTYPE html>")
    assert page.external == []  # no script, stylesheet or image to fetch
    assert any(m.get("http-equiv") == "refresh" and (m.get("content") or "").isdigit() for m in page.meta)
    assert ODD_NAME not in text and "&lt;b&gt;Zo" in text


def test_board_prints_as_a_terminal_table(class_watched: tuple[Path, Result]) -> None:
    _board, result = class_watched
    assert "tour 1" in result.stdout  # the lab's language: French by default
    for name in ("Ann", "Bob"):
        assert name in result.stdout
    assert "15/15" in result.stdout


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_board_renders_in_a_real_headless_browser(class_watched: tuple[Path, Result], tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium/Chrome installed (apt-get install chromium)")
    board, _result = class_watched
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", board.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _read_board(done.stdout)
    assert not dom.problems
    assert len(dom.rows) == 3  # the browser built the same table: 3 students ...
    assert all(len(row) == 1 + TASKS + 3 for row in dom.rows)  # ... name, 12 tasks, points, last change, note
    assert dom.rows[0][TASKS + 1][1] == "15/15"
