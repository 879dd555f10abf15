"""The end of each call the campaign dialer placed (and of callers' calls), and the reckoning after a restart.

:meth:`CallSettler.call_over` is the AMI engine's hook: the call record gets its times and cause; a call no agent
talked on gets the dialer's own disposition (no answer, busy, congestion, failed, abandoned) and its retry, and an
abandoned one is a missed call; a call an agent took waits for his disposition. A caller's call gets its record and
a line in the customer's call history.

After a restart, once the engine has resynced with the PBX, :meth:`CallSettler.reconcile` settles the call records
the PBX no longer knows (``lost``, retried as failed), gives back records claimed but never dialed, and releases
agents held for calls that never were: no call, no record is lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog

from callcenter.bus import EventBus
from callcenter.bus.events import Event
from callcenter.db.database import Connection, Database
from crm_core.customers.model import CallDirection
from crm_core.customers.phones import InvalidPhoneError, e164, parse_phone
from crm_core.customers.repository import CustomerRepository
from dialer.agents.service import AgentStateService
from dialer.ami.engine import AmiEngine
from dialer.callbacks.service import campaign_call_answered, campaign_call_missed
from dialer.campaigns.model import Disposition, Outcome, by_outcome, outcome_of_failure
from dialer.campaigns.repository import CallOutcome, CallRecord, CallRecordRepository, CampaignRepository, DialRecords
from dialer.campaigns.service import settle_attempt
from dialer.pools.model import RecordStatus
from dialer.state.agent import AgentStatus, IllegalAgentTransitionError
from dialer.state.agent_commands import AgentCommand, EndCall, FinishWrapUp, Withdraw
from dialer.state.call import Call, CallPhase

log = structlog.get_logger(__name__)

#: The campaign dialer's call ids (our Originate's ChannelId, hence Asterisk's Linkedid) start with it.
CALL_ID_PREFIX = "dialer-"


class CallSettler:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        engine: AmiEngine,
        agents: AgentStateService,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._bus = bus
        self.engine = engine
        self._agents = agents
        self._clock = clock
        self.campaign_of: dict[str, int] = {}  # live call -> campaign
        self.placed_for: dict[str, int] = {}  # live call -> the agent it was placed for
        self.reconciled = False
        engine.on_call_over(self.call_over)

    def placed(self, call_id: str, campaign_id: int, agent_id: int) -> None:
        """The dialer is placing ``call_id`` for ``agent_id`` in ``campaign_id``."""
        self.campaign_of[call_id] = campaign_id
        self.placed_for[call_id] = agent_id

    def lines(self, campaign_id: int) -> int:
        """The campaign's calls in progress (the trunk lines it holds)."""
        return sum(1 for c in self.campaign_of.values() if c == campaign_id)

    # -- the end of a call -----------------------------------------------------------------------------------------

    async def call_over(self, call: Call) -> None:
        """The engine's hook: complete the call record; settle the record unless an agent talked on the call.

        The agent's own state decides whether he talked on a call the engine adopted after a restart (it saw
        neither the answer nor the connection): he is on it, or wrapping it up."""
        self.campaign_of.pop(call.linkedid, None)
        ended = call.ended_at or self._clock()
        failed = call.phase is CallPhase.FAILED
        if call.inbound:
            await self._record_inbound(call, ended)
            return
        agent = call.agent_id if call.agent_id is not None else self.placed_for.pop(call.linkedid, None)
        self.placed_for.pop(call.linkedid, None)
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
            await self.release_agent(agent, call.linkedid, ended, wrap_up=None if connected else 0)
        if failed:
            auto: Outcome | None = outcome_of_failure(call.failure or "error")
        elif not connected:
            auto = Outcome.ABANDONED
        else:
            auto = None
        await self.finish(call.linkedid, outcome, auto, ended)

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

    async def finish(self, call_id: str, outcome: CallOutcome, auto: Outcome | None, now: datetime) -> None:
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
                    self.campaign_of[record.call_id] = record.campaign_id
                if record.agent_id is not None:
                    self.placed_for[record.call_id] = record.agent_id
                    self.engine.expect_agent(record.call_id, record.agent_id)
                continue
            log.warning("campaign_call_lost", call_id=record.call_id, phone=record.phone)
            await self.finish(record.call_id, unobserved(now, "lost", status="lost"), Outcome.FAILED, now)
            if record.agent_id is not None:
                await self.release_agent(record.agent_id, record.call_id, now)
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
                await self.release_agent(row["user_id"], row["call_id"], now)
        self.reconciled = True

    async def release_agent(self, agent_id: int, call_id: str, now: datetime, *, wrap_up: int | None = 0) -> None:
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


def unobserved(now: datetime, failure: str, *, status: str = "failed") -> CallOutcome:
    """The outcome of a call whose end we did not see from the PBX (never placed, or lost in a restart)."""
    return CallOutcome(status, None, None, None, now, None, failure, None, "", None)


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
