"""Call-back and missed-call use cases, and the hooks the campaign dialer calls inside its own transactions.

Call-backs are scheduled two ways: by the agent's call-back disposition (:meth:`CampaignService.dispose` runs
:func:`attempt_settled` in its transaction, with the note and the visibility the agent chose), or from the console
with :meth:`CallbackService.schedule` (for any record the agent can see). Either way the record's
``next_attempt_at`` is the call-back's time, and the record pick (:meth:`DialRecords.claim`) offers it to the
owner before any other record once it is due (to the others who may see it once the owner has been away past the
grace). :meth:`CallbackService.alert_due`, run by a timer, publishes :class:`~dialer.callbacks.events.CallbackDue`
once per call-back when it becomes due (and once more to the team when it goes to them). When an agent talks to
the record again the live call-back is done (the call that fulfilled it is kept); if the record leaves dialing
first, it is missed.

Missed calls are written as they happen, in the transaction of the call's end (:func:`campaign_call_missed`, from
the dialer) or at the queue's abandon (:meth:`MissedCallService.capture_queue_abandon`, the AMI engine's hook), so
a restart loses none. An answered campaign call to a number closes its entry (:func:`campaign_call_answered`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from asyncpg import UniqueViolationError

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.customers.phones import InvalidPhoneError, e164
from dialer.callbacks import events
from dialer.callbacks.model import (
    OWNER_GRACE,
    Callback,
    CallbackListEntry,
    CallbackStatus,
    EntryKind,
    MissedCall,
    MissSource,
    RecordWarning,
    Visibility,
    merge_entries,
)
from dialer.callbacks.repository import CallbackRepository, MissedCallRepository
from dialer.campaigns.model import Disposition, DispositionAction

if TYPE_CHECKING:
    from dialer.campaigns.repository import CallRecord

log = structlog.get_logger(__name__)


class CallbackRefusedError(RuntimeError):
    """The change is refused; ``code`` is a message-catalogue key saying why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


async def _team_of(conn: Connection, user_id: int) -> int | None:
    team: int | None = await conn.fetchval("SELECT team_id FROM users WHERE id = $1", user_id)
    return team


# -- hooks of the campaign dialer (inside its transactions) ------------------------------------------------------


async def attempt_settled(
    conn: Connection,
    call: CallRecord,
    disposition: Disposition,
    record_status: str,
    now: datetime,
    *,
    by: int | None,
    note: str | None,
    callback_at: datetime | None,
    visibility: Visibility | str = Visibility.TEAM,
) -> Callback | None:
    """An attempt on a record got its disposition (:func:`dialer.campaigns.service.settle_attempt`): an agent who
    talked to the customer fulfils the record's live call-back (one scheduled before this call); a record leaving
    dialing misses it; a call-back disposition by an agent schedules a new one, his, at ``callback_at`` (or sets the
    time of the one he scheduled from the console during this call). A call-back scheduled during the call keeps a
    record that the disposition finished in dialing. Returns the new (or changed) call-back, if any."""
    if call.pool_record_id is None:
        return None
    repo = CallbackRepository(conn)
    live = await repo.live_of_record(call.pool_record_id, lock=True)
    if live is not None and by is not None and live.created_at <= call.dialed_at:
        await repo.end(live.id, CallbackStatus.DONE, now, by=by, call_id=call.call_id)  # this call reached them
        live = None
    if disposition.action is DispositionAction.CALLBACK and by is not None:
        if live is not None:  # scheduled from the console during this call: the disposition sets its time
            return await repo.change(
                live.id,
                due_at=callback_at or now,
                note=note or live.note,
                visibility=Visibility(visibility),
                now=now,
            )
        record = await conn.fetchrow("SELECT phone, customer_id FROM pool_records WHERE id = $1", call.pool_record_id)
        if record is None:
            return None
        return await repo.add(
            pool_record_id=call.pool_record_id,
            customer_id=record["customer_id"],
            phone=record["phone"],
            campaign_id=call.campaign_id,
            owner_id=by,
            team_id=await _team_of(conn, by),
            due_at=callback_at or now,
            note=note or "",
            visibility=Visibility(visibility),
            created_by=by,
            created_at=now,
            source_call_id=call.call_id,
        )
    if live is not None:
        if record_status == "archived" or (record_status == "done" and by is None):
            await repo.end(live.id, CallbackStatus.MISSED, now)  # out of dialing before anyone called back
        elif record_status == "done":  # finished by this call, but a call-back was set during it: it waits for it
            await conn.execute(
                """UPDATE pool_records SET status = 'assigned', next_attempt_at = $2, updated_at = $3
                    WHERE id = $1 AND status = 'done'""",
                call.pool_record_id,
                live.due_at,
                now,
            )
    return None


