"""Campaign use cases: set campaigns up, and settle each attempt with its disposition.

Changes run in one transaction with their audit record; events are published once it has committed, so a
subscriber never sees what the database does not hold. :func:`settle_attempt` is the one place where a
disposition becomes the record's fate: the agent's choice (:meth:`CampaignService.dispose`) and the dialer's own
(a call no agent talked on, :mod:`dialer.campaigns.dialer`) both go through it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.customers.model import changes
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.callbacks.service import attempt_settled
from dialer.campaigns import events
from dialer.campaigns.model import (
    DEFAULT_DISPOSITIONS,
    CallingRules,
    Campaign,
    CampaignStatus,
    DialMode,
    Disposition,
    DispositionAction,
    fate,
)
from dialer.campaigns.repository import (
    CallRecord,
    CallRecordRepository,
    CampaignRepository,
    DialRecords,
    DuplicateCampaignError,
)


class DispositionRefusedError(RuntimeError):
    """The disposition cannot be set: ``code`` is a message-catalogue key saying why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _view(c: Campaign) -> dict[str, object]:
    r = c.rules
    return {
        "name": c.name,
        "description": c.description,
        "dial_mode": c.dial_mode.value,
        "queue": c.queue,
        "caller_id": c.caller_id,
        "record_calls": c.record_calls,
        "wrap_up_seconds": c.wrap_up_seconds,
        "time_zone": r.time_zone,
        "call_days": sorted(r.call_days),
        "call_from": r.call_from.isoformat(),
        "call_until": r.call_until.isoformat(),
        "max_attempts_per_day": r.max_attempts_per_day,
        "calls_per_second": r.calls_per_second,
        "max_lines": r.max_lines,
        "ring_timeout": r.ring_timeout,
        "pool_ids": list(c.pool_ids),
        "team_ids": list(c.team_ids),
    }


