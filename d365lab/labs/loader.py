"""Find and load lab definitions (``fixtures/labs/<key>.yaml``)."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from d365lab.labs.spec import LabReferenceError, LabSpec
from d365lab.labs.step_specs import STEP_SPECS

DEFAULT_LAB = "lab-2.1"
#: Environment variable naming a folder of lab YAML files (overrides the repository's).
LABS_DIR_ENV = "D365LAB_LABS_DIR"


def labs_dirs() -> list[Path]:
    """Folders searched for lab YAML files, in order.

    ``$D365LAB_LABS_DIR`` alone when set; else the source checkout's ``fixtures/labs``
    (also an editable install), then ``<sys.prefix>/share/d365lab/labs`` where
    ``pip install .`` puts the lab files as data files.
    """
    override = os.environ.get(LABS_DIR_ENV)
    if override:
        return [Path(override)]
    return [Path(__file__).resolve().parents[2] / "fixtures" / "labs",
            Path(sys.prefix) / "share" / "d365lab" / "labs"]


def available_labs() -> list[str]:
    """Keys of the labs found in :func:`labs_dirs`."""
    return sorted({p.stem for d in labs_dirs() for p in d.glob("*.yaml")})


def load_lab(name: str = DEFAULT_LAB) -> LabSpec:
    """Load and validate a lab by key (``"lab-2.1"``) or by path to a YAML file.

    Raises ``FileNotFoundError`` naming the folder searched, or :class:`LabFileError`
    (a ``ValueError``) with the file, line and what was expected for each problem.
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        looked = [d / f"{name}.yaml" for d in labs_dirs()]
        path = next((p for p in looked if p.is_file()), looked[0])
    else:
        looked = [path]
    if not path.is_file():
        raise FileNotFoundError(
            f"lab {name!r} not found (looked for {', '.join(str(p) for p in looked)}); labs available: "
            f"{', '.join(available_labs()) or 'none'}; set {LABS_DIR_ENV} to the folder holding the lab "
            f"YAML files (fixtures/labs in the source)")
    return _load_path(str(path.resolve()), path.stat().st_mtime)


class LabFileError(ValueError):
    """A lab file that is not a valid lab: each problem as ``file:line: where: what was expected``."""


@lru_cache(maxsize=8)
def _load_path(path: str, _mtime: float) -> LabSpec:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise LabFileError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    try:
        return LabSpec.model_validate(data)
    except ValidationError as exc:
        raise LabFileError(describe_problems(path, root, exc)) from None


def describe_problems(path: str, root: yaml.Node | None, error: ValidationError, limit: int = 5) -> str:
    """One ``file:line: where: message`` line per problem pydantic found (at most ``limit``)."""
    lines = []
    for problem in error.errors()[:limit]:
        cause = (problem.get("ctx") or {}).get("error")
        loc = cause.loc if isinstance(cause, LabReferenceError) else tuple(problem["loc"])
        message = str(cause) if isinstance(cause, LabReferenceError) else problem["msg"]
        if problem["type"] == "missing":
            message = f"missing argument {loc[-1]!r}"
        elif problem["type"] == "extra_forbidden":
            message = f"unknown argument {loc[-1]!r}" + _allowed_here(error, problem)
        node, where = _node_at(root, loc)
        line = node.start_mark.line + 1 if node is not None else 1
        lines.append(f"{path}:{line}: {where or 'lab'}: {message}")
    more = len(error.errors()) - limit
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "lab file refused (nothing was sent to the tenant):\n" + "\n".join(lines)


def _allowed_here(error: ValidationError, problem: Any) -> str:
    """For an unknown step argument: the arguments the step kind takes."""
    loc = tuple(problem["loc"])
    for i, part in enumerate(loc):
        if part == "steps" and i + 2 < len(loc) and str(loc[i + 2]) in STEP_SPECS:
            model = STEP_SPECS[str(loc[i + 2])]
            allowed = [name for name in model.model_fields if name != "kind"]
            return f"; {loc[i + 2]} takes: {', '.join(allowed)}"
    return ""


def _node_at(root: yaml.Node | None, loc: tuple[str | int, ...]) -> tuple[yaml.Node | None, str]:
    """The deepest YAML node on pydantic's ``loc`` path (union tags are skipped), and the path as text."""
    node, where = root, ""
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if str(key.value) == str(part)), None)
            if child is not None:
                where += f".{part}" if where else str(part)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            where += f"[{part}]"
        if child is not None:
            node = child
    return node, where
