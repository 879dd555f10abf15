"""Reading the two files the blacklist pages take: a list of numbers to block, and an İYS consent file. Pure: the
database decides afterwards what is already known.

Both are read with the data pools' readers (CSV in any of the encodings Turkish Excel writes, or XLSX). Their columns
are found by name, Turkish or English, whatever the case and the Turkish letters (``Telefon No``, ``telefon``,
``PHONE``; ``Alıcı Tipi``, ``recipientType``); a numbers file may also be a bare column of numbers without a header.
Every data row comes out either accepted or as a :class:`ReportLine` with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from crm_core.customers.model import tr_lower
from crm_core.customers.phones import REASONS as PHONE_REASONS
from crm_core.customers.phones import InvalidPhoneError, e164
from dialer.blacklist.model import IYS_ZONE, Channel, ConsentStatus, RecipientType, ReportLine
from dialer.blacklist.repository import NewConsent
from dialer.pools.files import FileFormatError, Line, open_table

#: Every reason a row of an upload is not stored.
REASONS = (
    *PHONE_REASONS,
    "duplicate.in_file",
    "blacklist.already_listed",
    "iys.bad_status",
    "iys.bad_channel",
    "iys.bad_recipient_type",
    "iys.bad_date",
    "iys.future_date",
    "iys.superseded_in_file",
    "iys.older",
)
#: Every reason a whole file is refused (``FileFormatError.code``): the pools' readers' and the two of this module.
FILE_ERRORS = (
    "file.empty",
    "file.xls_unsupported",
    "file.unreadable",
    "file.encoding",
    "file.malformed",
    "file.no_header",
    "file.no_phone_column",
    "file.no_status_column",
)

K = TypeVar("K", bound=str)

_ASCII = str.maketrans("çğıöşüâîû", "cgiosuaiu")
_COLUMNS = {
    "phone": (
        "telefon",
        "telefonno",
        "telefonnumarasi",
        "tel",
        "telno",
        "numara",
        "gsm",
        "cep",
        "ceptelefonu",
        "alici",
        "phone",
        "phonenumber",
        "number",
        "msisdn",
        "mobile",
        "recipient",
    ),
    "reason": ("neden", "sebep", "aciklama", "reason", "note", "comment"),
    "status": ("durum", "onaydurumu", "izindurumu", "izin", "status", "consentstatus", "consent"),
    "channel": ("kanal", "izintipi", "izinturu", "tur", "tip", "channel", "type"),
    "recipient_type": ("alicitipi", "alicituru", "recipienttype", "recipient_type"),
    "source": ("kaynak", "izinkaynagi", "source"),
    "date": ("tarih", "izintarihi", "onaytarihi", "date", "consentdate"),
}
_STATUS = {
    ConsentStatus.ONAY: ("onay", "onayli", "onaylandi", "var", "evet", "izinli", "izinvar", "granted", "given", "yes"),
    ConsentStatus.RET: ("ret", "red", "reddedildi", "reddetti", "yok", "hayir", "izinyok", "refused", "denied", "no"),
}
_CHANNELS = {
    Channel.ARAMA: ("arama", "cagri", "telefon", "seslimesaj", "call", "calls", "voice", "phone"),
    Channel.MESAJ: ("mesaj", "sms", "kisamesaj", "message", "text"),
    Channel.EPOSTA: ("eposta", "email", "mail"),
}
_RECIPIENTS = {
    RecipientType.BIREYSEL: ("bireysel", "birey", "kisi", "individual", "person", "consumer"),
    RecipientType.TACIR: ("tacir", "kurumsal", "sirket", "merchant", "business", "company", "trader"),
}
#: How far ahead of the clock a consent date may be (clocks and zones differ); beyond that it is a mistake.
_FUTURE_SLACK = timedelta(days=1)
_DATE_FORMATS = (
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
)


def fold(text: str) -> str:
    """A name or value as compared: lower case the Turkish way, Turkish letters as ASCII, letters and digits only."""
    return "".join(c for c in tr_lower(text).translate(_ASCII) if c.isascii() and c.isalnum())


def _lookup(table: Mapping[K, tuple[str, ...]]) -> dict[str, K]:
    return {alias: key for key, aliases in table.items() for alias in aliases}


_COLUMN_OF = _lookup(_COLUMNS)
_STATUS_OF = _lookup(_STATUS)
_CHANNEL_OF = _lookup(_CHANNELS)
_RECIPIENT_OF = _lookup(_RECIPIENTS)


def find_columns(header: list[str]) -> dict[str, int]:
    """What each recognised column holds -> its index (the first such column wins)."""
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        kind = _COLUMN_OF.get(fold(name))
        if kind is not None:
            found.setdefault(kind, index)
    return found


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _data(rows: Iterator[Line]) -> Iterator[Line]:
    """Data rows that are not blank."""
    for line, cells in rows:
        if "".join(cells).strip():
            yield line, cells


@dataclasses.dataclass(frozen=True)
class NumberRow:
    line_no: int
    phone: str
    reason: str  # the file's own reason for this number; empty: the one given with the upload
    raw: tuple[str, ...]


class NumbersFile:
    """A file of numbers to block: a column of numbers (``Telefon``/``Phone``/...) and optionally one of reasons
    (``Neden``/``Reason``). A file without a recognised header is taken as bare numbers when its first row holds one,
    or when it has a single column."""

    def __init__(self, filename: str, content: bytes) -> None:
        table = open_table(filename, content)
        columns = find_columns(table.header)
        self._rows = _data(table.rows)
        self._phone_at = columns.get("phone")
        self._reason_at = columns.get("reason")
        if self._phone_at is None:
            self._phone_at = _number_column(table.header)
            if self._phone_at is not None:  # no header at all: its first line is data
                self._rows = _data(_chain((table.header_line, table.header), self._rows))
            elif len(table.header) == 1:
                self._phone_at = 0
            else:
                raise FileFormatError("file.no_phone_column", ", ".join(table.header))
        self._seen: dict[str, int] = {}

    def batches(self, size: int) -> Iterator[tuple[list[NumberRow], list[ReportLine]]]:
        """Accepted rows and refused rows, ``size`` data rows at a time; always at least one (possibly empty)."""
        accepted: list[NumberRow] = []
        refused: list[ReportLine] = []
        for line, cells in self._rows:
            self._check(line, cells, accepted, refused)
            if len(accepted) + len(refused) >= size:
                yield accepted, refused
                accepted, refused = [], []
        yield accepted, refused

    def _check(self, line: int, cells: list[str], accepted: list[NumberRow], refused: list[ReportLine]) -> None:
        text = _cell(cells, self._phone_at)
        try:
            phone = e164(text)
        except InvalidPhoneError as exc:
            refused.append(ReportLine(line, exc.code, text or None, tuple(cells)))
            return
        first = self._seen.setdefault(phone, line)
        if first != line:
            refused.append(ReportLine(line, "duplicate.in_file", f"{first}", tuple(cells)))
            return
        accepted.append(NumberRow(line, phone, _cell(cells, self._reason_at), tuple(cells)))


def _number_column(cells: list[str]) -> int | None:
    for index, cell in enumerate(cells):
        try:
            e164(cell)
        except InvalidPhoneError:
            continue
        return index
    return None


def _chain(first: Line, rest: Iterator[Line]) -> Iterator[Line]:
    yield first
    yield from rest


class ConsentFile:
    """An İYS consent file: number and status are required (``Telefon``/``Alıcı``/``recipient``,
    ``Durum``/``status``); the channel (``Kanal``/``İzin Tipi``/``type``, default ARAMA), the recipient type
    (``Alıcı Tipi``/``recipientType``, default BIREYSEL), the source (``Kaynak``/``source``) and the date
    (``Tarih``/``consentDate``, default: now) are optional. A type column holding BIREYSEL/TACIR is taken as the
    recipient type when there is no column of its own for it."""

    def __init__(self, filename: str, content: bytes, *, now: datetime) -> None:
        table = open_table(filename, content)
        self._at = find_columns(table.header)
        if "phone" not in self._at:
            raise FileFormatError("file.no_phone_column", ", ".join(table.header))
        if "status" not in self._at:
            raise FileFormatError("file.no_status_column", ", ".join(table.header))
        self._rows = _data(table.rows)
        self._now = now

    def batches(self, size: int) -> Iterator[tuple[list[NewConsent], list[ReportLine]]]:
        """Accepted consents (at most one per number and channel: the latest; the others are reported as older) and
        refused rows, ``size`` data rows at a time; always at least one batch."""
        accepted: dict[tuple[str, Channel], NewConsent] = {}
        refused: list[ReportLine] = []
        count = 0
        for line, cells in self._rows:
            count += 1
            try:
                consent = self._consent(line, cells)
            except _Refused as exc:
                refused.append(ReportLine(line, exc.reason, exc.text or None, tuple(cells)))
            else:
                key = (consent.phone, consent.channel)
                kept = accepted.get(key)
                if kept is None:
                    accepted[key] = consent
                else:  # the same number and channel twice: the later statement wins, by date, then by line
                    newer, older = (consent, kept) if kept.consent_date <= consent.consent_date else (kept, consent)
                    accepted[key] = newer
                    refused.append(ReportLine(older.line_no, "iys.superseded_in_file", str(newer.line_no), older.raw))
            if count >= size:
                yield list(accepted.values()), refused
                accepted, refused, count = {}, [], 0
        yield list(accepted.values()), refused

    def _consent(self, line: int, cells: list[str]) -> NewConsent:
        at = self._at
        text = _cell(cells, at.get("phone"))
        try:
            phone = e164(text)
        except InvalidPhoneError as exc:
            raise _Refused(exc.code, text) from None
        status = _choice(_STATUS_OF, _cell(cells, at.get("status")), None, "iys.bad_status")
        type_text = _cell(cells, at.get("channel"))
        recipient_text = _cell(cells, at.get("recipient_type"))
        if "recipient_type" not in at and fold(type_text) in _RECIPIENT_OF:
            type_text, recipient_text = "", type_text  # a "tür" column of BIREYSEL/TACIR
        channel = _choice(_CHANNEL_OF, type_text, Channel.ARAMA, "iys.bad_channel")
        recipient = _choice(_RECIPIENT_OF, recipient_text, RecipientType.BIREYSEL, "iys.bad_recipient_type")
        date_text = _cell(cells, at.get("date"))
        date = parse_date(date_text) if date_text else self._now
        if date is None:
            raise _Refused("iys.bad_date", date_text)
        if date > self._now + _FUTURE_SLACK:
            raise _Refused("iys.future_date", date_text)
        return NewConsent(
            line_no=line,
            phone=phone,
            channel=channel,
            status=status,
            recipient_type=recipient,
            source=_cell(cells, at.get("source"))[:100],
            consent_date=date,
            raw=tuple(cells),
        )


class _Refused(Exception):
    def __init__(self, reason: str, text: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text


def _choice(values: Mapping[str, K], text: str, default: K | None, reason: str) -> K:
    """The value ``text`` names; ``default`` for an empty cell (None: required)."""
    if not text and default is not None:
        return default
    value = values.get(fold(text))
    if value is None:
        raise _Refused(reason, text)
    return value


def parse_date(text: str) -> datetime | None:
    """İYS's ``2024-01-15 10:30:00`` (and ISO with an offset), or the Turkish ``15.01.2024 10:30``; a time without
    an offset is Türkiye time. None when it is no date."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
        for pattern in _DATE_FORMATS:
            try:
                value = datetime.strptime(text, pattern)  # the zone is set below
            except ValueError:
                continue
            break
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=IYS_ZONE)
