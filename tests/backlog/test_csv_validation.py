"""Reading, mapping and validating import files (no tenant involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365lab.backlog.csvio import CsvFormatError, read_csv
from d365lab.backlog.importer import ImportOptions, prepare_import
from d365lab.backlog.mapping import MappingError, parse_option

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "backlog"


def test_french_excel_file_is_decoded_and_labels_mapped() -> None:
    prepared = prepare_import(FIXTURES / "leads-excel-fr.csv", ImportOptions())
    assert prepared.table.encoding == "cp1252"
    assert prepared.table.delimiter == ";"
    assert prepared.rejections == []
    first = prepared.valid[0][1]
    assert first["firstname"] == "Émile"
    assert first["companyname"] == "Café Noir SARL"
    assert first["leadsourcecode"] == 7          # Salon professionnel = Trade Show
    assert first["leadqualitycode"] == 1         # Chaud = Hot
    assert first["budgetamount"] == 12500.5      # "12 500,50"
    assert first["purchasetimeframe"] == 1       # Ce trimestre
    assert first["estimatedclosedate"] == "2026-12-15"


def test_utf8_with_bom_and_without_read_the_same(tmp_path: Path) -> None:
    text = "Topic,Last Name,Company\nCafé beans,Dupré,Brûlerie\n"
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    without = tmp_path / "plain.csv"
    without.write_bytes(text.encode())
    for path in (with_bom, without):
        table = read_csv(path)
        assert table.header == ["Topic", "Last Name", "Company"]
        assert table.rows == [{"Topic": "Café beans", "Last Name": "Dupré", "Company": "Brûlerie"}]


def test_invalid_rows_are_rejected_with_line_field_and_reason() -> None:
    prepared = prepare_import(FIXTURES / "leads-example.csv", ImportOptions())
    by_line = {(r.line, r.field): r.reason for r in prepared.rejections}
    assert "is not an email address" in by_line[(7, "emailaddress1")]
    assert by_line[(9, "lastname")] == "required value is empty"
    assert "is not a value of purchasetimeframe" in by_line[(11, "purchasetimeframe")]
    assert len(prepared.valid) == 7


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"\xff\xfeT\x00o\x00p\x00", "UTF-16"),
    (b"Topic,Last\x00Name\n", "NUL"),
])
def test_unreadable_files_fail_as_a_whole(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CsvFormatError, match=message):
        read_csv(path)


def test_missing_required_columns_name_them(tmp_path: Path) -> None:
    path = tmp_path / "no-name.csv"
    path.write_text("Company,Email\nContoso,a@contoso.example\n", encoding="utf-8")
    with pytest.raises(MappingError, match="lastname.*subject"):
        prepare_import(path, ImportOptions())


def test_mapping_file_renames_defaults_and_ignores() -> None:
    prepared = prepare_import(FIXTURES / "leads-mapped.csv",
                              ImportOptions(mapping_file=FIXTURES / "mapping-example.yaml"))
    assert prepared.mapping.unmapped == []
    payload = prepared.valid[0][1]
    assert payload["emailaddress1"] == "lee.gross@wideworldimporters.example"
    assert payload["description"] == "Wants a demo of the roaster"
    assert payload["leadsourcecode"] == 7
    assert payload["subject"] == "Trade show lead"


def test_options_accept_number_english_and_french_labels() -> None:
    assert parse_option("leadsourcecode", "7") == 7
    assert parse_option("leadsourcecode", "trade show") == 7
    assert parse_option("leadsourcecode", "SALON PROFESSIONNEL") == 7
    assert parse_option("need", "Serait un plus") == 2
    with pytest.raises(ValueError, match="expected one of"):
        parse_option("leadqualitycode", "Lukewarm")


def test_values_longer_than_the_column_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("Topic,Last Name\nx," + "a" * 51 + "\n", encoding="utf-8")
    prepared = prepare_import(path, ImportOptions())
    assert [(r.line, r.field) for r in prepared.rejections] == [(2, "lastname")]
    assert "longer than 50" in prepared.rejections[0].reason


def test_french_excel_csv_utf8_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "excel-utf8.csv"
    text = "Sujet;Nom;Société;Origine;Budget\r\nTorréfaction;Lefèvre;Brûlerie;Séminaire;1 000,00\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    prepared = prepare_import(path, ImportOptions())
    assert (prepared.table.encoding, prepared.table.delimiter) == ("utf-8-sig", ";")
    assert prepared.valid[0][1] == {"subject": "Torréfaction", "lastname": "Lefèvre",
                                              "companyname": "Brûlerie", "leadsourcecode": 6, "budgetamount": 1000.0}


def test_cyclic_gc_is_paused_only_while_importing() -> None:
    import gc

    from d365lab.backlog.importer import cyclic_gc_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failing import")
    assert gc.isenabled()  # restored after an error too
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()
