"""Find and load lab definitions (``fixtures/labs/<key>.yaml``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from d365lab.labs.spec import LabSpec

DEFAULT_LAB = "lab-2.1"
#: Environment variable naming a folder of lab YAML files (overrides the repository's).
LABS_DIR_ENV = "D365LAB_LABS_DIR"


def labs_dir() -> Path:
    """The folder holding lab YAML files: ``$D365LAB_LABS_DIR`` or the repository's ``fixtures/labs``."""
    override = os.environ.get(LABS_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "fixtures" / "labs"


def available_labs() -> list[str]:
    """Keys of the labs found in :func:`labs_dir`."""
    return sorted(p.stem for p in labs_dir().glob("*.yaml"))


def load_lab(name: str = DEFAULT_LAB) -> LabSpec:
    """Load and validate a lab by key (``"lab-2.1"``) or by path to a YAML file.

    Raises ``FileNotFoundError`` naming the folder searched, or pydantic's
    ``ValidationError`` naming the bad field.
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = labs_dir() / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"lab {name!r} not found (looked for {path}); labs available: "
                                f"{', '.join(available_labs()) or 'none'}")
    return _load_path(str(path.resolve()), path.stat().st_mtime)


@lru_cache(maxsize=8)
def _load_path(path: str, _mtime: float) -> LabSpec:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return LabSpec.model_validate(data)
