"""The AMI engine: live calls by Linkedid, fed from AMI events, published on the bus; the dialer's PBX actions.

:class:`AmiEngine` is the :class:`~dialer.ami.connection.AmiHandler` of an :class:`AmiConnection`: the one
consumer task hands it every event, in order. It keeps one pure :class:`~dialer.state.call.Call` per Linkedid
for the calls the dialer places (its own Originates, and any call through the outbound context it sees start
or finds in a resync), runs each translated command through :func:`dialer.state.call.handle`, publishes the
events (stream ``calls``) and keeps ``calls_in_progress`` equal to the number of live calls. Queue agent events
become agent commands, given to ``agents`` (the :class:`~dialer.agents.service.AgentStateService`) when set.

On every (re)connect it resyncs (:mod:`dialer.ami.resync`) from CoreShowChannels, then reads QueueStatus.

Times: every command is given the engine's clock at processing time, never Asterisk's ``Timestamp`` (the two
clocks may differ; a call's phases must never run backwards).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.metrics import Metrics
from dialer.ami import resync
from dialer.ami.channels import ChannelIndex
from dialer.ami.connection import AmiConnection
from dialer.ami.message import (
    AmiActionError,
    AmiConnectionLostError,
    AmiError,
    AmiMessage,
    AmiNotConnectedError,
    AmiTimeoutError,
    Connected,
    Disconnected,
)
from dialer.ami.offers import AgentOffers, AgentOrder
from dialer.ami.queues import QueueMembers
from dialer.ami.translate import (
    QUEUE_MEMBER_EVENTS,
    RELEVANT,
    ChannelRoles,
    agent_command,
    call_commands,
    channel_snapshot,
    new_call,
)
from dialer.state import agent_commands as ac
from dialer.state.agent import IllegalAgentTransitionError
from dialer.state.agent_commands import AgentCommand
from dialer.state.call import Call, IllegalCallTransitionError, handle
from dialer.state.call_commands import Answer, CallCommand, ConnectAgent, Dial, OriginateFailed, Transfer

log = structlog.get_logger(__name__)


class DefaultWrapUp:
    """The engine's own wrap-up (``wrap_up_seconds`` of :class:`AmiEngine`)."""


DEFAULT_WRAP_UP = DefaultWrapUp()

#: Called with every call once it is over (a campaign writes its call record and the record's fate from it).
CallOverHook = Callable[[Call], Awaitable[None]]
#: Called when a caller hangs up while waiting in a queue: (caller's number (CallerIDNum), queue, Linkedid, seconds
#: held); missed-call capture (:mod:`dialer.callbacks`) stores it.
QueueAbandonHook = Callable[[str, str, str, int], Awaitable[None]]
#: Dial events of a call sent straight to one agent's phone (``originate(..., agent_id=)``).
DIRECT_DIAL_EVENTS = frozenset({"DialBegin", "DialEnd"})

_NUMBER = re.compile(r"^[0-9A-Za-z+*#-]{1,64}$")
_ABANDONED_KEPT = 1000


class AgentCommandSink(Protocol):
    """Where agent commands go; :class:`dialer.agents.service.AgentStateService` is one."""

    async def execute(self, user_id: int, command: AgentCommand, now: datetime | None = None) -> object: ...


