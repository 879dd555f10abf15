"""Reading lead files as users upload them: Turkish Excel CSV exports, UTF-8 with and without BOM, XLSX; every data
row becomes a candidate or a report line with its line number, raw values and reason."""

from __future__ import annotations

import pytest

from dialer.pools.files import FileFormatError, decode, open_table, sniff_delimiter
from dialer.pools.mapping import ColumnMapping, MappingError, prepare

from .conftest import MAPPING, csv_file, xlsx_file

COLUMNS = ColumnMapping(MAPPING)


def test_a_turkish_excel_export_windows_1254_with_semicolons_quotes_short_rows_and_blank_lines() -> None:
    content = csv_file(
        [
            "Telefon;Ad Soyad;Şehir;Öncelik;Abone No",
            "0532 123 45 67;İsmail Şahin;İSTANBUL;3;A-1",
            "",
            '05321234568;"Doğan; Ltd. Şti.";izmir;;A-2',
            '05321234569;"Çağla\r\nĞüneş";Muğla;1;',
            "05321234570;Kısa Satır",
            ";;;",
            "05321234571;Ömer Işık;Iğdır;x;A-5",
            "0111 111 11 11;Yanlış Numara;Ankara;0;A-6",
            "+90 532 123 45 67;Tekrar;Ankara;0;A-7",
        ],
        encoding="cp1254",
    )
    prepared = prepare("musteriler.csv", content, COLUMNS)
    assert (prepared.file_format, prepared.encoding, prepared.delimiter) == ("csv", "windows-1254", ";")
    assert prepared.header == ["Telefon", "Ad Soyad", "Şehir", "Öncelik", "Abone No"]
    assert prepared.custom_keys == ["abone_no"]
    assert prepared.candidates == [
        (2, "+905321234567", "İsmail Şahin", "İstanbul", "Marmara", 3, ["A-1"]),
        (4, "+905321234568", "Doğan; Ltd. Şti.", "İzmir", "Ege", 0, ["A-2"]),
        (5, "+905321234569", "Çağla\r\nĞüneş", "Muğla", "Ege", 1, [None]),
    ]
    assert [(i.line_no, i.reason, i.detail) for i in prepared.issues] == [
        (7, "row.too_short", "2 of 5 columns"),
        (9, "priority.invalid", "x"),
        (10, "phone.invalid", "0111 111 11 11"),
        (11, "duplicate.in_file", "line 2"),
    ]
    assert prepared.issues[0].raw == ("05321234570", "Kısa Satır")
    assert all(i.outcome == "rejected" for i in prepared.issues)
    assert prepared.blank_lines == 2  # the empty line and the line of empty cells
    assert prepared.total_rows == 7


def test_utf8_with_bom_and_commas() -> None:
    content = b"\xef\xbb\xbf" + csv_file(["Telefon,Ad Soyad", '"0532 123 45 67","Gül, Ayşe"'])
    prepared = prepare("liste.csv", content, ColumnMapping({"telefon": "phone", "AD  SOYAD": "name"}))
    assert (prepared.encoding, prepared.delimiter) == ("utf-8-sig", ",")
    assert prepared.candidates == [(2, "+905321234567", "Gül, Ayşe", None, None, 0, [])]


@pytest.mark.parametrize(
    ("content", "text", "encoding"),
    [
        ("İşçi ğ".encode(), "İşçi ğ", "utf-8"),
        (b"\xef\xbb\xbf" + "İşçi".encode(), "İşçi", "utf-8-sig"),
        ("İşçi ğ".encode("cp1254"), "İşçi ğ", "windows-1254"),
        ("İşçi".encode("utf-16"), "İşçi", "utf-16"),
    ],
)
def test_encodings(content: bytes, text: str, encoding: str) -> None:
    assert decode(content) == (text, encoding)


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("a;b;c", ";"),
        ("a,b,c", ","),
        ("a\tb\tc", "\t"),
        ("a|b|c", "|"),
        ('"x;y",b,c', ","),
        ("a;b,c", ";"),
        ("telefon", ","),
    ],
)
def test_the_delimiter_is_read_from_the_header(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header) == delimiter


