"""Reading the CSV files people actually have: UTF-8 with or without BOM, French Excel.

French Excel saves "CSV (séparateur : point-virgule)" in Windows-1252 with ``;`` between
fields, and "CSV UTF-8" with a BOM and, again, ``;``. We detect the encoding and the
delimiter instead of asking, and fail with a message a person can act on when the bytes
are not text we understand (UTF-16 exports, binary files).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

#: Encodings ``--encoding auto`` tries, in order. cp1252 is what French Excel writes for
#: "CSV (séparateur : point-virgule)"; it is tried only when UTF-8 fails.
AUTO_ENCODINGS = ("utf-8-sig", "cp1252")
_DELIMITERS = (";", ",", "\t")
#: The longest cell a row may hold (Python's csv default limit, 128 KB): no lead column takes
#: more; a row with a longer cell is rejected on its own instead of stopping the whole file.
MAX_CELL = 131_072
#: The longest cell the parser reads at all (a larger one is a broken file: an unclosed quote).
_PARSER_CELL_LIMIT = 64 * 1024 * 1024


class CsvFormatError(Exception):
    """The file cannot be read as a CSV table (encoding, empty file, header problems)."""


@dataclass(frozen=True)
class CsvTable:
    """A decoded CSV file: its header, its data records and how it was read.

    ``records[i]`` holds the stripped values of record ``line_numbers[i]``, one per header
    name (columns with an empty title are dropped). The line number is the row number a
    spreadsheet shows (1-based, the header is row 1, a blank line is a row); it differs
    from the physical file line once a quoted cell spans several lines. ``short_rows`` are
    the records with fewer fields than the header (a truncated export), left out of ``records``.
    """

    header: list[str]
    records: list[list[str]]
    line_numbers: list[int]
    encoding: str
    delimiter: str
    short_rows: list[ShortRow] = field(default_factory=list)
    #: Records with a cell longer than :data:`MAX_CELL`, left out of ``records``.
    oversized_rows: list[OversizedRow] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, str]]:
        """The records as dicts keyed by header name."""
        return [dict(zip(self.header, record, strict=True)) for record in self.records]


@dataclass(frozen=True)
class ShortRow:
    """A record with fewer fields than the header: its row number, its raw fields, the header's width."""

    line: int
    fields: list[str]
    header_fields: int


@dataclass(frozen=True)
class OversizedRow:
    """A record with a cell longer than :data:`MAX_CELL`: its row number, the column and the cell's length."""

    line: int
    column: str
    length: int


