"""Phone numbers: parsed and normalised to E.164 with ``phonenumbers``, Turkey as the default region.

``0532 123 45 67``, ``+90 532 123 45 67``, ``5321234567``, ``905321234567`` and ``0090 532 123 4567`` all become
``+905321234567``. A number that cannot be a phone number raises :class:`InvalidPhoneError` whose ``code`` says why
(a message-catalogue key, also the reason code of an import report).

Importing a million-row file cannot afford ``phonenumbers.parse`` (about 40 µs) for every row, so the common
Turkish shapes take a fast path: the digits are cut down to the national significant number by hand and checked
against the same metadata patterns, in the same order, that ``phonenumbers`` uses to find a number's type. Anything
the fast path does not recognise as a valid number goes through ``phonenumbers`` itself, which also gives the precise
reason for a refusal. A test holds the two paths to the same answers.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberDesc, PhoneNumberType
from phonenumbers import ValidationResult as _Possible

DEFAULT_REGION = "TR"


class PhoneKind(enum.StrEnum):
    MOBILE = "mobile"
    FIXED = "fixed"
    OTHER = "other"  # toll-free, premium rate, VoIP, pager, UAN ("444" numbers) and the like


class InvalidPhoneError(ValueError):
    """Not a usable phone number. ``code`` is one of :data:`REASONS`."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text!r}")
        self.code = code
        self.text = text


#: Every reason a phone number is refused.
REASONS = (
    "phone.empty",
    "phone.not_a_number",
    "phone.invalid_country_code",
    "phone.too_short",
    "phone.too_long",
    "phone.invalid",
)


@dataclasses.dataclass(frozen=True, order=True)
class PhoneNumber:
    """A valid phone number in E.164 form (``+905321234567``) and its kind."""

    e164: str
    kind: PhoneKind = dataclasses.field(compare=False)

    def __str__(self) -> str:
        return self.e164

    @classmethod
    def parse(cls, text: str | int, default_region: str = DEFAULT_REGION) -> PhoneNumber:
        return parse_phone(text, default_region)

    @property
    def national(self) -> str:
        """The number as written at home: ``0532 123 45 67``."""
        number = phonenumbers.parse(self.e164)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


_KINDS = {
    PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneKind.FIXED,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.FIXED,
}
_POSSIBLE_ERRORS = {
    _Possible.TOO_SHORT: "phone.too_short",
    _Possible.INVALID_LENGTH: "phone.invalid",
    _Possible.TOO_LONG: "phone.too_long",
    _Possible.INVALID_COUNTRY_CODE: "phone.invalid_country_code",
}
_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "phone.invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "phone.not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone.too_short",
    NumberParseException.TOO_SHORT_NSN: "phone.too_short",
    NumberParseException.TOO_LONG: "phone.too_long",
}
_SEPARATORS = str.maketrans("", "", " -().\t/\u00a0")


def parse_phone(text: str | int, default_region: str = DEFAULT_REGION) -> PhoneNumber:
    """Normalise ``text``; raise :class:`InvalidPhoneError` when it is not a valid number."""
    if isinstance(text, int):
        text = str(text)
    fast = _fast_path(text, default_region)
    if fast is not None:
        return PhoneNumber(*fast)
    return _slow_path(text, default_region)


def e164(text: str, default_region: str = DEFAULT_REGION) -> str:
    """Just the E.164 text of :func:`parse_phone` (the import's hot loop has no use for the object)."""
    fast = _fast_path(text, default_region)
    return fast[0] if fast is not None else _slow_path(text, default_region).e164


def _slow_path(text: str, region: str) -> PhoneNumber:
    stripped = text.strip()
    if not stripped:
        raise InvalidPhoneError("phone.empty", text)
    try:
        number = phonenumbers.parse(stripped, region)
    except NumberParseException as exc:
        raise InvalidPhoneError(_PARSE_ERRORS.get(exc.error_type, "phone.not_a_number"), text) from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible in _POSSIBLE_ERRORS:
        raise InvalidPhoneError(_POSSIBLE_ERRORS[possible], text)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError("phone.invalid", text)
    kind = _KINDS.get(phonenumbers.number_type(number), PhoneKind.OTHER)
    return PhoneNumber(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


# --- the fast path for Turkish numbers --------------------------------------------------------------------------


def _fast_path(text: str, region: str) -> tuple[str, PhoneKind] | None:
    """The number when it is a plainly written, valid Turkish number; None means "ask phonenumbers"."""
    if region != "TR":
        return None
    digits = text.translate(_SEPARATORS)
    if digits.startswith("+90"):
        nsn = digits[3:]
    elif digits.startswith("0090"):
        nsn = digits[4:]
    elif len(digits) == 12 and digits.startswith("90"):
        nsn = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        nsn = digits[1:]
    else:
        nsn = digits
    if len(nsn) != 10 or not nsn.isascii() or not nsn.isdigit() or nsn[0] == "0":
        return None
    kind = _tr_kind(nsn)
    return None if kind is None else ("+90" + nsn, kind)


# The order phonenumbers itself tests the number types in (phonenumberutil._number_type_helper); fixed lines come
# before mobiles, and a number matching both is a fixed line for us (FIXED_LINE_OR_MOBILE).
_TYPE_ORDER = (
    ("premium_rate", PhoneKind.OTHER),
    ("toll_free", PhoneKind.OTHER),
    ("shared_cost", PhoneKind.OTHER),
    ("voip", PhoneKind.OTHER),
    ("personal_number", PhoneKind.OTHER),
    ("pager", PhoneKind.OTHER),
    ("uan", PhoneKind.OTHER),
    ("voicemail", PhoneKind.OTHER),
    ("fixed_line", PhoneKind.FIXED),
    ("mobile", PhoneKind.MOBILE),
)


def _fits(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """``desc``'s pattern when a number of ``length`` digits may match it (phonenumbers checks lengths first)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return desc.national_number_pattern


@functools.cache
def _tr_classifier(length: int) -> tuple[re.Pattern[str] | None, dict[str, PhoneKind]]:
    """One expression for TR's number types of ``length`` digits: the first alternative that matches the whole
    number wins, which is the first type in phonenumbers' order; the general pattern is a look-ahead in front."""
    metadata = PhoneMetadata.metadata_for_region("TR")
    assert metadata is not None
    general = _fits(metadata.general_desc, length)
    kinds: dict[str, PhoneKind] = {}
    branches: list[str] = []
    for name, kind in _TYPE_ORDER:
        if name == "mobile" and metadata.same_mobile_and_fixed_line_pattern:
            continue
        pattern = _fits(getattr(metadata, name), length)
        if pattern is not None:
            kinds[name] = kind
            branches.append(f"(?P<{name}>{pattern})")
    if general is None or not branches:
        return None, kinds
    return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(branches)})"), kinds


def _tr_kind(nsn: str) -> PhoneKind | None:
    pattern, kinds = _tr_classifier(len(nsn))
    match = None if pattern is None else pattern.fullmatch(nsn)
    return None if match is None or match.lastgroup is None else kinds[match.lastgroup]
