"""Reading an uploaded lead file: CSV (delimiter ``;``, ``,``, tab or ``|``; UTF-8, UTF-8 with BOM, UTF-16 with BOM,
or Windows-1254 as Turkish Excel writes it) or XLSX (first sheet, openpyxl read-only).

The result is a header and the data rows as lists of strings, each with the line number a person opening the file
would see (for CSV, the line the row starts on). A file that cannot be read at all raises :class:`FileFormatError`
with a reason code; nothing is imported from it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

_DELIMITERS = (";", ",", "\t", "|")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and other OLE files)


class FileFormatError(ValueError):
    """The file as a whole cannot be read. ``code`` is a message-catalogue key; ``detail`` says where or what."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


Line = tuple[int, list[str]]


@dataclasses.dataclass
class Table:
    """A file's header and its data rows (lazily read, once)."""

    file_format: str  # "csv" or "xlsx"
    header: list[str]
    header_line: int
    rows: Iterator[Line]
    encoding: str | None = None
    delimiter: str | None = None


def open_table(filename: str, content: bytes) -> Table:
    """Recognise the file by its content (the name only breaks a tie) and read its header."""
    if not content.strip():
        raise FileFormatError("file.empty")
    if content.startswith(_XLSX_MAGIC):
        return _xlsx(content)
    if content.startswith(_OLE_MAGIC) or filename.lower().endswith(".xls"):
        raise FileFormatError("file.xls_unsupported", "save it as .xlsx or .csv")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise FileFormatError("file.unreadable", "not an Excel workbook")
    return _csv(content)


# --- CSV ----------------------------------------------------------------------------------------------------------


def decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was in."""
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileFormatError("file.encoding", f"byte {exc.start}") from None
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1254"), "windows-1254"
    except UnicodeDecodeError as exc:
        raise FileFormatError("file.encoding", f"byte {exc.start}") from None


def sniff_delimiter(line: str) -> str:
    """The delimiter of a header line: the candidate found most often outside quotes; ``;`` wins ties (Turkish
    Excel writes ``;`` because the decimal separator is ``,``); a single-column file gets ``,``."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv(content: bytes) -> Table:
    text, encoding = decode(content)
    delimiter = sniff_delimiter(_first_nonblank_line(text))
    rows = _csv_rows(text, delimiter)
    header_line, header = _header(rows)
    return Table("csv", header, header_line, rows, encoding=encoding, delimiter=delimiter)


def _first_nonblank_line(text: str) -> str:
    for line in io.StringIO(text):
        if line.strip():
            return line
    return ""


def _csv_rows(text: str, delimiter: str) -> Iterator[Line]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Most often an unclosed quote that swallowed the rest of the file into one field (over csv's limit).
            raise FileFormatError("file.malformed", f"line {previous + 1}: {exc}") from None
        yield previous + 1, cells
        previous = reader.line_num


# --- XLSX ---------------------------------------------------------------------------------------------------------


def _xlsx(content: bytes) -> Table:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileFormatError("file.unreadable", str(exc)) from None
    if not workbook.worksheets:
        workbook.close()
        raise FileFormatError("file.no_header")
    rows = _xlsx_rows(workbook)
    header_line, header = _header(rows)
    return Table("xlsx", header, header_line, rows)


def _xlsx_rows(workbook: Any) -> Iterator[Line]:
    sheet = workbook.worksheets[0]
    try:
        first = sheet.min_row or 1
        for number, values in enumerate(sheet.iter_rows(values_only=True), first):
            yield number, [cell_text(v) for v in values]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileFormatError("file.unreadable", str(exc)) from None
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text the user sees; whole numbers lose Excel's ``.0`` (phone numbers typed as
    numbers come back as floats or ints)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


# --- both ---------------------------------------------------------------------------------------------------------


def _header(rows: Iterator[Line]) -> tuple[int, list[str]]:
    for line, cells in rows:
        if any(c.strip() for c in cells):
            header = [c.strip() for c in cells]
            while header and not header[-1]:
                header.pop()
            return line, header
    raise FileFormatError("file.no_header")
