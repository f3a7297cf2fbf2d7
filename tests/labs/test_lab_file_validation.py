"""A bad lab file is refused at load, before any request, with the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.cli import lab_cmd
from d365lab.labs.cleanup import delete_order
from d365lab.labs.loader import LabFileError, load_lab
from d365lab.labs.run_journal import TrackedRecord
from d365lab.labs.step_specs import STEP_SPECS
from d365lab.labs.steps import STEP_KINDS
from tests.labs.cli_helpers import cli

LAB_21 = Path(__file__).resolve().parents[2] / "fixtures" / "labs" / "lab-2.1.yaml"


def _bad_copy(folder: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of lab 2.1 with ``old`` replaced once by ``new``; returns the file and the changed line."""
    text = LAB_21.read_text(encoding="utf-8")
    assert old in text
    index = text.index(old)
    bad = folder / "bad.yaml"
    bad.write_text(text[:index] + new + text[index + len(old):], encoding="utf-8")
    return bad, text[:index].count("\n") + 1


TYPOS = [
    pytest.param("{kind: qualify_lead, record: lead_a", "{kind: qualfy_lead, record: lead_a",
                 ["'qualfy_lead'", "expected tags", "'qualify_lead'"], id="qualfy_lead"),
    pytest.param("record: lead_b, create_account: true", "record: lead_b, create_acount: true",
                 ["unknown argument 'create_acount'", "qualify_lead takes:", "create_account"], id="create_acount"),
    pytest.param("creates: {account: account_doe", "creates: {account: acount_doe",
                 ["creates.account names unknown record 'acount_doe'", "account_doe"], id="acount_doe"),
    pytest.param("{kind: win, record: opp_b", "{kind: win, record: lead_b",
                 ["record lead_b is a lead; expected a record of table opportunity"], id="wrong_table"),
    pytest.param("stage: Propose}", "stage: Proposal}", ["unknown stage 'Proposal'", "Propose"], id="stage"),
    pytest.param("reason: no_longer_interested", "reason: bored", ["no_longer_interested"], id="reason"),
    pytest.param("entity: account\n", "entity: acount\n", ["unknown table 'acount'", "account"], id="table"),
    pytest.param("after: ex2.t3", "after: ex2.t33", ["after names unknown task 'ex2.t33'"], id="after"),
]


@pytest.mark.parametrize(("old", "new", "expected"), TYPOS)
def test_a_typo_is_refused_at_load_with_its_line(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    bad, line = _bad_copy(tmp_path, old, new)
    with pytest.raises(LabFileError) as caught:
        load_lab(str(bad))
    message = str(caught.value)
    assert f"{bad.resolve()}:{line}: " in message, message
    for needle in expected:
        assert needle in message, (needle, message)


@pytest.mark.parametrize(("old", "new", "expected"), TYPOS[:3])
def test_lab_run_refuses_a_bad_lab_file_before_any_request(lab_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                           old: str, new: str, expected: list[str]) -> None:
    def no_tenant(**_options: object) -> None:
        raise AssertionError("a request was about to be sent")

    monkeypatch.setattr(lab_cmd, "_connect", no_tenant)
    bad, line = _bad_copy(lab_env, old, new)
    for command in (["lab", "run", "--lab", str(bad)], ["lab", "check", "--lab", str(bad)],
                    ["lab", "seed", "--upto", "ex1", "--lab", str(bad)], ["lab", "cleanup", "--lab", str(bad)]):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert result.stderr.startswith("error: lab file refused"), result.stderr
        assert f"bad.yaml:{line}:" in result.stderr
        for needle in expected:
            assert needle in result.stderr
        assert "Traceback" not in result.stderr
    assert not (lab_env / "tenant.sqlite").exists()  # the embedded tenant was never opened


def test_a_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    bad, line = _bad_copy(tmp_path, "records:\n", "records: [\n")
    with pytest.raises(LabFileError, match=r"bad.yaml:\d+: not valid YAML"):
        load_lab(str(bad))
    assert line > 1


def test_every_step_kind_has_an_argument_model_and_an_implementation() -> None:
    assert set(STEP_KINDS) == set(STEP_SPECS)


def test_the_lab_gets_the_product_wording_and_may_override_it(tmp_path: Path) -> None:
    text = LAB_21.read_text(encoding="utf-8")
    own = tmp_path / "own.yaml"
    own.write_text(text.replace("\nrecords:\n", "\nfield_labels:\n  subject: {en: Title, fr: Titre}\nrecords:\n", 1),
                   encoding="utf-8")
    default, overridden = load_lab(str(LAB_21)), load_lab(str(own))
    assert default.field_labels["subject"] == {"en": "Topic", "fr": "Sujet"}
    assert overridden.field_labels["subject"] == {"en": "Title", "fr": "Titre"}
    assert overridden.field_labels["firstname"] == default.field_labels["firstname"]
    assert overridden.hint_templates == default.hint_templates


def test_cleanup_order_comes_from_the_schema_lookups() -> None:
    tracked = ["lead", "lead", "account", "contact", "opportunity", "phonecall", "leadtoopportunitysalesprocess",
               "task", "opportunityclose", "nosuchtable"]
    records = [TrackedRecord(entity=entity, id=str(index), created_at="2026-12-06T10:00:00Z")
               for index, entity in enumerate(tracked)]
    order = [record.entity for record in delete_order(records)]
    position = {entity: order.index(entity) for entity in order}
    for child, parent in (("opportunityclose", "opportunity"), ("phonecall", "opportunity"), ("task", "lead"),
                          ("leadtoopportunitysalesprocess", "opportunity"), ("opportunity", "contact"),
                          ("contact", "account"), ("account", "lead"), ("phonecall", "lead")):
        assert position[child] < position[parent], (child, parent, order)
    assert order.count("lead") == 2 and [r.id for r in delete_order(records) if r.entity == "lead"] == ["0", "1"]