async def settle_attempt(
    conn: Connection,
    campaign_id: int,
    call: CallRecord,
    disposition: Disposition,
    now: datetime,
    *,
    by: int | None,
    note: str | None = None,
    callback_at: datetime | None = None,
    callback_visibility: str = "team",
) -> events.CallDisposed:
    """Store ``disposition`` on the call and give its record the fate the disposition's rule says (run inside the
    caller's transaction). Returns the event to publish after commit."""
    await CallRecordRepository(conn).set_disposition(call.call_id, disposition.code, now, by, note)
    status, next_at = "", None
    if call.pool_record_id is not None:
        records = DialRecords(conn)
        record = await records.get(call.pool_record_id, lock=True)
        if record is not None:
            outcome = fate(disposition, record.attempts, now, callback_at)
            settled = await records.settle(record.id, outcome.status, disposition.code, outcome.next_attempt_at)
            if settled is not None:
                status, next_at = settled.status.value, settled.next_attempt_at
            # Call-backs (dialer.callbacks): fulfilled by this talk, missed, or scheduled by this disposition.
            await attempt_settled(
                conn,
                call,
                disposition,
                status,
                now,
                by=by,
                note=note,
                callback_at=callback_at,
                visibility=callback_visibility,
            )
        if note and call.customer_id is not None:
            await conn.execute(
                """INSERT INTO call_notes (customer_id, author_id, noted_at, body, call_id, pool_record_id)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                call.customer_id,
                by,
                now,
                note,
                call.call_id,
                call.pool_record_id,
            )
    return events.CallDisposed(
        campaign_id=campaign_id,
        call_id=call.call_id,
        record_id=call.pool_record_id,
        disposition=disposition.code,
        agent_id=by if by is not None else call.agent_id,
        status=status,
        next_attempt_at=next_at.isoformat() if next_at else "",
    )


class CampaignService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def create_campaign(
        self,
        actor: Actor,
        name: str,
        dial_mode: DialMode,
        *,
        pool_ids: Sequence[int] = (),
        team_ids: Sequence[int] = (),
        rules: CallingRules | None = None,
        description: str = "",
        queue: str = "sales",
        caller_id: str = "",
        record_calls: bool = True,
        wrap_up_seconds: int | None = None,
        dispositions: Sequence[Disposition] = DEFAULT_DISPOSITIONS,
    ) -> Campaign:
        name = name.strip()
        if not name:
            raise InvalidInputError("name", "error.required")
        draft = Campaign(
            id=0,
            name=name,
            dial_mode=dial_mode,
            description=description.strip(),
            queue=queue,
            caller_id=caller_id,
            record_calls=record_calls,
            rules=rules or CallingRules(),
            wrap_up_seconds=wrap_up_seconds,
            pool_ids=tuple(pool_ids),
            team_ids=tuple(team_ids),
        )
        async with self._db.acquire() as conn, conn.transaction():
            repo = CampaignRepository(conn)
            try:
                campaign_id = await repo.add(draft)
            except DuplicateCampaignError:
                raise InvalidInputError("name", "error.campaign_taken") from None
            for disposition in dispositions:
                await repo.save_disposition(campaign_id, disposition)
            campaign = await repo.get(campaign_id)
            assert campaign is not None
            await AuditRepository(conn).record(
                actor, "campaign.created", "campaign", campaign_id, changes({}, _view(campaign))
            )
        await self._publish(
            events.CampaignCreated(
                campaign_id=campaign.id, name=campaign.name, dial_mode=campaign.dial_mode.value, actor_id=actor.id
            )
        )
        return campaign

    async def update_campaign(self, actor: Actor, campaign: Campaign) -> Campaign:
        async with self._db.acquire() as conn, conn.transaction():
            repo = CampaignRepository(conn)
            before = await repo.get(campaign.id, lock=True)
            if before is None:
                raise NotFoundError(campaign.id)
            try:
                await repo.update(campaign)
            except DuplicateCampaignError:
                raise InvalidInputError("name", "error.campaign_taken") from None
            after = await repo.get(campaign.id)
            assert after is not None
            diff = changes(_view(before), _view(after))
            if diff:
                await AuditRepository(conn).record(actor, "campaign.updated", "campaign", campaign.id, diff)
        if diff:
            await self._publish(events.CampaignUpdated(campaign_id=campaign.id, fields=tuple(diff), actor_id=actor.id))
        return after

    async def set_status(self, actor: Actor, campaign_id: int, status: CampaignStatus) -> Campaign:
        """Start (running), pause or finish a campaign. A running campaign needs a pool and a team."""
        async with self._db.acquire() as conn, conn.transaction():
            repo = CampaignRepository(conn)
            campaign = await repo.get(campaign_id, lock=True)
            if campaign is None:
                raise NotFoundError(campaign_id)
            if status is CampaignStatus.RUNNING and not (campaign.pool_ids and campaign.team_ids):
                raise InvalidInputError("status", "error.campaign_needs_pool_and_team")
            if campaign.status is status:
                return campaign
            await repo.set_status(campaign_id, status)
            await AuditRepository(conn).record(
                actor, "campaign.status", "campaign", campaign_id, {"status": [campaign.status.value, status.value]}
            )
        await self._publish(
            events.CampaignStatusChanged(campaign_id=campaign_id, status=status.value, actor_id=actor.id)
        )
        return dataclasses.replace(campaign, status=status)

    async def get(self, campaign_id: int) -> Campaign:
        async with self._db.acquire() as conn:
            campaign = await CampaignRepository(conn).get(campaign_id)
        if campaign is None:
            raise NotFoundError(campaign_id)
        return campaign

    async def list_campaigns(self) -> list[Campaign]:
        async with self._db.acquire() as conn:
            return await CampaignRepository(conn).find()

    async def dispositions(self, campaign_id: int) -> list[Disposition]:
        async with self._db.acquire() as conn:
            return await CampaignRepository(conn).dispositions(campaign_id)

    async def save_disposition(self, actor: Actor, campaign_id: int, disposition: Disposition) -> None:
        async with self._db.acquire() as conn, conn.transaction():
            repo = CampaignRepository(conn)
            if await repo.get(campaign_id) is None:
                raise NotFoundError(campaign_id)
            await repo.save_disposition(campaign_id, disposition)
            await AuditRepository(conn).record(
                actor,
                "campaign.disposition_saved",
                "campaign",
                campaign_id,
                {disposition.code: [None, disposition.label]},
            )

    async def dispose(
        self,
        agent_id: int,
        call_id: str,
        code: str,
        *,
        note: str | None = None,
        callback_at: datetime | None = None,
        now: datetime | None = None,
        callback_visibility: str = "team",
    ) -> events.CallDisposed:
        """The agent's disposition (and note) for a call he talked on; the record's fate follows its rule.

        It may be set during the call or after it. Refused (:class:`DispositionRefusedError`) for a call that is
        not his, already disposed, or a code the campaign does not have (or one the dialer sets by itself); a
        call-back disposition needs a time in the future."""
        at = now or utc_now()
        note = (note or "").strip() or None
        async with self._db.acquire() as conn, conn.transaction():
            call = await CallRecordRepository(conn).get(call_id, lock=True)
            if call is None or call.agent_id != agent_id or call.campaign_id is None:
                raise DispositionRefusedError("error.disposition_not_your_call")
            if call.disposition is not None:
                raise DispositionRefusedError("error.disposition_already_set")
            chosen = next(
                (
                    d
                    for d in await CampaignRepository(conn).dispositions(call.campaign_id)
                    if d.code == code and d.active
                ),
                None,
            )
            if chosen is None or chosen.outcome is not None:
                raise DispositionRefusedError("error.disposition_unknown")
            if chosen.action is DispositionAction.CALLBACK and (callback_at is None or callback_at <= at):
                raise DispositionRefusedError("error.callback_time_needed")
            event = await settle_attempt(
                conn,
                call.campaign_id,
                call,
                chosen,
                at,
                by=agent_id,
                note=note,
                callback_at=callback_at,
                callback_visibility=callback_visibility,
            )
        await self._publish(event)
        return event

    async def history(self, pool_record_id: int) -> list[CallRecord]:
        """Every attempt on a record, newest first: what the preview screen shows."""
        async with self._db.acquire() as conn:
            return await CallRecordRepository(conn).of_record(pool_record_id)

    async def _publish(self, event: Event) -> None:
        await self._bus.publish(event)
