"""Events of the campaigns (stream ``campaigns``): set-up changes, each attempt's outcome and its disposition."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _CampaignEvent(Event):
    STREAM = "campaigns"

    campaign_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class CampaignCreated(_CampaignEvent):
    name: str
    dial_mode: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CampaignUpdated(_CampaignEvent):
    fields: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CampaignStatusChanged(_CampaignEvent):
    status: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordDialed(_CampaignEvent):
    """An attempt was placed: ``call_id`` is the call's Linkedid."""

    record_id: int
    call_id: str
    phone: str
    attempt: int
    agent_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordSkipped(_CampaignEvent):
    """A preview agent passed on a record, with his reason."""

    record_id: int
    agent_id: int
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordBlocked(_CampaignEvent):
    """A record was not dialed because its number must not be called (blacklist, İYS); it leaves dialing."""

    record_id: int
    phone: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallDisposed(_CampaignEvent):
    """An attempt got its disposition (by the agent, or by the dialer for a call no agent talked on); the record's
    new ``status`` and ``next_attempt_at`` (ISO, or empty) follow from the disposition's rule."""

    call_id: str
    record_id: int | None
    disposition: str
    agent_id: int | None
    status: str
    next_attempt_at: str
