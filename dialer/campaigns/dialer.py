"""The campaign dialer: places the calls of running campaigns and settles each one when it is over.

Every call, preview or progressive, goes the same way (:meth:`CampaignDialer._place`):

1. the record is claimed (``FOR UPDATE SKIP LOCKED``) and its number checked against the blacklist and İYS
   consent (``blocked``); a blocked record leaves dialing at once and is never dialed;
2. the agent is reserved (the agent state machine refuses if he is no longer ready: the record goes back);
3. the call record is written (``live``), the attempt counted, all in one transaction, *before* the Originate:
   after a crash the dialer finds every call it may have placed;
4. the AMI engine originates ``Local/<number>@<outbound>`` to run ``<extension>@<agent_context>`` once the customer
   answers, i.e. to ring that agent's phone. The engine turns the Dial events into the agent's ring and answer.

When the call is over, :class:`dialer.campaigns.settle.CallSettler` (the engine's call-over hook) completes its
record and, unless an agent talked on it, gives it the dialer's own disposition; a call an agent took waits for
his (:meth:`CampaignDialer.dispose`). After a restart the settler reconciles our records with the PBX before the
first dial.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Connection, Database
from dialer.agents.directory import AgentDirectory
from dialer.agents.service import AgentStateService
from dialer.ami.engine import AmiEngine
from dialer.ami.message import AmiError
from dialer.campaigns import events
from dialer.campaigns.model import (
    Campaign,
    CampaignStatus,
    DialMode,
    Outcome,
    pacing,
)
from dialer.campaigns.repository import (
    CallRecord,
    CallRecordRepository,
    CampaignRepository,
    DialRecords,
    NumberBusyError,
)
from dialer.campaigns.service import CampaignService
from dialer.campaigns.settle import CALL_ID_PREFIX, CallSettler, unobserved
from dialer.pools.model import PoolRecord, RecordStatus
from dialer.state.agent import IllegalAgentTransitionError
from dialer.state.agent_commands import FinishWrapUp, Reserve, Withdraw

log = structlog.get_logger(__name__)


class BlockedNumbers(Protocol):
    """The blacklist and İYS check: which of ``numbers`` must not be called (number -> reason)."""

    async def __call__(
        self, conn: Connection, numbers: Sequence[str], *, campaign_id: int | None = None
    ) -> Mapping[str, str]: ...


class DialRefusedError(RuntimeError):
    """A preview dial was not placed; ``code`` is a message-catalogue key saying why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class CampaignDialer:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        engine: AmiEngine,
        agents: AgentStateService,
        directory: AgentDirectory,
        *,
        agent_context: str = "agents",
        blocked: BlockedNumbers | None = None,
        clock: Callable[[], datetime] = utc_now,
        tick: float = 0.2,
        skip_delay: timedelta = timedelta(minutes=30),
    ) -> None:
        self._db = db
        self._bus = bus
        self.engine = engine
        self._agents = agents
        self.directory = directory
        self._agent_context = agent_context
        self._blocked = blocked
        self._clock = clock
        self._tick = tick
        self._skip_delay = skip_delay
        self.campaigns = CampaignService(db, bus)
        self._dialed: dict[int, collections.deque[datetime]] = {}  # campaign -> dial times within the last second
        self.settle = CallSettler(db, bus, engine, agents, clock)
        self._task: asyncio.Task[None] | None = None
        self.placed = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="campaign-dialer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                if self.engine.connection.connected and self.engine.resyncs > 0:
                    if not self.settle.reconciled:
                        await self.settle.reconcile()
                    await self.dial_progressive()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not stop dialing for good
                log.exception("campaign_dialer_tick_failed")
            await asyncio.sleep(self._tick)

    # -- progressive -----------------------------------------------------------------------------------------------

    async def dial_progressive(self) -> int:
        """One round: for each running progressive campaign, one call per ready agent within its limits."""
        now = self._clock()
        async with self._db.acquire() as conn:
            campaigns = await CampaignRepository(conn).find(status=CampaignStatus.RUNNING)
        placed = 0
        for campaign in campaigns:
            if campaign.dial_mode is DialMode.PROGRESSIVE:
                placed += await self._dial_campaign(campaign, now)
        return placed

    async def _dial_campaign(self, campaign: Campaign, now: datetime) -> int:
        async with self._db.acquire() as conn:
            ready = await CampaignRepository(conn).ready_agents(campaign.id)
        recent = self._dialed.setdefault(campaign.id, collections.deque())
        while recent and recent[0] <= now - timedelta(seconds=1):
            recent.popleft()
        lines = self.settle.lines(campaign.id)
        room = pacing(
            ready_agents=len(ready),
            lines_busy=lines,
            rules=campaign.rules,
            dialed_last_second=len(recent),
            may_call=campaign.rules.may_call_at(now),
        )
        placed = 0
        for agent_id, extension, team_id in ready[:room]:
            async with self._db.acquire() as conn:
                record = await DialRecords(conn).claim(
                    campaign, now, agent_id=agent_id, team_id=team_id, for_preview=False
                )
            if record is None:
                break  # nothing due for this campaign now
            try:
                await self._place(campaign, record, agent_id, extension, now)
            except DialRefusedError as refused:
                log.info("campaign_dial_skipped", campaign_id=campaign.id, record_id=record.id, why=refused.code)
                continue
            recent.append(now)
            placed += 1
        return placed

    # -- preview ---------------------------------------------------------------------------------------------------

    async def take_next(self, agent_id: int, campaign_id: int) -> tuple[PoolRecord, list[CallRecord]] | None:
        """The agent's next preview record of the campaign, claimed for him, with its call history."""
        campaign = await self.campaigns.get(campaign_id)
        if campaign.dial_mode is not DialMode.PREVIEW or not campaign.running:
            raise DialRefusedError("error.campaign_not_running")
        now = self._clock()
        async with self._db.acquire() as conn:
            team_id = await conn.fetchval("SELECT team_id FROM users WHERE id = $1", agent_id)
            record = await DialRecords(conn).claim(campaign, now, agent_id=agent_id, team_id=team_id, for_preview=True)
            if record is None:
                return None
            history = await CallRecordRepository(conn).of_record(record.id)
        return record, history

    async def skip(self, agent_id: int, record_id: int, reason: str) -> None:
        """The agent passes on his preview record, with a reason; it is offered again later."""
        reason = reason.strip()
        if not reason:
            raise DialRefusedError("error.skip_reason_needed")
        async with self._db.acquire() as conn, conn.transaction():
            records = DialRecords(conn)
            record = await records.get(record_id, lock=True)
            if record is None or record.status is not RecordStatus.IN_PROGRESS or record.claimed_by != agent_id:
                raise DialRefusedError("error.record_not_yours")
            await records.settle(record_id, RecordStatus.ASSIGNED, None, self._clock() + self._skip_delay)
            campaign_id = await conn.fetchval("SELECT campaign_id FROM pool_records WHERE id = $1", record_id)
        await self._publish(
            events.RecordSkipped(campaign_id=campaign_id or 0, record_id=record_id, agent_id=agent_id, reason=reason)
        )

    async def dial(self, agent_id: int, record_id: int) -> str:
        """Dial the agent's preview record; returns the call id. Refused (:class:`DialRefusedError`) outside the
        calling hours, for a blocked number, when the agent is not ready, or when the number is in a live call."""
        now = self._clock()
        async with self._db.acquire() as conn:
            record = await DialRecords(conn).get(record_id)
            campaign_id = await conn.fetchval("SELECT campaign_id FROM pool_records WHERE id = $1", record_id)
        if record is None or record.status is not RecordStatus.IN_PROGRESS or record.claimed_by != agent_id:
            raise DialRefusedError("error.record_not_yours")
        campaign = await self.campaigns.get(campaign_id)
        if not campaign.running:
            raise DialRefusedError("error.campaign_not_running")
        if not campaign.rules.may_call_at(now):
            raise DialRefusedError("error.outside_calling_hours")
        extension = self.directory.extension(agent_id)
        if extension is None:
            raise DialRefusedError("error.agent_has_no_phone")
        return await self._place(campaign, record, agent_id, extension, now, preview=True)

    # -- one call --------------------------------------------------------------------------------------------------

    async def _place(
        self,
        campaign: Campaign,
        record: PoolRecord,
        agent_id: int,
        extension: str,
        now: datetime,
        *,
        preview: bool = False,
    ) -> str:
        """Place one call (see the module's docstring); returns its call id or raises :class:`DialRefusedError`."""
        call_id = f"{CALL_ID_PREFIX}{uuid.uuid4().hex}"
        async with self._db.acquire() as conn, conn.transaction():
            blocked = await self._blocked(conn, [record.phone], campaign_id=campaign.id) if self._blocked else {}
            reason = blocked.get(record.phone)
            if reason is not None:
                await DialRecords(conn).settle(record.id, RecordStatus.ARCHIVED, "blocked", None)
                blocked_event: Event | None = events.RecordBlocked(
                    campaign_id=campaign.id, record_id=record.id, phone=record.phone, reason=reason
                )
            else:
                blocked_event = None
        if blocked_event is not None:
            await self._publish(blocked_event)
            raise DialRefusedError("error.number_blocked")
        try:
            await self._agents.execute(agent_id, Reserve(call_id), now)
        except IllegalAgentTransitionError:
            await self._give_back(record, preview)
            raise DialRefusedError("error.agent_not_ready") from None
        try:
            async with self._db.acquire() as conn, conn.transaction():
                attempt = await DialRecords(conn).count_attempt(record.id, now)
                await CallRecordRepository(conn).start(
                    call_id,
                    phone=record.phone,
                    dialed_at=now,
                    campaign_id=campaign.id,
                    pool_record_id=record.id,
                    customer_id=record.customer_id,
                    agent_id=agent_id,
                    attempt=attempt,
                    recording=_recording(call_id) if campaign.record_calls else None,
                )
        except NumberBusyError:
            await self._withdraw(agent_id, call_id, now)
            await self._give_back(record, preview)
            raise DialRefusedError("error.number_in_call") from None
        self.settle.placed(call_id, campaign.id, agent_id)
        await self._publish(
            events.RecordDialed(
                campaign_id=campaign.id,
                record_id=record.id,
                call_id=call_id,
                phone=record.phone,
                attempt=attempt,
                agent_id=agent_id,
            )
        )
        try:
            await self.engine.originate(
                record.phone,
                context=self._agent_context,
                exten=extension,
                caller_id=campaign.caller_id or None,
                variables={"CAMPAIGN_ID": str(campaign.id), "RECORD_ID": str(record.id)},
                ring_timeout=campaign.rules.ring_timeout,
                linkedid=call_id,
                agent_id=agent_id,
                record_file=_recording(call_id) if campaign.record_calls else None,
                wrap_up_seconds=campaign.wrap_up_seconds,
            )
        except AmiError as error:
            # Refused or unanswered by the AMI: the engine has failed the call (call_over settles it), unless the
            # connection dropped mid-action, when the resync decides whether it runs.
            log.warning("campaign_originate_failed", call_id=call_id, error=str(error))
        except ValueError as error:  # not a dialable number: fail the attempt ourselves
            log.warning("campaign_bad_number", call_id=call_id, phone=record.phone, error=str(error))
            self.settle.campaign_of.pop(call_id, None)
            await self.settle.finish(call_id, unobserved(now, "invalid_number"), Outcome.FAILED, now)
            await self._withdraw(agent_id, call_id, now)
            raise DialRefusedError("error.number_not_dialable") from None
        self.placed += 1
        return call_id

    async def _give_back(self, record: PoolRecord, preview: bool) -> None:
        """A claimed record not dialed after all goes back as it was (a preview one stays the agent's)."""
        if preview:
            return
        async with self._db.acquire() as conn:
            await DialRecords(conn).settle(record.id, RecordStatus.ASSIGNED, None, record.next_attempt_at)

    async def _withdraw(self, agent_id: int, call_id: str, now: datetime) -> None:
        with contextlib.suppress(IllegalAgentTransitionError, LookupError):
            await self._agents.execute(agent_id, Withdraw(call_id), now)

    async def dispose(
        self,
        agent_id: int,
        call_id: str,
        code: str,
        *,
        note: str | None = None,
        callback_at: datetime | None = None,
        callback_visibility: str = "team",
    ) -> events.CallDisposed:
        """The agent's disposition; it also ends his wrap-up for that call."""
        event = await self.campaigns.dispose(
            agent_id,
            call_id,
            code,
            note=note,
            callback_at=callback_at,
            now=self._clock(),
            callback_visibility=callback_visibility,
        )
        with contextlib.suppress(IllegalAgentTransitionError, LookupError):
            await self._agents.execute(agent_id, FinishWrapUp(call_id), self._clock())
        return event

    async def _publish(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
        except Exception:
            log.exception("campaign_publish_failed", event=event.type_name)


def _recording(call_id: str) -> str:
    """The recording's file name, relative to Asterisk's monitor directory (/var/spool/asterisk/monitor)."""
    return f"{call_id}.wav"
