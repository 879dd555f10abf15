"""Phone numbers as agents and import files write them, normalised to E.164 (Turkey by default)."""

from __future__ import annotations

import random

import pytest

from crm_core.customers import phones
from crm_core.customers.phones import InvalidPhoneError, PhoneKind, PhoneNumber, parse_phone

MOBILE = "+905321234567"


@pytest.mark.parametrize(
    "written",
    [
        "0532 123 45 67",
        "05321234567",
        "+90 532 123 45 67",
        "+905321234567",
        "5321234567",
        "532 123 45 67",
        "905321234567",
        "90 532 123 4567",
        "0090 532 123 45 67",
        "(0532) 123-45-67",
        "0 (532) 123 45 67",
        "0532.123.45.67",
        " 0532 123 45 67 ",
        "0532\u00a0123\u00a045\u00a067",
        5321234567,
    ],
)
def test_turkish_mobile_numbers_written_any_way_normalise_to_e164(written: str | int) -> None:
    number = parse_phone(written)
    assert number.e164 == MOBILE
    assert number.kind is PhoneKind.MOBILE


@pytest.mark.parametrize(
    ("written", "e164", "kind"),
    [
        ("0212 555 12 34", "+902125551234", PhoneKind.FIXED),
        ("(0312) 444 55 66", "+903124445566", PhoneKind.FIXED),
        ("0850 123 45 67", "+908501234567", PhoneKind.OTHER),
        ("0800 211 00 00", "+908002110000", PhoneKind.OTHER),
        ("444 1 444", "+904441444", PhoneKind.OTHER),
        ("+1 202 555 0143", "+12025550143", PhoneKind.FIXED),
        ("+44 7911 123456", "+447911123456", PhoneKind.MOBILE),
        ("+49 30 901820", "+4930901820", PhoneKind.FIXED),
    ],
)
def test_fixed_lines_special_and_foreign_numbers(written: str, e164: str, kind: PhoneKind) -> None:
    number = parse_phone(written)
    assert (number.e164, number.kind) == (e164, kind)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("", "phone.empty"),
        ("   ", "phone.empty"),
        ("yok", "phone.not_a_number"),
        ("-", "phone.not_a_number"),
        ("12", "phone.too_short"),
        ("12345", "phone.too_short"),
        ("532 123 45 6", "phone.invalid"),
        ("0532 123 45 67 89 01 2", "phone.too_long"),
        ("0111 111 11 11", "phone.invalid"),
        ("+999 123 456 789", "phone.invalid_country_code"),
        ("5,32123E+09", "phone.not_a_number"),  # Excel turned it into a number and lost digits
    ],
)
def test_invalid_numbers_raise_a_typed_error_with_the_reason(written: str, code: str) -> None:
    with pytest.raises(InvalidPhoneError) as error:
        parse_phone(written)
    assert error.value.code == code
    assert error.value.code in phones.REASONS
    assert error.value.text == written


def test_the_same_number_written_twice_is_one_number() -> None:
    assert PhoneNumber.parse("0532 123 45 67") == PhoneNumber.parse("+90 532 123 45 67")
    assert len({parse_phone("05321234567"), parse_phone("905321234567")}) == 1
    assert parse_phone("05321234567").national == "0532 123 45 67"


def test_the_fast_path_gives_exactly_what_phonenumbers_gives() -> None:
    """The import's fast path must agree with phonenumbers on every number it accepts, whatever the prefix."""
    rng = random.Random(4)
    shapes = ["0{n}", "+90 {n}", "{n}", "90{n}", "0090{n}", "({a}) {b}", "0{a} {b}"]
    checked = 0
    for _ in range(20_000):
        nsn = str(rng.randrange(1_000_000_000, 9_999_999_999))
        written = rng.choice(shapes).format(n=nsn, a=nsn[:3], b=nsn[3:])
        fast = phones._fast_path(written, "TR")
        try:
            slow: PhoneNumber | None = phones._slow_path(written, "TR")
        except InvalidPhoneError:
            slow = None
        if fast is not None:
            checked += 1
            assert slow is not None, written
            assert fast == (slow.e164, slow.kind), written
            assert phones.e164(written) == slow.e164
    assert checked > 1_000  # the random numbers did hit valid ranges