def decode_bytes(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Decode file bytes; return ``(text, encoding used)``.

    ``auto`` accepts UTF-8 (BOM or not) and falls back to Windows-1252. UTF-16 and files
    with NUL bytes are refused with a hint, because decoding them as 8-bit text would
    silently produce garbage lead names.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFormatError("the file is UTF-16 (Excel 'Unicode text'); save it as 'CSV UTF-8' and retry")
    if b"\x00" in data:
        raise CsvFormatError("the file contains NUL bytes: it is not a text CSV (binary or UTF-16?)")
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise CsvFormatError(f"cannot decode the file as {encoding}: {exc}") from None
    for candidate in AUTO_ENCODINGS:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise CsvFormatError("the file is neither UTF-8 nor Windows-1252 text; pass --encoding")


def sniff_delimiter(header_line: str) -> str:
    """Pick the delimiter that splits the header line into the most fields (``;`` wins ties)."""
    best = max(_DELIMITERS, key=lambda d: header_line.count(d))
    return best if header_line.count(best) > 0 else ","


def parse_text(text: str, encoding: str = "utf-8") -> CsvTable:
    """Parse decoded CSV text into a :class:`CsvTable`; blank lines are skipped."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise CsvFormatError("the file is empty")
    first_line = (text.partition("\n")[0].splitlines() or [""])[0]
    delimiter = sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise CsvFormatError("the file is empty") from None
    if not any(header):
        raise CsvFormatError("the header line is empty")
    seen: set[str] = set()
    for name in header:
        if name and name.lower() in seen:
            raise CsvFormatError(f"column {name!r} appears twice in the header")
        seen.add(name.lower())
    records: list[list[str]] = []
    lines: list[int] = []
    short: list[ShortRow] = []
    oversized: list[OversizedRow] = []
    width = len(header)
    # Columns with an empty title are dropped (when there are none, a record is kept as read).
    named = [i for i, name in enumerate(header) if name]
    every_column_named = len(named) == width
    # Rows are counted per record, not per physical line (reader.line_num), so that a quoted
    # multi-line cell does not shift the numbers admins look up in their spreadsheet.
    row_number = 1
    previous_limit = csv.field_size_limit(_PARSER_CELL_LIMIT)
    try:
        for row_number, fields in enumerate(reader, start=2):
            if fields and max(map(len, fields)) > MAX_CELL:
                longest = max(range(len(fields)), key=lambda i: len(fields[i]))
                name = header[longest] if longest < width and header[longest] else f"column {longest + 1}"
                oversized.append(OversizedRow(row_number, name, len(fields[longest])))
                continue
            if len(fields) != width:
                if not "".join(fields).strip():
                    continue
                if len(fields) > width and "".join(fields[width:]).strip():
                    raise CsvFormatError(f"line {row_number}: {len(fields)} fields but the header has {width}")
                if len(fields) < width:
                    short.append(ShortRow(row_number, fields, width))
                    continue
                fields = fields[:width]
            values = list(map(str.strip, fields)) if every_column_named else [fields[i].strip() for i in named]
            # A row of empty cells is a blank line (text only under an untitled column is kept,
            # so that the row is reported rather than dropped).
            if any(values) or (not every_column_named and "".join(fields).strip()):
                records.append(values)
                lines.append(row_number)
    except csv.Error as exc:
        raise CsvFormatError(f"line {row_number + 1}: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)
    if not records and not short and not oversized:
        raise CsvFormatError("the file has a header line but no data rows: nothing to import")
    return CsvTable(header=[h for h in header if h], records=records, line_numbers=lines,
                    encoding=encoding, delimiter=delimiter, short_rows=short, oversized_rows=oversized)


def read_csv(path: Path, encoding: str = "auto") -> CsvTable:
    """Read and parse a CSV file (see :func:`decode_bytes` for encodings)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    text, used = decode_bytes(data, encoding)
    return parse_text(text, used)


def read_text_file(path: Path) -> str:
    """A small text file (rules, mapping) read as :func:`read_csv` reads a CSV file.

    UTF-8 with or without BOM, then Windows-1252 (what Windows Notepad and Excel users
    save), and UTF-16 with a BOM. Raises ``OSError`` when it cannot be read and
    ``ValueError`` (a sentence without the file name) when the bytes are not such text.
    """
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("it starts like UTF-16 text but is not valid UTF-16") from None
    if b"\x00" in data:
        raise ValueError("it contains NUL bytes: it is not a text file")
    for candidate in AUTO_ENCODINGS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise ValueError("it is neither UTF-8 nor Windows-1252 text; save it as UTF-8")


#: First characters that make Excel (and LibreOffice) read a cell as a formula; tab and CR too,
#: as the OWASP "CSV injection" advice lists them.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: object) -> object:
    """A cell value safe to open in a spreadsheet: text starting like a formula gets a ``'`` prefix.

    Only text is changed (numbers we write, such as line numbers, stay numbers). The lead
    values in rejects and results come from a CSV or a tenant anyone may have typed into.

    >>> neutralize_cell("=1+1"), neutralize_cell("Jane"), neutralize_cell(-3)
    ("'=1+1", 'Jane', -3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> None:
    """Write rows as UTF-8 CSV with a BOM, so Excel opens accents right; formula-like text is neutralized."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else neutralize_cell(row.get(k)) for k in header})