async def due_callbacks_for(
    conn: Connection, agent_id: int, now: datetime, grace: timedelta = OWNER_GRACE
) -> list[Callback]:
    """The due call-backs that go to ``agent_id`` now: his own first, then those of owners away past the grace that
    he may see (what his record picks take first)."""
    return await CallbackRepository(conn).due_for(agent_id, await _team_of(conn, agent_id), now, grace)


async def campaign_call_missed(conn: Connection, call: CallRecord, at: datetime) -> list[Event]:
    """A campaign call was answered and no agent took it (``Outcome.ABANDONED``): the number is a missed call."""
    entry = await MissedCallRepository(conn).record_miss(
        call_id=call.call_id,
        phone=call.phone,
        source=MissSource.CAMPAIGN_ABANDON,
        at=at,
        customer_id=call.customer_id,
        pool_record_id=call.pool_record_id,
        campaign_id=call.campaign_id,
    )
    return [_captured(entry, call.call_id)] if entry is not None else []


async def campaign_call_answered(conn: Connection, call: CallRecord, at: datetime) -> list[Event]:
    """An agent talked to the number: its missed-call entry (if any) is closed."""
    closed = await MissedCallRepository(conn).close_number(
        call.phone, call.connected_at or at, by=call.agent_id, call_id=call.call_id
    )
    if closed is None:
        return []
    return [
        events.MissedCallClosed(
            missed_call_id=closed.id,
            phone=closed.phone,
            reason="answered",
            agent_id=call.agent_id,
            call_id=call.call_id,
        )
    ]


def _captured(entry: MissedCall, call_id: str) -> events.MissedCallCaptured:
    return events.MissedCallCaptured(
        missed_call_id=entry.id,
        phone=entry.phone,
        source=entry.source.value,
        misses=entry.misses,
        first_missed_at=_iso(entry.first_missed_at),
        call_id=call_id,
    )


def _due_event(cb: Callback, *, escalated: bool) -> events.CallbackDue:
    return events.CallbackDue(
        callback_id=cb.id,
        record_id=cb.pool_record_id,
        owner_id=cb.owner_id,
        team_id=cb.team_id,
        visibility=cb.visibility.value,
        phone=cb.phone,
        due_at=_iso(cb.due_at),
        note=cb.note,
        escalated=escalated,
    )


# -- call-backs ---------------------------------------------------------------------------------------------------


