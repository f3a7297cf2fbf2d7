"""Find and load lab definitions (``fixtures/labs/<key>.yaml``)."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import yaml

from d365lab.labs.spec import LabSpec

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

    Raises ``FileNotFoundError`` naming the folder searched, or pydantic's
    ``ValidationError`` naming the bad field.
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


@lru_cache(maxsize=8)
def _load_path(path: str, _mtime: float) -> LabSpec:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return LabSpec.model_validate(data)