def test_an_xlsx_sheet_with_numbers_empty_cells_and_empty_rows() -> None:
    content = xlsx_file(
        [
            ["Telefon", "Ad Soyad", "Şehir", "Öncelik", "Abone No"],
            [5321234567, "Ayşe", "Bursa", 2, 1001],
            [],
            [5321234568.0, "Ali", None, None, None],
            ["0532 123 45 69", "Veli"],
            ["yok", "Numarasız", "Bursa", 1, 1004],
        ]
    )
    prepared = prepare("liste.xlsx", content, COLUMNS)
    assert prepared.file_format == "xlsx"
    assert prepared.candidates == [
        (2, "+905321234567", "Ayşe", "Bursa", "Marmara", 2, ["1001"]),
        (4, "+905321234568", "Ali", None, None, 0, [None]),
        (5, "+905321234569", "Veli", None, None, 0, [None]),
    ]
    assert [(i.line_no, i.reason, i.raw) for i in prepared.issues] == [
        (6, "phone.not_a_number", ("yok", "Numarasız", "Bursa", "1", "1004"))
    ]
    assert prepared.blank_lines == 1


def test_extra_cells_are_refused_unless_empty() -> None:
    content = csv_file(["Telefon;Ad Soyad", "05321234567;Ali;;", "05321234568;Veli;kayık"])
    prepared = prepare("x.csv", content, ColumnMapping({"Telefon": "phone", "Ad Soyad": "name"}))
    assert [c[0] for c in prepared.candidates] == [2]
    assert [(i.line_no, i.reason) for i in prepared.issues] == [(3, "row.too_long")]


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("bos.csv", b"", "file.empty"),
        ("bos.csv", b"\r\n\r\n  \r\n", "file.empty"),
        ("eski.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "file.xls_unsupported"),
        ("bozuk.xlsx", b"PK\x03\x04 this is not a zip", "file.unreadable"),
        ("metin.xlsx", b"Telefon\r\n0532\r\n", "file.unreadable"),
        ("undefined.csv", b"Telefon\r\n\x81\x8d\r\n", "file.encoding"),
        ("only-blank-rows.csv", b";;\r\n;;\r\n", "file.no_header"),
    ],
)
def test_files_that_cannot_be_read_at_all(filename: str, content: bytes, code: str) -> None:
    with pytest.raises(FileFormatError) as error:
        open_table(filename, content)
    assert error.value.code == code


def test_an_unclosed_quote_that_swallows_the_file_is_named_with_its_line() -> None:
    lines = ["Telefon;Ad", "05321234567;Ali", '05321234568;"Veli'] + [f"0532{i:07d};Ad {i}" for i in range(20_000)]
    with pytest.raises(FileFormatError) as error:
        prepare("x.csv", csv_file(lines), ColumnMapping({"Telefon": "phone"}))
    assert error.value.code == "file.malformed"
    assert error.value.detail.startswith("line 3:")


@pytest.mark.parametrize(
    ("mapping", "code"),
    [
        ({"Ad Soyad": "name"}, "mapping.no_phone"),
        ({"Telefon": "phone", "Ad Soyad": "nickname"}, "mapping.unknown_target"),
        ({"Telefon": "phone", "Ad Soyad": "custom:"}, "mapping.unknown_target"),
        ({"Telefon": "phone", "Ad Soyad": "name", "Şehir": "name"}, "mapping.duplicate_target"),
        ({"Telefon": "phone", "E-posta": "custom:email"}, "mapping.unknown_column"),
        ({"Telefon": "phone", "Not": "custom:not"}, "mapping.ambiguous_column"),
    ],
)
def test_a_mapping_that_does_not_fit_the_file_is_refused_before_any_row(mapping: dict[str, str], code: str) -> None:
    content = csv_file(["Telefon;Ad Soyad;Şehir;Not;not", "05321234567;Ali;Van;a;b"])
    with pytest.raises(MappingError) as error:
        prepare("x.csv", content, ColumnMapping(mapping))
    assert error.value.code == code


def test_cities_are_written_properly_and_their_region_is_derived_unless_given() -> None:
    content = csv_file(
        [
            "Telefon;Şehir;Bölge",
            "05321234567;SANLIURFA;",
            "05321234568;istanbul;Trakya",
            "05321234569;Kadıköy;",
            "05321234570;;ic anadolu",
        ]
    )
    mapping = ColumnMapping({"Telefon": "phone", "Şehir": "city", "Bölge": "region"})
    assert [(c[3], c[4]) for c in prepare("x.csv", content, mapping).candidates] == [
        ("Şanlıurfa", "Güneydoğu Anadolu"),
        ("İstanbul", "Trakya"),
        ("Kadıköy", None),
        (None, "İç Anadolu"),
    ]
