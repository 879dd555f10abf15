"""The blacklist (seed 001 "Kara liste") and İYS consents: pure domain, no I/O.

A number is never dialed while it has a live blacklist entry, global or for the campaign dialing it. İYS (İleti
Yönetim Sistemi) records, per number and channel, whether the owner gave (ONAY) or refused (RET) consent to commercial
communication; a campaign's :class:`ConsentRule` says what its calls make of that. The values of the İYS enums are
İYS's own codes, as its files and API write them.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from zoneinfo import ZoneInfo

#: İYS is Turkish: a date in one of its files without an offset is Türkiye time.
IYS_ZONE = ZoneInfo("Europe/Istanbul")


class Source(enum.StrEnum):
    """How an entry came in: typed by a person, from an uploaded file, or from an agent's "do not call" outcome."""

    MANUAL = "manual"
    IMPORT = "import"
    DISPOSITION = "disposition"


class BlockReason(enum.StrEnum):
    """Why a number may not be dialed (the values of :func:`dialer.blacklist.service.blocked_numbers`)."""

    BLACKLIST = "blacklist"  # a live global entry
    BLACKLIST_CAMPAIGN = "blacklist_campaign"  # a live entry of the campaign dialing
    IYS_REFUSED = "iys_refused"  # İYS says RET for calls
    IYS_NO_CONSENT = "iys_no_consent"  # the campaign calls only numbers with ONAY, and this one has none


class ConsentRule(enum.StrEnum):
    """A campaign's use of İYS. Only commercial calls need consent: ``ignore`` is for the others (collections,
    service calls); ``refused_blocked`` (the default) skips numbers that refused calls; ``consent_required`` calls
    only numbers that consented."""

    IGNORE = "ignore"
    REFUSED_BLOCKED = "refused_blocked"
    CONSENT_REQUIRED = "consent_required"


class Channel(enum.StrEnum):
    ARAMA = "ARAMA"  # calls
    MESAJ = "MESAJ"  # SMS
    EPOSTA = "EPOSTA"  # e-mail


class ConsentStatus(enum.StrEnum):
    ONAY = "ONAY"  # given
    RET = "RET"  # refused


class RecipientType(enum.StrEnum):
    BIREYSEL = "BIREYSEL"  # a person
    TACIR = "TACIR"  # a merchant


@dataclasses.dataclass(frozen=True)
class BlacklistEntry:
    """One listing of a number, global (``campaign_id`` None) or for one campaign. Removal keeps the entry."""

    id: int
    phone: str
    campaign_id: int | None
    reason: str
    source: Source
    added_by: int | None
    added_at: datetime
    removed_at: datetime | None = None
    removed_by: int | None = None
    removal_reason: str | None = None

    @property
    def live(self) -> bool:
        return self.removed_at is None

    def audit_view(self) -> dict[str, object]:
        """What the audit log keeps of the entry (the campaign only when it has one)."""
        view: dict[str, object] = {"phone": self.phone, "reason": self.reason, "source": self.source.value}
        if self.campaign_id is not None:
            view["campaign_id"] = self.campaign_id
        return view


@dataclasses.dataclass(frozen=True)
class Consent:
    """A number's latest İYS status on one channel."""

    phone: str
    channel: Channel
    status: ConsentStatus
    recipient_type: RecipientType
    source: str
    consent_date: datetime
    updated_at: datetime | None = None
    updated_by: int | None = None


@dataclasses.dataclass(frozen=True)
class CampaignRule:
    """A campaign as the blacklist pages show it: for the scope choice and its İYS rule."""

    id: int
    name: str
    consent_rule: ConsentRule


# --- upload reports -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReportLine:
    """A line of an upload that was not stored, with why (a reason code, see ``uploads.REASONS``)."""

    line_no: int
    reason: str
    detail: str | None
    raw: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class UploadReport:
    """Every data row of an uploaded file is either stored or one of ``lines``."""

    filename: str
    total_rows: int
    stored_rows: int
    lines: tuple[ReportLine, ...]

    @property
    def skipped_rows(self) -> int:
        return self.total_rows - self.stored_rows


def reason_key(reason: str) -> str:
    """The message-catalogue key of a refusal reason (``phone.invalid`` -> ``blacklist.refusal.phone_invalid``)."""
    return "blacklist.refusal." + reason.replace(".", "_")


@dataclasses.dataclass(frozen=True)
class NumberStatus:
    """What is known about one number: its İYS consents, its blacklist entries (live and removed, newest first) and
    why it may not be dialed outside any campaign (None: it may)."""

    phone: str
    consents: tuple[Consent, ...]
    entries: tuple[BlacklistEntry, ...]
    blocked: BlockReason | None
