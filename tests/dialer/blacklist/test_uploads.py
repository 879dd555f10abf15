"""Reading the files the blacklist takes, as users export them: number lists (with or without a header, Turkish
Excel CSV or XLSX) and İYS consent files with Turkish or English headers; every row accepted or reported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.blacklist.model import IYS_ZONE, Channel, ConsentStatus, RecipientType
from dialer.blacklist.uploads import ConsentFile, NumbersFile, parse_date
from dialer.pools.files import FileFormatError

from .conftest import csv_file, xlsx_file

NOW = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def test_a_numbers_file_with_reasons_from_turkish_excel() -> None:
    content = csv_file(
        [
            "Ad Soyad;Telefon No;Neden",
            "Ali Veli;0532 123 45 67;Şikâyet etti",
            "Yanlış;0111 111 11 11;",
            "",
            "Ayşe;+90 (532) 123-45-68;",
            "Tekrar;05321234567;yine",
            "Boş;;",
        ],
        encoding="cp1254",
    )
    ((accepted, refused),) = list(NumbersFile("liste.csv", content).batches(100))
    assert [(r.line_no, r.phone, r.reason) for r in accepted] == [
        (2, "+905321234567", "Şikâyet etti"),
        (5, "+905321234568", ""),
    ]
    assert [(r.line_no, r.reason, r.detail) for r in refused] == [
        (3, "phone.invalid", "0111 111 11 11"),
        (6, "duplicate.in_file", "2"),
        (7, "phone.empty", None),
    ]
    assert refused[0].raw == ("Yanlış", "0111 111 11 11", "")


def test_a_bare_column_of_numbers_without_a_header() -> None:
    content = csv_file(["05321234567", "0532 123 45 68", "5321234569"])
    ((accepted, refused),) = list(NumbersFile("numaralar.txt", content).batches(100))
    assert [(r.line_no, r.phone) for r in accepted] == [
        (1, "+905321234567"),
        (2, "+905321234568"),
        (3, "+905321234569"),
    ]
    assert refused == []


def test_an_xlsx_with_numbers_typed_as_numbers_and_an_english_header() -> None:
    content = xlsx_file([["PHONE", "Reason"], [5321234567, "complaint"], [905321234568, None]])
    ((accepted, _),) = list(NumbersFile("list.xlsx", content).batches(100))
    assert [(r.phone, r.reason) for r in accepted] == [("+905321234567", "complaint"), ("+905321234568", "")]


def test_a_single_column_with_an_unknown_header_is_taken_as_the_numbers() -> None:
    ((accepted, refused),) = list(NumbersFile("x.csv", csv_file(["Numaralarım", "05321234567"])).batches(100))
    assert [r.phone for r in accepted] == ["+905321234567"]
    assert refused == []


def test_a_file_without_a_phone_column_is_refused_naming_its_columns() -> None:
    with pytest.raises(FileFormatError) as error:
        NumbersFile("x.csv", csv_file(["Ad;Şehir", "Ali;Ankara"]))
    assert (error.value.code, error.value.detail) == ("file.no_phone_column", "Ad, Şehir")


def test_batches_cover_every_row() -> None:
    content = csv_file(["Telefon", *(f"0532{i:07d}" for i in range(5)), "yanlış"])
    batches = list(NumbersFile("x.csv", content).batches(2))
    assert [(len(a), len(r)) for a, r in batches] == [(2, 0), (2, 0), (1, 1), (0, 0)]


def test_an_iys_export_with_turkish_headers() -> None:
    content = csv_file(
        [
            "Alıcı;İzin Tipi;Alıcı Tipi;Durum;Kaynak;İzin Tarihi",
            "5321234567;ARAMA;BIREYSEL;RET;HS_CAGRI_MERKEZI;2024-01-15 10:30:00",
            "5321234568;MESAJ;TACİR;Onay;HS_WEB;15.01.2024",
            "5321234569;Arama;Bireysel;reddedildi;;",
        ]
    )
    ((accepted, refused),) = list(ConsentFile("iys.csv", content, now=NOW).batches(100))
    assert refused == []
    assert [
        (c.line_no, c.phone, c.channel, c.status, c.recipient_type, c.source, c.consent_date) for c in accepted
    ] == [
        (2, "+905321234567", Channel.ARAMA, ConsentStatus.RET, RecipientType.BIREYSEL, "HS_CAGRI_MERKEZI",
         datetime(2024, 1, 15, 10, 30, tzinfo=IYS_ZONE)),
        (3, "+905321234568", Channel.MESAJ, ConsentStatus.ONAY, RecipientType.TACIR, "HS_WEB",
         datetime(2024, 1, 15, tzinfo=IYS_ZONE)),
        (4, "+905321234569", Channel.ARAMA, ConsentStatus.RET, RecipientType.BIREYSEL, "", NOW),
    ]  # fmt: skip


def test_an_iys_file_with_english_headers_in_xlsx() -> None:
    content = xlsx_file(
        [
            ["recipient", "type", "recipientType", "status", "source", "consentDate"],
            ["+905321234567", "CALL", "MERCHANT", "granted", "IYS_WEB", datetime(2024, 3, 1, 8, 0)],
        ]
    )
    ((accepted, _),) = list(ConsentFile("iys.xlsx", content, now=NOW).batches(100))
    (consent,) = accepted
    assert (consent.channel, consent.status, consent.recipient_type) == (
        Channel.ARAMA,
        ConsentStatus.ONAY,
        RecipientType.TACIR,
    )
    assert consent.consent_date == datetime(2024, 3, 1, 8, 0, tzinfo=IYS_ZONE)


def test_a_type_column_of_recipient_types_means_calls() -> None:
    content = csv_file(["Telefon;Durum;Tür", "05321234567;RET;TACIR"])
    ((accepted, _),) = list(ConsentFile("iys.csv", content, now=NOW).batches(100))
    assert [(c.channel, c.recipient_type) for c in accepted] == [(Channel.ARAMA, RecipientType.TACIR)]


def test_iys_rows_that_cannot_be_used_are_reported_and_the_later_statement_wins() -> None:
    content = csv_file(
        [
            "telefon,durum,kanal,tarih",
            "05321234567,BELKİ,ARAMA,2024-01-01",
            "05321234568,RET,FAKS,2024-01-01",
            "05321234569,RET,ARAMA,dün",
            "05321234570,RET,ARAMA,2030-01-01",
            "05321234571,RET,ARAMA,2024-05-01",
            "05321234571,ONAY,ARAMA,2024-02-01",
            "05321234571,ONAY,MESAJ,2024-02-01",
        ]
    )
    ((accepted, refused),) = list(ConsentFile("iys.csv", content, now=NOW).batches(100))
    assert [(r.line_no, r.reason, r.detail) for r in refused] == [
        (2, "iys.bad_status", "BELKİ"),
        (3, "iys.bad_channel", "FAKS"),
        (4, "iys.bad_date", "dün"),
        (5, "iys.future_date", "2030-01-01"),
        (7, "iys.superseded_in_file", "6"),
    ]
    assert [(c.line_no, c.channel, c.status) for c in accepted] == [
        (6, Channel.ARAMA, ConsentStatus.RET),
        (8, Channel.MESAJ, ConsentStatus.ONAY),
    ]


def test_an_iys_file_needs_a_status_column() -> None:
    with pytest.raises(FileFormatError) as error:
        ConsentFile("iys.csv", csv_file(["Telefon;Tarih", "05321234567;2024-01-01"]), now=NOW)
    assert error.value.code == "file.no_status_column"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15 10:30:00", datetime(2024, 1, 15, 10, 30, tzinfo=IYS_ZONE)),
        ("2024-01-15T10:30:00+03:00", datetime(2024, 1, 15, 7, 30, tzinfo=UTC)),
        ("15.01.2024 10:30", datetime(2024, 1, 15, 10, 30, tzinfo=IYS_ZONE)),
        ("15/01/2024", datetime(2024, 1, 15, tzinfo=IYS_ZONE)),
        ("15 Ocak", None),
    ],
)
def test_consent_dates(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected
