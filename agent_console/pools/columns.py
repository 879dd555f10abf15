"""The mapping step of an import: a look at the uploaded file (its columns, first rows, encoding and delimiter) and
a first guess of each column's target from its header (``Telefon`` -> phone, ``Ad Soyad`` -> name, ``İl`` -> city,
``İlçe`` -> a custom field ``ilce``...), which the user then corrects."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Generator, Mapping, Sequence

from crm_core.customers.places import fold
from dialer.pools.files import Line, open_table
from dialer.pools.mapping import CUSTOM, FIELDS

PREVIEW_ROWS = 10
#: The targets a column can be given on the form; "" is "not imported", CUSTOM_CHOICE a custom field.
CUSTOM_CHOICE = "custom"
CHOICES = ("", *FIELDS, CUSTOM_CHOICE)

#: Header names (folded: lower case, Turkish letters and spaces/punctuation removed) and their target.
_GUESSES: Mapping[str, str] = {
    **dict.fromkeys(
        (
            "telefon", "tel", "telefonno", "telefonnumarasi", "telno", "gsm", "gsmno", "cep", "ceptel", "ceptelefonu",
            "cepno", "ceptelefonno", "mobil", "mobiltelefon", "numara", "phone", "phonenumber", "mobile", "msisdn",
        ),
        "phone",
    ),
    **dict.fromkeys(
        (
            "adsoyad", "adisoyadi", "adsoyadi", "isim", "isimsoyisim", "isimsoyad", "ad", "adi", "musteri",
            "musteriadi", "musteriadisoyadi", "unvan", "name", "fullname", "customer", "customername",
        ),
        "name",
    ),
    **dict.fromkeys(("il", "sehir", "city", "province"), "city"),
    **dict.fromkeys(("bolge", "region"), "region"),
    **dict.fromkeys(("oncelik", "priority"), "priority"),
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Column:
    index: int
    name: str
    samples: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Preview:
    file_format: str  # "csv" or "xlsx"
    encoding: str | None
    delimiter: str | None
    header_line: int
    columns: tuple[Column, ...]
    rows: tuple[Line, ...]  # the first data rows, each as wide as the header


def preview(filename: str, content: bytes, rows: int = PREVIEW_ROWS) -> Preview:
    """The header and first data rows of a file (``FileFormatError`` if it cannot be read). Blocking."""
    table = open_table(filename, content)
    width = len(table.header)
    try:
        first = [
            (line, (cells + [""] * width)[:width])
            for line, cells in itertools.islice((r for r in table.rows if "".join(r[1]).strip()), rows)
        ]
    finally:
        if isinstance(table.rows, Generator):
            table.rows.close()  # an XLSX workbook is closed by its reader
    columns = tuple(
        Column(i, name, tuple(cells[i].strip() for _, cells in first if cells[i].strip())[:3])
        for i, name in enumerate(table.header)
    )
    return Preview(table.file_format, table.encoding, table.delimiter, table.header_line, columns, tuple(first))


def custom_key(name: str) -> str:
    """A custom field's key from its column name: ``Abone No`` -> ``abone_no``, ``İlçe`` -> ``ilce``."""
    words = (fold(word) for word in re.split(r"[\s\-_.']+", name))
    return re.sub(r"[^a-z0-9]+", "_", "_".join(w for w in words if w)).strip("_")[:40]


def guess(header: Sequence[str]) -> dict[int, tuple[str, str]]:
    """Column index -> (choice, custom key) as the form first shows it. Each field goes to the first column that
    looks like it; every other named column becomes a custom field (the user may leave it out)."""
    out: dict[int, tuple[str, str]] = {}
    taken: set[str] = set()
    keys: set[str] = set()
    for index, name in enumerate(header):
        if not name.strip():
            out[index] = ("", "")
            continue
        target = _GUESSES.get(fold(name))
        if target is not None and target not in taken:
            taken.add(target)
            out[index] = (target, "")
            continue
        key = custom_key(name) or f"sutun_{index + 1}"
        while key in keys:
            key += "_"
        keys.add(key)
        out[index] = (CUSTOM_CHOICE, key)
    return out


def mapping_of(header: Sequence[str], chosen: Mapping[int, tuple[str, str]]) -> dict[str, str]:
    """The service's mapping (column name -> target) from the form's choices; columns left out are not in it."""
    out: dict[str, str] = {}
    for index, (choice, key) in chosen.items():
        if not choice or index >= len(header):
            continue
        out[header[index]] = f"{CUSTOM}{key.strip()}" if choice == CUSTOM_CHOICE else choice
    return out
