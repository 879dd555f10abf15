"""Use cases on the blacklist (seed 001 "Kara liste") and İYS consents, and the check that runs before every dial,
manual ones included, and on every batch of an import.

Changes run in one transaction together with their audit record; events are published once it has committed. An
uploaded file is stored whole or not at all: each of its rows is stored or reported with its reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from datetime import datetime
from typing import Literal, TypeVar

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.customers.phones import InvalidPhoneError, e164
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.blacklist import events
from dialer.blacklist.model import (
    BlacklistEntry,
    BlockReason,
    CampaignRule,
    ConsentRule,
    ConsentStatus,
    NumberStatus,
    ReportLine,
    Source,
    UploadReport,
    reason_key,
)
from dialer.blacklist.repository import BlacklistRepository, ConsentRepository, EntryFilter
from dialer.blacklist.uploads import ConsentFile, NumbersFile
from dialer.pools.service import BlockedNumbers

__all__ = ["BlacklistService", "blocked_at_import", "blocked_for_campaign", "blocked_numbers"]

#: Rows per batch of an upload (and so the most numbers one check takes at import).
BATCH_ROWS = 20_000
PAGE_SIZE = 50
MAX_REASON = 500

Scope = Literal["all", "global"] | int  # every entry, the global ones, or one campaign's
Status = Literal["live", "removed", "all"]
STATUSES: tuple[Status, ...] = ("live", "removed", "all")

T = TypeVar("T")


# --- the check ----------------------------------------------------------------------------------------------------


async def blocked_numbers(
    conn: Connection, numbers: Sequence[str], *, campaign_id: int | None = None
) -> dict[str, str]:
    """The numbers of ``numbers`` that may not be dialed -> why (a :class:`BlockReason` value: ``blacklist``,
    ``blacklist_campaign``, ``iys_refused``, ``iys_no_consent``), keyed as given. Numbers may be written any way
    (``0532 123 45 67``); a number that is not a phone number raises :class:`InvalidPhoneError` naming it. One query
    whatever the count. Without a campaign, the global blacklist and İYS refusals count (the default rule)."""
    normal = {number: e164(number) for number in numbers}
    if not normal:
        return {}
    found = await BlacklistRepository(conn).blocked(sorted(set(normal.values())), campaign_id)
    return {given: found[phone] for given, phone in normal.items() if phone in found}


async def blocked_at_import(conn: Connection, numbers: Sequence[str]) -> Collection[str]:
    """The import hook (:data:`dialer.pools.service.BlockedNumbers`): a pool may be dialed by any campaign, so its
    imports refuse what blocks everywhere, the global blacklist and İYS refusals."""
    return (await blocked_numbers(conn, numbers)).keys()


def blocked_for_campaign(campaign_id: int) -> BlockedNumbers:
    """An import hook that also refuses the campaign's own entries and applies its İYS rule."""

    async def blocked(conn: Connection, numbers: Sequence[str]) -> Collection[str]:
        return (await blocked_numbers(conn, numbers, campaign_id=campaign_id)).keys()

    return blocked


# --- use cases ----------------------------------------------------------------------------------------------------


