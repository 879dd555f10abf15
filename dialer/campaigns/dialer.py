"""The campaign dialer: places the calls of running campaigns and settles each one when it is over.

Every call, preview or progressive, goes the same way (:meth:`CampaignDialer._place`):

1. the record is claimed (``FOR UPDATE SKIP LOCKED``) and its number checked against the blacklist and İYS
   consent (``blocked``); a blocked record leaves dialing at once and is never dialed;
2. the agent is reserved (the agent state machine refuses if he is no longer ready: the record goes back);
3. the call record is written (``live``), the attempt counted, all in one transaction, *before* the Originate:
   after a crash the dialer finds every call it may have placed;
4. the AMI engine originates ``Local/<number>@<outbound>`` to run ``<extension>@<agent_context>`` once the customer
   answers, i.e. to ring that agent's phone. The engine turns the Dial events into the agent's ring and answer.

When the call is over the engine calls :meth:`CampaignDialer.call_over`: the call record gets its times and cause;
a call no agent talked on gets the dialer's own disposition (no answer, busy, congestion, failed, abandoned) and
its retry; a call an agent took waits for the agent's disposition (:meth:`CampaignDialer.dispose`).

After a restart, once the engine has resynced with the PBX, :meth:`reconcile` settles the call records the PBX no
longer knows (``lost``, retried as failed) and gives back records claimed but never dialed: no call, no record
is lost.
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
from crm_core.customers.model import CallDirection
from crm_core.customers.phones import InvalidPhoneError, e164, parse_phone
from crm_core.customers.repository import CustomerRepository
from dialer.agents.directory import AgentDirectory
from dialer.agents.service import AgentStateService
from dialer.ami.engine import AmiEngine
from dialer.ami.message import AmiError
from dialer.callbacks.service import campaign_call_answered, campaign_call_missed
from dialer.campaigns import events
from dialer.campaigns.model import (
    Campaign,
    CampaignStatus,
    DialMode,
    Disposition,
    Outcome,
    by_outcome,
    outcome_of_failure,
    pacing,
)
from dialer.campaigns.repository import (
    CallOutcome,
    CallRecord,
    CallRecordRepository,
    CampaignRepository,
    DialRecords,
    NumberBusyError,
)
from dialer.campaigns.service import CampaignService, settle_attempt
from dialer.pools.model import PoolRecord, RecordStatus
from dialer.state.agent import AgentStatus, IllegalAgentTransitionError
from dialer.state.agent_commands import AgentCommand, EndCall, FinishWrapUp, Reserve, Withdraw
from dialer.state.call import Call, CallPhase

log = structlog.get_logger(__name__)

#: The campaign dialer's call ids (our Originate's ChannelId, hence Asterisk's Linkedid) start with it.
CALL_ID_PREFIX = "dialer-"


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
        self._campaign_of: dict[str, int] = {}  # live call -> campaign
        self._placed_for: dict[str, int] = {}  # live call -> the agent it was placed for
        self._reconciled = False
        self._task: asyncio.Task[None] | None = None
        self.placed = 0
        engine.on_call_over(self.call_over)

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
                    if not self._reconciled:
                        await self.reconcile()
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
        lines = sum(1 for c in self._campaign_of.values() if c == campaign.id)
        room = pacing(
            ready_agents=len(ready),
            lines_busy=lines,
            rules=campaign.rules,
            dialed_last_second=len(recent),
            may_call=campaign.rules.may_call_at(now),
        )
        placed = 0
        for agent_id, extension in ready[:room]:
            async with self._db.acquire() as conn:
                team_id = await conn.fetchval("SELECT team_id FROM users WHERE id = $1", agent_id)
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
        self._campaign_of[call_id] = campaign.id
        self._placed_for[call_id] = agent_id
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
            self._campaign_of.pop(call_id, None)
            await self._finish(call_id, _unobserved(now, "invalid_number"), Outcome.FAILED, now)
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

    # -- the end of a call -----------------------------------------------------------------------------------------

    async def call_over(self, call: Call) -> None:
        """The engine's hook: complete the call record; settle the record unless an agent talked on the call.

        The agent's own state decides whether he talked on a call the engine adopted after a restart (it saw
        neither the answer nor the connection): he is on it, or wrapping it up."""
        self._campaign_of.pop(call.linkedid, None)
        ended = call.ended_at or self._clock()
        failed = call.phase is CallPhase.FAILED
        if call.inbound:
            await self._record_inbound(call, ended)
            return
        agent = call.agent_id if call.agent_id is not None else self._placed_for.pop(call.linkedid, None)
        self._placed_for.pop(call.linkedid, None)
        connected = call.connected_at is not None or (
            not failed and agent is not None and await self._talked_on(agent, call.linkedid)
        )
        outcome = CallOutcome(
            status="failed" if failed else "ended",
            ringing_at=call.ringing_at,
            answered_at=call.answered_at,
            connected_at=call.connected_at,
            ended_at=ended,
            agent_id=agent if connected else call.agent_id,
            failure=call.failure.value if call.failure else None,
            cause=call.cause,
            cause_text=call.cause_text,
            hung_up_by=call.hung_up_by.value if call.hung_up_by else None,
        )
        if agent is not None:
            # The engine has told the agent already, unless the call was adopted after a restart: make sure. He
            # wraps up a call he talked on (until his disposition); any other he is simply released from.
            await self._release_agent(agent, call.linkedid, ended, wrap_up=None if connected else 0)
        if failed:
            auto: Outcome | None = outcome_of_failure(call.failure or "error")
        elif not connected:
            auto = Outcome.ABANDONED
        else:
            auto = None
        await self._finish(call.linkedid, outcome, auto, ended)

    async def _record_inbound(self, call: Call, ended: datetime) -> None:
        """A caller's call: its call record, and a line in the customer's call history when the number is known.
        (A caller no agent took is a missed call: the engine's queue-abandon hook has noted it.)"""
        phone = _normalised(call.destination)
        outcome = CallOutcome(
            status="ended" if call.answered_at is not None else "failed",
            ringing_at=call.ringing_at,
            answered_at=call.answered_at,
            connected_at=call.connected_at,
            ended_at=ended,
            agent_id=call.agent_id,
            failure=call.failure.value if call.failure else None,
            cause=call.cause,
            cause_text=call.cause_text,
            hung_up_by=call.hung_up_by.value if call.hung_up_by else None,
        )
        async with self._db.acquire() as conn, conn.transaction():
            customer_id = await conn.fetchval(
                "SELECT customer_id FROM customer_phones WHERE number = $1 ORDER BY customer_id LIMIT 1", phone
            )
            record = await CallRecordRepository(conn).add_finished(
                call.linkedid,
                direction="inbound",
                phone=phone,
                customer_id=customer_id,
                dialed_at=call.dialed_at,
                outcome=outcome,
            )
            if record is not None:
                await _customer_history(conn, record, "answered" if call.connected_at else "missed")

    async def _talked_on(self, agent: int, call_id: str) -> bool:
        try:
            state = await self._agents.state(agent)
        except LookupError:
            return False
        return state.call_id == call_id and state.status in (AgentStatus.ON_CALL, AgentStatus.WRAP_UP)

    async def _finish(self, call_id: str, outcome: CallOutcome, auto: Outcome | None, now: datetime) -> None:
        published: list[Event] = []
        async with self._db.acquire() as conn, conn.transaction():
            record = await CallRecordRepository(conn).finish(call_id, outcome)
            if record is None or record.campaign_id is None:
                return  # not a campaign call, or already finished
            await _customer_history(conn, record, (auto.value if auto else "answered"))
            if auto is None:
                if record.pool_record_id is not None and outcome.agent_id is not None:
                    await DialRecords(conn).hand_to_agent(record.pool_record_id, outcome.agent_id)
                published.extend(await campaign_call_answered(conn, record, now))  # closes its missed call
            else:
                disposition = await self._auto_disposition(conn, record.campaign_id, auto)
                if disposition is not None:
                    published.append(await settle_attempt(conn, record.campaign_id, record, disposition, now, by=None))
                if auto is Outcome.ABANDONED:  # answered, no agent took it: a missed call (çağrı yakalama)
                    published.extend(await campaign_call_missed(conn, record, now))
        for event in published:
            await self._publish(event)

    async def _auto_disposition(self, conn: Connection, campaign_id: int, outcome: Outcome) -> Disposition | None:
        dispositions = await CampaignRepository(conn).dispositions(campaign_id)
        found = by_outcome(dispositions, outcome) or by_outcome(dispositions, Outcome.FAILED)
        if found is None:
            log.warning("campaign_has_no_disposition_for", campaign_id=campaign_id, outcome=outcome.value)
        return found

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

    # -- restart ---------------------------------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """After (re)start and the engine's first resync: calls we recorded as live that the PBX no longer has are
        lost (retried as failed attempts); progressive claims that never became a call go back to dialing."""
        now = self._clock()
        live_calls = self.engine.calls
        async with self._db.acquire() as conn:
            live = await CallRecordRepository(conn).live()
            campaigns = await CampaignRepository(conn).find()
        for record in live:
            if record.call_id in live_calls:
                if record.campaign_id is not None:
                    self._campaign_of[record.call_id] = record.campaign_id
                if record.agent_id is not None:
                    self._placed_for[record.call_id] = record.agent_id
                    self.engine.expect_agent(record.call_id, record.agent_id)
                continue
            log.warning("campaign_call_lost", call_id=record.call_id, phone=record.phone)
            await self._finish(record.call_id, _unobserved(now, "lost", status="lost"), Outcome.FAILED, now)
            if record.agent_id is not None:
                await self._release_agent(record.agent_id, record.call_id, now)
        async with self._db.acquire() as conn:
            for campaign in campaigns:
                for stale in await DialRecords(conn).stale_claims(campaign.id):
                    await DialRecords(conn).settle(stale.id, RecordStatus.ASSIGNED, None, stale.next_attempt_at)
            # Agents reserved for a call of ours that never got its call record (killed in between), or held by one
            # the PBX no longer has.
            held = await conn.fetch(
                """SELECT user_id, call_id FROM agent_states
                    WHERE state IN ('reserved', 'ringing', 'on_call') AND starts_with(call_id, $1)""",
                CALL_ID_PREFIX,
            )
        for row in held:
            if row["call_id"] not in live_calls:
                await self._release_agent(row["user_id"], row["call_id"], now)
        self._reconciled = True

    async def _release_agent(self, agent_id: int, call_id: str, now: datetime, *, wrap_up: int | None = 0) -> None:
        """The agent's state may still name a call that no longer exists: end it for him (each command is a no-op
        or refused when it does not apply). ``wrap_up=0``: the dialer settled the call itself, so a wrap-up of it
        (begun before a restart) ends too; ``None``: he wraps it up until his disposition."""
        commands: list[AgentCommand] = [Withdraw(call_id), EndCall(call_id, wrap_up)]
        if wrap_up == 0:
            commands.append(FinishWrapUp(call_id))
        for command in commands:
            with contextlib.suppress(IllegalAgentTransitionError, LookupError):
                await self._agents.execute(agent_id, command, now)

    async def _publish(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
        except Exception:
            log.exception("campaign_publish_failed", event=event.type_name)


def _unobserved(now: datetime, failure: str, *, status: str = "failed") -> CallOutcome:
    """The outcome of a call whose end we did not see from the PBX (never placed, or lost in a restart)."""
    return CallOutcome(status, None, None, None, now, None, failure, None, "", None)


def _recording(call_id: str) -> str:
    """The recording's file name, relative to Asterisk's monitor directory (/var/spool/asterisk/monitor)."""
    return f"{call_id}.wav"


def _normalised(number: str) -> str:
    """A caller's number in E.164 when it is a valid one (Turkey by default), else as the PBX gave it."""
    try:
        return e164(number)
    except InvalidPhoneError:
        return number


async def _customer_history(conn: Connection, record: CallRecord, outcome: str) -> None:
    """The call in its customer's call history (the customer card's past calls), when the customer is known."""
    if record.customer_id is None:
        return
    try:
        phone = parse_phone(record.phone)
    except InvalidPhoneError:
        return
    await CustomerRepository(conn).add_call(
        record.customer_id,
        record.call_id,
        CallDirection(record.direction),
        phone,
        record.agent_id,
        record.dialed_at,
        record.ended_at,
        outcome,
    )