class AmiEngine:
    def __init__(
        self,
        connection: AmiConnection,
        bus: EventBus,
        metrics: Metrics,
        *,
        roles: ChannelRoles | None = None,
        agents: AgentCommandSink | None = None,
        wrap_up_seconds: int | None = 0,
        clock: Callable[[], datetime] = utc_now,
        resync_timeout: float | None = None,
        call_over: CallOverHook | None = None,
    ) -> None:
        self._conn = connection
        self._bus = bus
        self._metrics = metrics
        self.roles = roles or ChannelRoles()
        self._sink = agents
        self._clock = clock
        self._timeout = connection.settings.action_timeout
        self._resync_timeout = resync_timeout or 4 * self._timeout
        self._calls: dict[str, Call] = {}
        self._session_of: dict[str, int] = {}  # Linkedid -> connection generation it was dialled in
        self._by_action: dict[str, str] = {}  # ActionID of our Originate -> Linkedid
        self._channels = ChannelIndex()
        self._abandoned: dict[str, None] = {}  # Linkedids we gave up on: their channels are hung up on sight
        self._offers = AgentOffers(wrap_up_seconds=wrap_up_seconds)
        self.queues = QueueMembers()
        self._tasks: set[asyncio.Task[None]] = set()
        self._direct: dict[str, int] = {}  # Linkedid -> the agent whose phone the answered call is sent to
        self._record_as: dict[str, str] = {}  # Linkedid -> the file MixMonitor records it into once answered
        self._call_over = call_over
        self._queue_abandon: QueueAbandonHook | None = None
        self.resyncs = 0

    async def start(self) -> None:
        await self._conn.start(self, only=RELEVANT)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._conn.close()

    @property
    def calls(self) -> Mapping[str, Call]:
        """The live calls by Linkedid (a copy)."""
        return dict(self._calls)

    @property
    def connection(self) -> AmiConnection:
        return self._conn

    def expect_agent(self, linkedid: str, agent_id: int) -> None:
        """After a restart: the live call ``linkedid`` was placed for ``agent_id`` (see ``originate``)."""
        if linkedid in self._calls:
            self._direct[linkedid] = agent_id
            self._offers.reserve(agent_id, linkedid)

    def on_queue_abandon(self, hook: QueueAbandonHook) -> None:
        """Call ``hook`` for every ``QueueCallerAbandon`` (a caller who hung up while waiting in a queue)."""
        self._queue_abandon = hook

    def on_call_over(self, hook: CallOverHook) -> None:
        """Call ``hook`` with every call once it is over (after its events are published)."""
        self._call_over = hook

    # -- the dialer's actions -------------------------------------------------------------------------------------

    async def originate(
        self,
        destination: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout: float = 30.0,
        channel: str | None = None,
        linkedid: str | None = None,
        agent_id: int | None = None,
        record_file: str | None = None,
        wrap_up_seconds: int | DefaultWrapUp | None = DEFAULT_WRAP_UP,
    ) -> str:
        """Place a call: an Async Originate of ``Local/<destination>@<outbound>`` (or ``channel``) that runs
        ``exten@context`` once answered. Returns its Linkedid as soon as Asterisk has queued it (CallDialing is
        already published); the outcome arrives as events. Our ChannelId makes the Linkedid known up front.

        ``agent_id``: the call is for that agent, whom the caller has already reserved, and ``exten@context``
        rings his phone once the customer answers: his Ring, Answer or missed ring come from the Dial events,
        and he is withdrawn if the call fails before he answers. ``wrap_up_seconds``: his wrap-up once it is over
        (None: until he ends it), instead of the engine's.

        ``record_file``: once the customer answers, MixMonitor records the call into that file (option ``b``: only
        while it is bridged, i.e. the conversation with the agent).

        Raises :class:`AmiNotConnectedError` (nothing dialled), :class:`AmiActionError` (refused: CallFailed
        ``error``), :class:`AmiTimeoutError` (CallFailed ``error``; should Asterisk place it after all, its
        channels are hung up on sight) or :class:`AmiConnectionLostError` (it may run: the resync decides)."""
        if not _NUMBER.match(destination):
            raise ValueError(f"not a dialable number: {destination!r}")
        if not self._conn.connected:
            raise AmiNotConnectedError(f"cannot dial {destination}: not connected to the AMI")
        linkedid = linkedid or f"dialer-{uuid.uuid4().hex}"
        if linkedid in self._calls:
            raise ValueError(f"Linkedid {linkedid!r} is already a live call")
        if any("," in value for value in (variables or {}).values()):
            raise ValueError("Asterisk splits a Variable header at commas: no comma in a variable's value")
        action_id = self._conn.new_action_id()
        fields: dict[str, str | list[str]] = {
            "Channel": channel or f"Local/{destination}@{self.roles.outbound_context}",
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Timeout": str(int(ring_timeout * 1000)),
            "Async": "true",
            "ChannelId": linkedid,
            "OtherChannelId": f"{linkedid}-2",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{name}={value}" for name, value in variables.items()]
        self._by_action[action_id] = linkedid
        self._session_of[linkedid] = self._conn.generation
        if agent_id is not None:
            self._direct[linkedid] = agent_id
            self._offers.reserve(agent_id, linkedid)
            if not isinstance(wrap_up_seconds, DefaultWrapUp):
                self._offers.set_wrap_up(linkedid, wrap_up_seconds)
        if record_file:
            self._record_as[linkedid] = record_file
        await self._apply(Dial(linkedid, destination, action_id), self._clock())
        try:
            await self._conn.action("Originate", fields, action_id=action_id)
        except (AmiActionError, AmiNotConnectedError, AmiTimeoutError) as error:
            log.warning("ami_originate_failed", linkedid=linkedid, destination=destination, error=str(error))
            if isinstance(error, AmiTimeoutError):
                self._abandon(linkedid)
            await self._apply(OriginateFailed(linkedid, 0, action_id), self._clock())
            raise
        except AmiConnectionLostError:
            log.warning("ami_originate_unconfirmed", linkedid=linkedid, destination=destination)
            raise
        return linkedid

    async def hangup(self, channel: str, cause: int = 16) -> bool:
        """Hang up one channel (Hangup action); False if Asterisk has no such channel (any more)."""
        try:
            await self._conn.action("Hangup", {"Channel": channel, "Cause": str(cause)})
        except AmiActionError as error:
            if "no such channel" in error.message.lower():
                return False
            raise
        return True

    async def hangup_call(self, linkedid: str, cause: int = 16) -> bool:
        """Hang up every live channel of a tracked call (its originated channel first). A call whose channels
        do not exist yet (just originated) has them hung up as they appear. False for a call we do not track."""
        if linkedid not in self._calls:
            return False
        names = self._channels.of_call(linkedid)
        if not names:
            self._abandon(linkedid)
            return True
        done = False
        for name in names:
            done = await self.hangup(name, cause) or done
        return done

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        """Send a channel elsewhere in the dialplan (a blind transfer by AMI). Asterisk reports no transfer event
        for it, so a tracked call answered before is marked transferred here."""
        fields = {"Channel": channel, "Context": context, "Exten": exten, "Priority": str(priority)}
        await self._conn.action("Redirect", fields)
        linkedid = self._channels.call_of(channel)
        if linkedid is not None:
            await self._apply(Transfer(linkedid, f"{exten}@{context}"), self._clock())

    async def queue_pause(self, interface: str, paused: bool, *, reason: str = "", queue: str | None = None) -> None:
        """Pause or unpause a queue member (in ``queue``, or in all its queues). There is no QueueUnpause."""
        fields = {"Interface": interface, "Paused": "true" if paused else "false"}
        if queue:
            fields["Queue"] = queue
        if reason:
            fields["Reason"] = reason
        await self._conn.action("QueuePause", fields)

    # -- AmiHandler -----------------------------------------------------------------------------------------------

    async def on_connected(self, connected: Connected) -> None:
        await self._resync(connected.generation)

    async def on_disconnected(self, disconnected: Disconnected) -> None:
        log.warning("ami_calls_unobserved", live_calls=len(self._calls), reason=disconnected.reason)

    async def on_event(self, message: AmiMessage) -> None:
        event = message.event
        if event not in RELEVANT:
            return
        now = self._clock()
        if event == "Newchannel":
            await self._newchannel(message, now)
        elif event == "Rename":
            self._channels.rename(message.get("Uniqueid"), message.get("Newname"))
        elif event in QUEUE_MEMBER_EVENTS:
            self.queues.on_event(message)
        elif event == "QueueCallerAbandon":
            await self._to_agents(self._offers.abandoned(message.get("Linkedid")), now)
            await self._queue_abandoned(message)
        elif event == "Shutdown":
            log.warning("ami_pbx_shutdown", shutdown=message.get("Shutdown"), restart=message.get("Restart"))
        elif event in DIRECT_DIAL_EVENTS:
            await self._direct_dial(message, now)
        for command in call_commands(message, self.roles, self._by_action):
            await self._apply(command, now)
        order = agent_command(message, self.roles, wrap_up_seconds=self._offers.wrap_up_seconds)
        if order is not None:
            await self._to_agents([order, *self._offers.note(*order)], now)
        if event == "Hangup":
            self._channels.remove(message.get("Uniqueid"))

    # -- calls ----------------------------------------------------------------------------------------------------

    async def _newchannel(self, message: AmiMessage, now: datetime) -> None:
        linkedid, uniqueid, name = message.get("Linkedid"), message.get("Uniqueid"), message.get("Channel")
        if linkedid in self._abandoned:
            self._spawn(self._hangup_quietly(name), f"hangup {name}")
        elif linkedid not in self._calls:
            dial = new_call(message, self.roles)
            if dial is None:
                return
            self._session_of[linkedid] = self._conn.generation
            await self._apply(dial, now)
        self._track_channel(uniqueid, name, linkedid)

    async def _apply(self, command: CallCommand, now: datetime, *, publish: bool = True) -> None:
        call = self._calls.get(command.linkedid)
        if call is None and not isinstance(command, Dial):
            return  # not a call we track
        try:
            call, events = handle(call, command, now)
        except IllegalCallTransitionError as error:
            log.info("ami_call_command_refused", linkedid=command.linkedid, error=str(error))
            return
        self._calls[call.linkedid] = call
        self._metrics.calls_in_progress.set(len(self._calls))
        if isinstance(command, Answer) and call.linkedid in self._record_as:
            self._spawn(self._record(call.linkedid), f"record {call.linkedid}")
        if publish:
            await self._publish(events)
        if call.is_over:
            await self._finished(call, now)

    async def _record(self, linkedid: str) -> None:
        """Start MixMonitor on the call's originated channel (its first: Uniqueid = Linkedid)."""
        file = self._record_as.pop(linkedid, None)
        channel = self._channels.name_of(linkedid)
        if file is None or channel is None:
            return
        try:
            await self._conn.action("MixMonitor", {"Channel": channel, "File": file, "Options": "b"})
        except AmiError as error:
            log.warning("ami_recording_not_started", linkedid=linkedid, file=file, error=str(error))

    async def _direct_dial(self, message: AmiMessage, now: datetime) -> None:
        """A Dial to the phone of the agent a call was placed for: his ring, answer or missed ring."""
        linkedid = message.get("DestLinkedid") or message.get("Linkedid")
        agent = self._direct.get(linkedid)
        if agent is None or self.roles.agent_id(message.get("DestChannel")) != agent:
            return
        order: AgentOrder | None = None
        if message.event == "DialBegin":
            order = (agent, ac.Ring(linkedid))
        elif message.get("DialStatus").upper() == "ANSWER":
            await self._apply(ConnectAgent(linkedid, agent), now)
            order = (agent, ac.Answer(linkedid))
        elif message.get("DialStatus").upper() in ("NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"):
            order = (agent, ac.RingNoAnswer(linkedid))
        if order is not None:
            await self._to_agents([order, *self._offers.note(*order)], now)

    async def _finished(self, call: Call, now: datetime) -> None:
        linkedid = call.linkedid
        if self._calls.pop(linkedid, None) is None:
            return
        self._session_of.pop(linkedid, None)
        self._direct.pop(linkedid, None)
        self._record_as.pop(linkedid, None)
        if call.action_id is not None:
            self._by_action.pop(call.action_id, None)
        for uniqueid in call.channels | call.gone:
            self._channels.remove(uniqueid)
        self._metrics.calls_in_progress.set(len(self._calls))
        log.info(
            "ami_call_over",
            linkedid=linkedid,
            phase=call.phase.value,
            failure=call.failure.value if call.failure else None,
            cause=call.cause,
            cause_text=call.cause_text,
        )
        await self._to_agents(self._offers.call_over(linkedid), now)
        if self._call_over is not None:
            try:
                async with asyncio.timeout(self._timeout * 2):
                    await self._call_over(call)
            except Exception:  # the hook's own store failed: log it, keep reading the AMI
                log.exception("ami_call_over_hook_failed", linkedid=linkedid)

    async def _queue_abandoned(self, message: AmiMessage) -> None:
        if self._queue_abandon is None:
            return
        hold = message.get("HoldTime")
        try:
            async with asyncio.timeout(self._timeout * 2):
                await self._queue_abandon(
                    message.get("CallerIDNum"),
                    message.get("Queue"),
                    message.get("Linkedid"),
                    int(hold) if hold.isdigit() else 0,
                )
        except Exception:  # the hook's own store failed: log it, keep reading the AMI
            log.exception("ami_queue_abandon_hook_failed", linkedid=message.get("Linkedid"))

    async def _publish(self, events: Iterable[Event]) -> None:
        for event in events:
            try:
                await self._bus.publish(event)
            except Exception:  # the bus bounds its own network calls; a failure must not stop the AMI stream
                log.exception("ami_publish_failed", event=event.type_name)

    def _track_channel(self, uniqueid: str, name: str, linkedid: str) -> None:
        if uniqueid and linkedid in self._calls:
            self._channels.add(uniqueid, name, linkedid)

    def _abandon(self, linkedid: str) -> None:
        self._abandoned[linkedid] = None
        while len(self._abandoned) > _ABANDONED_KEPT:
            del self._abandoned[next(iter(self._abandoned))]
        for name in self._channels.of_call(linkedid):
            self._spawn(self._hangup_quietly(name), f"hangup {name}")

    async def _hangup_quietly(self, channel: str) -> None:
        try:
            await self.hangup(channel)
        except AmiError as error:
            log.warning("ami_hangup_failed", channel=channel, error=str(error))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- agents ---------------------------------------------------------------------------------

    async def _to_agents(self, orders: Iterable[AgentOrder], now: datetime) -> None:
        if self._sink is None:
            return
        for user_id, command in orders:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._sink.execute(user_id, command, now)
            except (IllegalAgentTransitionError, LookupError) as error:
                log.info("ami_agent_command_refused", user_id=user_id, command=repr(command), error=str(error))
            except TimeoutError:
                log.warning("ami_agent_command_timeout", user_id=user_id, command=repr(command))
            except Exception:
                log.exception("ami_agent_command_failed", user_id=user_id, command=repr(command))

    # -- resync ---------------------------------------------------------------------------------------------------

    async def _resync(self, generation: int) -> None:
        listing = await self._conn.list_action("CoreShowChannels", timeout=self._resync_timeout)
        snapshot = [s for s in map(channel_snapshot, listing.items) if s is not None]
        keep = {linkedid for linkedid, session in self._session_of.items() if session >= generation}
        plan = resync.plan(self._calls, snapshot, self.roles, keep=keep)
        now = self._clock()
        for command in plan.commands:
            await self._apply(command, now)
        for adoption in plan.adoptions:
            linkedid = adoption.dial.linkedid
            if linkedid in self._abandoned:
                continue
            self._session_of[linkedid] = generation
            await self._apply(adoption.dial, now - timedelta(seconds=adoption.age_seconds), publish=False)
            for command in adoption.commands:
                await self._apply(command, now, publish=False)
            log.info("ami_call_adopted", linkedid=linkedid, destination=adoption.dial.destination)
        for channel in snapshot:
            self._track_channel(channel.uniqueid, channel.channel, channel.linkedid)
            if channel.linkedid in self._abandoned:
                self._spawn(self._hangup_quietly(channel.channel), f"hangup {channel.channel}")
        await self._to_agents(self._offers.keep_only(c.linkedid for c in snapshot), now)
        await self.queues.refresh(self._conn, self._resync_timeout)
        self.resyncs += 1
        log.info(
            "ami_resynced",
            generation=generation,
            channels=len(snapshot),
            live_calls=len(self._calls),
            lost=len(plan.lost),
            adopted=len(plan.adoptions),
        )