class CallbackService:
    def __init__(
        self, db: Database, bus: EventBus, *, clock: Callable[[], datetime] = utc_now, grace: timedelta = OWNER_GRACE
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self.grace = grace

    async def schedule(
        self,
        actor: Actor,
        record_id: int,
        due_at: datetime,
        *,
        note: str = "",
        visibility: Visibility = Visibility.TEAM,
    ) -> Callback:
        """A call-back on a record, owned by ``actor``, from the console. Refused for a time not in the future, a
        record out of dialing, or one with a live call-back already (reschedule that one)."""
        if actor.id is None:
            raise CallbackRefusedError("error.callback_needs_agent")
        now = self._clock()
        if due_at <= now:
            raise CallbackRefusedError("error.callback_time_needed")
        async with self._db.acquire() as conn, conn.transaction():
            record = await conn.fetchrow(
                "SELECT id, phone, customer_id, campaign_id, status FROM pool_records WHERE id = $1 FOR UPDATE",
                record_id,
            )
            if record is None or record["status"] == "archived":
                raise CallbackRefusedError("error.record_not_dialable")
            try:
                async with conn.transaction():
                    callback = await CallbackRepository(conn).add(
                        pool_record_id=record_id,
                        customer_id=record["customer_id"],
                        phone=record["phone"],
                        campaign_id=record["campaign_id"],
                        owner_id=actor.id,
                        team_id=await _team_of(conn, actor.id),
                        due_at=due_at,
                        note=note.strip(),
                        visibility=visibility,
                        created_by=actor.id,
                        created_at=now,
                    )
            except UniqueViolationError:
                raise CallbackRefusedError("error.callback_exists") from None
            # The record waits for its call-back (a finished one is dialed again for it).
            await conn.execute(
                """UPDATE pool_records
                      SET next_attempt_at = $2, updated_at = $3,
                          status = CASE WHEN status = 'done' THEN 'assigned' ELSE status END
                    WHERE id = $1 AND status IN ('new', 'assigned', 'done')""",
                record_id,
                due_at,
                now,
            )
            await AuditRepository(conn).record(
                actor,
                "callback.scheduled",
                "callback",
                callback.id,
                {"record": [None, record_id], "due_at": [None, _iso(due_at)], "visibility": [None, visibility.value]},
            )
        await self._publish(
            events.CallbackScheduled(
                callback_id=callback.id,
                record_id=record_id,
                owner_id=callback.owner_id,
                team_id=callback.team_id,
                visibility=callback.visibility.value,
                due_at=_iso(due_at),
                actor_id=actor.id,
            )
        )
        return callback

    async def reschedule(
        self,
        actor: Actor,
        callback_id: int,
        due_at: datetime,
        *,
        note: str | None = None,
        visibility: Visibility | None = None,
    ) -> Callback:
        """A new time (and note, visibility) for a live call-back the actor may see."""
        now = self._clock()
        if due_at <= now:
            raise CallbackRefusedError("error.callback_time_needed")
        async with self._db.acquire() as conn, conn.transaction():
            repo = CallbackRepository(conn)
            before = await self._editable(conn, actor, callback_id)
            if visibility is not None and visibility != before.visibility and actor.id != before.owner_id:
                raise CallbackRefusedError("error.callback_not_yours")
            after = await repo.change(
                callback_id,
                due_at=due_at,
                note=before.note if note is None else note.strip(),
                visibility=visibility or before.visibility,
                now=now,
            )
            assert after is not None
            if after.pool_record_id is not None:
                await conn.execute(
                    """UPDATE pool_records SET next_attempt_at = $2, updated_at = $3
                        WHERE id = $1 AND status IN ('new', 'assigned')""",
                    after.pool_record_id,
                    due_at,
                    now,
                )
            await AuditRepository(conn).record(
                actor,
                "callback.rescheduled",
                "callback",
                callback_id,
                {
                    "due_at": [_iso(before.due_at), _iso(after.due_at)],
                    "visibility": [before.visibility.value, after.visibility.value],
                },
            )
        await self._publish(
            events.CallbackRescheduled(
                callback_id=callback_id,
                owner_id=after.owner_id,
                due_at=_iso(after.due_at),
                visibility=after.visibility.value,
                actor_id=actor.id,
            )
        )
        return after

    async def cancel(self, actor: Actor, callback_id: int) -> Callback:
        now = self._clock()
        async with self._db.acquire() as conn, conn.transaction():
            await self._editable(conn, actor, callback_id)
            cancelled = await CallbackRepository(conn).end(callback_id, CallbackStatus.CANCELLED, now, by=actor.id)
            assert cancelled is not None
            await AuditRepository(conn).record(
                actor, "callback.cancelled", "callback", callback_id, {"status": ["open", "cancelled"]}
            )
        await self._publish(
            events.CallbackCancelled(callback_id=callback_id, owner_id=cancelled.owner_id, actor_id=actor.id)
        )
        return cancelled

    async def _editable(self, conn: Connection, actor: Actor, callback_id: int) -> Callback:
        callback = await CallbackRepository(conn).get(callback_id, lock=True)
        if callback is None or actor.id is None:
            raise CallbackRefusedError("error.callback_not_found")
        if not callback.visible_to(actor.id, await _team_of(conn, actor.id)):
            raise CallbackRefusedError("error.callback_not_yours")
        if not callback.status.live:
            raise CallbackRefusedError("error.callback_closed")
        return callback

    async def get(self, callback_id: int) -> Callback | None:
        async with self._db.acquire() as conn:
            return await CallbackRepository(conn).get(callback_id)

    async def list_for(self, user_id: int, *, live_only: bool = True) -> list[Callback]:
        """The call-backs the agent may see (his own, his team's shared ones, everyone's public ones)."""
        async with self._db.acquire() as conn:
            return await CallbackRepository(conn).visible_to(
                user_id, await _team_of(conn, user_id), live_only=live_only
            )

    async def due_for(self, user_id: int, now: datetime | None = None) -> list[Callback]:
        async with self._db.acquire() as conn:
            return await due_callbacks_for(conn, user_id, now or self._clock(), self.grace)

    async def warning(self, record_id: int, user_id: int) -> tuple[RecordWarning, int]:
        """What to warn the agent about when the record is reached: its live call-backs he may see, its past notes
        (count and latest), and how many live call-backs of others he may not see."""
        async with self._db.acquire() as conn:
            return await CallbackRepository(conn).warning(record_id, user_id, await _team_of(conn, user_id))

    async def alert_due(self, now: datetime | None = None) -> list[events.CallbackDue]:
        """The timer's job: alert the owners of call-backs that have become due, and the teams of those whose owner
        has been away past the grace. Each alert goes out once (the state is in the database)."""
        at = now or self._clock()
        async with self._db.acquire() as conn, conn.transaction():
            repo = CallbackRepository(conn)
            offered = await repo.mark_offered(at)
            escalated = await repo.mark_escalated(at, self.grace)
        alerts = [_due_event(cb, escalated=False) for cb in offered] + [
            _due_event(cb, escalated=True) for cb in escalated
        ]
        for alert in alerts:
            await self._publish(alert)
        return alerts

    async def _publish(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
        except Exception:
            log.exception("callback_publish_failed", event=event.type_name)


# -- missed calls -------------------------------------------------------------------------------------------------


class MissedCallService:
    def __init__(self, db: Database, bus: EventBus, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock

    async def capture_queue_abandon(self, number: str, queue: str, linkedid: str, hold_seconds: int) -> None:
        """The AMI engine's hook: a caller hung up while waiting in ``queue``. A campaign call (its Linkedid is a
        call record) is the record's number; otherwise ``number`` is the caller's (CallerIDNum)."""
        now = self._clock()
        async with self._db.acquire() as conn, conn.transaction():
            call = await conn.fetchrow(
                "SELECT phone, customer_id, pool_record_id, campaign_id FROM call_records WHERE call_id = $1",
                linkedid,
            )
            if call is not None:
                phone = call["phone"]
            else:
                try:
                    phone = e164(number)
                except InvalidPhoneError:
                    log.info("missed_call_without_number", number=number, queue=queue, linkedid=linkedid)
                    return
            entry = await MissedCallRepository(conn).record_miss(
                call_id=linkedid,
                phone=phone,
                source=MissSource.QUEUE_ABANDON,
                at=now,
                queue=queue or None,
                hold_seconds=max(0, hold_seconds),
                customer_id=call["customer_id"] if call else None,
                pool_record_id=call["pool_record_id"] if call else None,
                campaign_id=call["campaign_id"] if call else None,
            )
        if entry is not None:
            await self._publish(_captured(entry, linkedid))

    async def live(self) -> list[MissedCall]:
        async with self._db.acquire() as conn:
            return await MissedCallRepository(conn).live()

    async def get(self, entry_id: int) -> MissedCall | None:
        async with self._db.acquire() as conn:
            return await MissedCallRepository(conn).get(entry_id)

    async def list_for(self, agent_id: int) -> list[CallbackListEntry]:
        """The agent's call-back list: missed calls nobody else has taken, and his records that were busy or did
        not answer; one line per number, the longest waiting first."""
        async with self._db.acquire() as conn:
            repo = MissedCallRepository(conn)
            missed = [
                CallbackListEntry(
                    kind=EntryKind.MISSED,
                    phone=m.phone,
                    name=m.caller_name,
                    waiting_since=m.first_missed_at,
                    misses=m.misses,
                    reason=m.source.value,
                    missed_call_id=m.id,
                    pool_record_id=m.pool_record_id,
                    campaign_id=m.campaign_id,
                )
                for m in await repo.live()
                if m.taken_by in (None, agent_id)
            ]
            retries = await repo.retry_entries(agent_id, await _team_of(conn, agent_id))
        return merge_entries(missed, retries)

    async def take(self, agent_id: int, entry_id: int | None = None) -> MissedCall | None:
        """Take the longest-waiting open entry (or ``entry_id``) to call it back; never the one another agent took.
        Its record, if it has one waiting in a campaign, is claimed for him too, so that he can dial it."""
        now = self._clock()
        async with self._db.acquire() as conn, conn.transaction():
            entry = await MissedCallRepository(conn).take(agent_id, now, entry_id)
            if entry is not None and entry.pool_record_id is not None:
                await conn.execute(
                    """UPDATE pool_records SET status = 'in_progress', claimed_by = $2, claimed_at = $3, updated_at = $3
                        WHERE id = $1 AND status IN ('new', 'assigned') AND campaign_id IS NOT NULL""",
                    entry.pool_record_id,
                    agent_id,
                    now,
                )
        if entry is not None:
            await self._publish(events.MissedCallTaken(missed_call_id=entry.id, phone=entry.phone, agent_id=agent_id))
        return entry

    async def release(self, agent_id: int, entry_id: int) -> MissedCall | None:
        """The agent gives the entry back (he did not reach the number): open again, at its place in the list."""
        async with self._db.acquire() as conn, conn.transaction():
            entry = await MissedCallRepository(conn).release(entry_id, agent_id)
            if entry is not None and entry.pool_record_id is not None:
                await conn.execute(
                    """UPDATE pool_records SET status = 'assigned', claimed_by = NULL, claimed_at = NULL,
                                              updated_at = now()
                        WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2""",
                    entry.pool_record_id,
                    agent_id,
                )
        if entry is not None:
            await self._publish(
                events.MissedCallReleased(missed_call_id=entry.id, phone=entry.phone, agent_id=agent_id)
            )
        return entry

    async def dismiss(self, agent_id: int, entry_id: int) -> MissedCall | None:
        """Close an entry without a call (a number that cannot be called back)."""
        async with self._db.acquire() as conn, conn.transaction():
            entry = await MissedCallRepository(conn).dismiss(entry_id, self._clock(), agent_id)
        if entry is not None:
            await self._publish(
                events.MissedCallClosed(
                    missed_call_id=entry.id, phone=entry.phone, reason="dismissed", agent_id=agent_id, call_id=""
                )
            )
        return entry

    async def answered(self, phone: str, call_id: str, agent_id: int | None) -> MissedCall | None:
        """A call outside the campaigns (a manual dial) reached ``phone``: its entry is closed."""
        async with self._db.acquire() as conn:
            closed = await MissedCallRepository(conn).close_number(phone, self._clock(), by=agent_id, call_id=call_id)
        if closed is not None:
            await self._publish(
                events.MissedCallClosed(
                    missed_call_id=closed.id, phone=closed.phone, reason="answered", agent_id=agent_id, call_id=call_id
                )
            )
        return closed

    async def release_stale(self, older_than: timedelta = timedelta(hours=1)) -> list[MissedCall]:
        """Entries taken long ago and never closed go back to the list (an agent who left without calling)."""
        async with self._db.acquire() as conn:
            return await MissedCallRepository(conn).release_stale(self._clock() - older_than)

    async def _publish(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
        except Exception:
            log.exception("missed_call_publish_failed", event=event.type_name)
