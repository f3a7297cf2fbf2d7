"""The generated CDM schema file is what the generator makes of Microsoft's definitions.

``d365lab/models/cdm_columns.json`` is written by ``scripts/generate_schema.py`` from
``../shared/reference/schema`` (present beside the clone in CI and on the developers'
machines); a hand edit of the file, or a change of the rules without regenerating, fails here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from d365lab.models.cdm import cdm_data
from d365lab.models.schema import TABLES

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "schema"
DOCS = REPO / "docs" / "mock-tenant.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_schema", REPO / "scripts" / "generate_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_schema"] = module
    spec.loader.exec_module(module)
    return module


needs_reference = pytest.mark.skipif(not (REFERENCE / "README.md").is_file(),
                                     reason=f"the CDM reference folder {REFERENCE} is not beside the clone")


@needs_reference
def test_checked_in_file_is_the_generators_output() -> None:
    generator = _generator()
    expected = generator.render(generator.build(REFERENCE))
    actual = (REPO / "d365lab" / "models" / "cdm_columns.json").read_text(encoding="utf-8")
    assert actual == expected, "run: python scripts/generate_schema.py"


@needs_reference
def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generator = _generator()
    stale = tmp_path / "cdm_columns.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert generator.main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err
    assert generator.main(["--output", str(stale)]) == 0
    assert generator.main(["--check", "--output", str(stale)]) == 0


@needs_reference
def test_every_cdm_column_of_a_mock_table_is_in_the_schema() -> None:
    for name, facts in cdm_data()["tables"].items():
        source = json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))
        left_out = {d["column"] for d in cdm_data()["differences"]
                    if d["table"] == name and d["mock"] == "not a property"}
        expected = {c["logical_name"] for c in source["columns"]} - left_out
        assert expected <= set(TABLES[name].columns), name
        assert set(facts["columns"]) <= set(TABLES[name].columns)


def test_every_difference_is_listed_in_the_docs() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [f"{d['table']}.{d['column']}" for d in cdm_data()["differences"]
               if f"`{d['table']}.{d['column']}`" not in docs]
    assert not missing, f"docs/mock-tenant.md lacks: {missing}"


def test_attribution_travels_with_the_data() -> None:
    assert "CC BY 4.0" in cdm_data()["attribution"]
    assert "Common Data Model" in DOCS.read_text(encoding="utf-8")
