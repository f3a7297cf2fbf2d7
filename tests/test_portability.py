"""The package runs on Linux, macOS and Windows: no module imports a platform-only module unguarded.

Two checks over the whole package: a static one (every ``import`` of a POSIX-only or
Windows-only module, wherever it is, must sit under a platform test or a
``try/except ImportError``), and a real one (every module imported, and the CLI started, in
a Python where the POSIX-only modules do not exist, as on Windows).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "d365lab"

#: Standard-library modules that exist only on POSIX systems (absent on Windows).
POSIX_ONLY = frozenset({"fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "crypt", "spwd", "nis",
                        "syslog", "readline", "posix", "_posixsubprocess", "_posixshmem", "curses"})
#: Standard-library modules that exist only on Windows (absent on Linux and macOS).
WINDOWS_ONLY = frozenset({"msvcrt", "winreg", "_winapi", "winsound", "nt", "_overlapped"})
PLATFORM_ONLY = POSIX_ONLY | WINDOWS_ONLY


def _is_platform_test(node: ast.expr) -> bool:
    """``sys.platform ...``, ``os.name ...``, ``platform.system() ...`` anywhere in an ``if`` test."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and (
                (sub.value.id, sub.attr) in {("sys", "platform"), ("os", "name"), ("platform", "system")}):
            return True
        if isinstance(sub, ast.Name) and sub.id == "TYPE_CHECKING":
            return True
    return False


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
        if handler.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError",
                                                                             "Exception") for n in names):
            return True
    return False


def unguarded_platform_imports(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of each import of a platform-only module outside a platform test or
    a ``try`` that catches ImportError (in a function too: it runs on every platform)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom) and not guarded:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found.extend((node.lineno, name) for name in names if name.split(".")[0] in PLATFORM_ONLY)
        if isinstance(node, ast.If) and _is_platform_test(node.test):
            for child in (*node.body, *node.orelse):
                visit(child, True)
            return
        if isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.body:
                visit(child, True)
            for child in (*node.handlers, *node.orelse, *node.finalbody):
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), False)
    return found


def test_the_checker_finds_unguarded_imports_and_accepts_guarded_ones() -> None:
    assert unguarded_platform_imports("import fcntl\nimport os\n") == [(1, "fcntl")]
    assert unguarded_platform_imports("def f():\n    from pwd import getpwnam\n") == [(2, "pwd")]
    assert unguarded_platform_imports("import msvcrt, termios\n") == [(1, "msvcrt"), (1, "termios")]
    guarded = textwrap.dedent("""
        import sys, os
        if sys.platform == "win32":
            import msvcrt
        else:
            import fcntl
        try:
            import resource
        except ImportError:
            resource = None
        if os.name == "posix":
            from grp import getgrnam
    """)
    assert unguarded_platform_imports(guarded) == []


def test_no_module_imports_a_platform_only_module_unguarded() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line}: import {name}" for path in modules
                 for line, name in unguarded_platform_imports(path.read_text(encoding="utf-8"))]
    assert offenders == []


_WITHOUT_POSIX = textwrap.dedent("""
    import importlib, pkgutil, sys, warnings
    BLOCKED = set(sys.argv[1].split(","))

    class NoPosix:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    for loaded in [n for n in sys.modules if n.split(".")[0] in BLOCKED]:
        del sys.modules[loaded]
    sys.meta_path.insert(0, NoPosix())
    warnings.simplefilter("ignore")   # filelock says it falls back to a soft lock here
    import d365lab
    failed = []
    for info in pkgutil.walk_packages(d365lab.__path__, "d365lab.", onerror=lambda name: failed.append(name)):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {exc!r}")
    print("\\n".join(failed))
    sys.argv = ["d365lab", "--help"]
    from d365lab.cli import main
    main()
""")


def test_every_module_imports_and_the_cli_starts_without_posix_modules() -> None:
    # posix itself cannot be hidden (os needs it); the rest are absent on Windows.
    blocked = ",".join(sorted(POSIX_ONLY - {"posix", "_posixsubprocess"}))
    result = subprocess.run([sys.executable, "-c", _WITHOUT_POSIX, blocked], capture_output=True, text=True,
                            timeout=120, check=False, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    failed, _, help_text = result.stdout.partition("Usage")
    assert failed.strip() == ""
    assert "backlog" in help_text
