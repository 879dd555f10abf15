"""Events of the blacklist and İYS consents (stream ``blacklist``). A dialer holding numbers in memory listens to
them to drop numbers that have just become undialable."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _BlacklistEvent(Event):
    STREAM = "blacklist"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlacklistEntryAdded(_BlacklistEvent):
    """A number was blocked, everywhere (``campaign_id`` None) or for one campaign."""

    entry_id: int
    phone: str
    campaign_id: int | None
    source: str  # "manual" | "import" | "disposition"
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlacklistEntryRemoved(_BlacklistEvent):
    entry_id: int
    phone: str
    campaign_id: int | None
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlacklistImported(_BlacklistEvent):
    """A file of numbers was blocked: ``stored + skipped`` is every data row of the file."""

    filename: str
    campaign_id: int | None
    stored: int
    skipped: int
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class IysConsentsImported(_BlacklistEvent):
    """An İYS consent file was stored: ``stored + skipped`` is every data row; ``refused`` of the stored rows say
    RET."""

    filename: str
    stored: int
    skipped: int
    refused: int
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CampaignConsentRuleChanged(_BlacklistEvent):
    campaign_id: int
    consent_rule: str  # "ignore" | "refused_blocked" | "consent_required"
    actor_id: int | None