class BlacklistService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def check(self, numbers: Sequence[str], *, campaign_id: int | None = None) -> dict[str, str]:
        """:func:`blocked_numbers` on a connection of its own."""
        async with self._db.acquire() as conn:
            return await blocked_numbers(conn, numbers, campaign_id=campaign_id)

    async def add(
        self,
        actor: Actor,
        phone: str,
        *,
        reason: str,
        campaign_id: int | None = None,
        source: Source = Source.MANUAL,
    ) -> BlacklistEntry:
        """Block a number everywhere (``campaign_id`` None) or for one campaign."""
        number = _phone(phone)
        reason = _text(reason, "reason")
        async with self._db.acquire() as conn, conn.transaction():
            repo = BlacklistRepository(conn)
            await _check_campaign(repo, campaign_id)
            entry = await repo.add(number, campaign_id, reason, source, actor.id)
            if entry is None:
                raise InvalidInputError("phone", "blacklist.error.already_listed")
            await AuditRepository(conn).record(actor, "blacklist.added", "blacklist", entry.id, entry.audit_view())
        await self._publish(
            events.BlacklistEntryAdded(
                entry_id=entry.id, phone=number, campaign_id=campaign_id, source=source.value, actor_id=actor.id
            )
        )
        return entry

    async def remove(self, actor: Actor, entry_id: int, reason: str) -> BlacklistEntry:
        """Unblock: the entry stays, with who removed it, when and why."""
        reason = _text(reason, "removal_reason")
        async with self._db.acquire() as conn, conn.transaction():
            repo = BlacklistRepository(conn)
            if await repo.get(entry_id, lock=True) is None:
                raise NotFoundError(entry_id)
            entry = await repo.remove(entry_id, actor.id, reason)
            if entry is None:
                raise InvalidInputError("removal_reason", "blacklist.error.already_removed")
            await AuditRepository(conn).record(
                actor,
                "blacklist.removed",
                "blacklist",
                entry.id,
                {**entry.audit_view(), "removal_reason": reason},
            )
        await self._publish(
            events.BlacklistEntryRemoved(
                entry_id=entry.id, phone=entry.phone, campaign_id=entry.campaign_id, actor_id=actor.id
            )
        )
        return entry

    async def add_file(
        self, actor: Actor, *, filename: str, content: bytes, reason: str, campaign_id: int | None = None
    ) -> UploadReport:
        """Block every number of an uploaded CSV or XLSX file, with the file's own reason for a row when it has a
        reason column, else ``reason``. A file that cannot be read raises ``FileFormatError`` and stores nothing."""
        reason = _text(reason, "reason")
        reader = await asyncio.to_thread(NumbersFile, filename, content)
        lines: list[ReportLine] = []
        total = stored = 0
        async with self._db.acquire() as conn, conn.transaction():
            repo = BlacklistRepository(conn)
            await _check_campaign(repo, campaign_id)
            async for accepted, refused in _in_thread(reader.batches(BATCH_ROWS)):
                added = await repo.add_many(
                    [row.phone for row in accepted],
                    [row.reason[:MAX_REASON] or reason for row in accepted],
                    campaign_id,
                    Source.IMPORT,
                    actor.id,
                )
                lines += refused
                lines += [
                    ReportLine(row.line_no, "blacklist.already_listed", None, row.raw)
                    for row in accepted
                    if row.phone not in added
                ]
                total += len(accepted) + len(refused)
                stored += len(added)
            report = UploadReport(filename, total, stored, tuple(sorted(lines, key=lambda line: line.line_no)))
            await AuditRepository(conn).record(
                actor,
                "blacklist.imported",
                "blacklist_file",
                filename,
                {"campaign_id": campaign_id, "reason": reason, **_counts(report)},
            )
        await self._publish(
            events.BlacklistImported(
                filename=filename,
                campaign_id=campaign_id,
                stored=report.stored_rows,
                skipped=report.skipped_rows,
                actor_id=actor.id,
            )
        )
        return report

    async def import_consents(
        self, actor: Actor, *, filename: str, content: bytes, now: datetime | None = None
    ) -> UploadReport:
        """Store an İYS consent file. A consent older than the one known for its number and channel is reported
        (``iys.older``), not stored. A file that cannot be read raises ``FileFormatError`` and stores nothing."""
        reader = await asyncio.to_thread(ConsentFile, filename, content, now=now or utc_now())
        lines: list[ReportLine] = []
        total = stored = refusals = 0
        async with self._db.acquire() as conn, conn.transaction():
            repo = ConsentRepository(conn)
            async for accepted, refused in _in_thread(reader.batches(BATCH_ROWS)):
                applied = await repo.store(accepted, actor.id)
                lines += refused
                for consent in accepted:
                    if (consent.phone, consent.channel.value) in applied:
                        refusals += consent.status is ConsentStatus.RET
                    else:
                        lines.append(ReportLine(consent.line_no, "iys.older", None, consent.raw))
                total += len(accepted) + len(refused)
                stored += len(applied)
            report = UploadReport(filename, total, stored, tuple(sorted(lines, key=lambda line: line.line_no)))
            await AuditRepository(conn).record(
                actor, "iys.imported", "iys_file", filename, {**_counts(report), "refused": refusals}
            )
        await self._publish(
            events.IysConsentsImported(
                filename=filename,
                stored=report.stored_rows,
                skipped=report.skipped_rows,
                refused=refusals,
                actor_id=actor.id,
            )
        )
        return report

    async def set_consent_rule(self, actor: Actor, campaign_id: int, rule: ConsentRule) -> CampaignRule:
        async with self._db.acquire() as conn, conn.transaction():
            repo = BlacklistRepository(conn)
            campaign = await repo.campaign(campaign_id, lock=True)
            if campaign is None:
                raise NotFoundError(campaign_id)
            if campaign.consent_rule is rule:
                return campaign
            await repo.set_consent_rule(campaign_id, rule)
            change = {"consent_rule": [campaign.consent_rule.value, rule.value]}
            await AuditRepository(conn).record(actor, "campaign.updated", "campaign", campaign_id, change)
        await self._publish(
            events.CampaignConsentRuleChanged(campaign_id=campaign_id, consent_rule=rule.value, actor_id=actor.id)
        )
        return dataclasses.replace(campaign, consent_rule=rule)

    # --- reading --------------------------------------------------------------------------------------------------

    async def entry(self, entry_id: int) -> BlacklistEntry:
        async with self._db.acquire() as conn:
            entry = await BlacklistRepository(conn).get(entry_id)
        if entry is None:
            raise NotFoundError(entry_id)
        return entry

    async def search(
        self,
        query: str = "",
        *,
        scope: Scope = "all",
        status: Status = "live",
        before_id: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[BlacklistEntry]:
        """Entries newest first. ``query`` is a whole number (written any way) or a part of one (its digits)."""
        if status not in STATUSES:
            raise InvalidInputError("status", "error.bad_choice")
        where = _filter(query, scope, status)
        if where is None:
            return []
        async with self._db.acquire() as conn:
            return await BlacklistRepository(conn).search(where, before_id=before_id, limit=limit)

    async def lookup(self, phone: str) -> NumberStatus:
        """Everything known about one number: its İYS consents, its entries, and whether it may be dialed."""
        number = _phone(phone)
        async with self._db.acquire() as conn:
            consents = await ConsentRepository(conn).for_phone(number)
            entries = await BlacklistRepository(conn).search(EntryFilter(exact=number, status="all"), limit=PAGE_SIZE)
            blocked = await blocked_numbers(conn, [number])
        reason = blocked.get(number)
        return NumberStatus(number, tuple(consents), tuple(entries), BlockReason(reason) if reason else None)

    async def campaigns(self) -> list[CampaignRule]:
        async with self._db.acquire() as conn:
            return await BlacklistRepository(conn).campaigns()

    async def _publish(self, event: Event) -> None:
        await self._bus.publish(event)


async def _in_thread(batches: Iterator[T]) -> AsyncIterator[T]:
    """Read a file's batches in a worker thread, so that a big file does not hold up the event loop."""
    while (batch := await asyncio.to_thread(next, batches, None)) is not None:
        yield batch


def _counts(report: UploadReport) -> dict[str, object]:
    return {"total_rows": report.total_rows, "stored_rows": report.stored_rows, "skipped_rows": report.skipped_rows}


def _phone(text: str) -> str:
    try:
        return e164(text)
    except InvalidPhoneError as exc:
        raise InvalidInputError("phone", reason_key(exc.code)) from None


def _text(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInputError(field, "error.required")
    if len(value) > MAX_REASON:
        raise InvalidInputError(field, "blacklist.error.too_long")
    return value


async def _check_campaign(repo: BlacklistRepository, campaign_id: int | None) -> None:
    if campaign_id is not None and await repo.campaign(campaign_id) is None:
        raise InvalidInputError("campaign_id", "blacklist.error.no_such_campaign")


def _filter(query: str, scope: Scope, status: Status) -> EntryFilter | None:
    """The filter of a search; None when nothing can match (a query without a digit)."""
    campaign_id = None if scope == "all" else 0 if scope == "global" else int(scope)
    text = query.strip()
    if not text:
        return EntryFilter(campaign_id=campaign_id, status=status)
    try:
        return EntryFilter(exact=e164(text), campaign_id=campaign_id, status=status)
    except InvalidPhoneError:
        pass
    digits = "".join(c for c in text if c.isascii() and c.isdigit()).lstrip("0")
    return EntryFilter(digits=digits, campaign_id=campaign_id, status=status) if digits else None
