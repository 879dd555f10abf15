"""The engine: live channels and bridges, the events they emit, and how a hangup spreads.

A hangup spreads as in Asterisk, checked against the captures: the channel that ends sends ``SoftHangupRequest``
(if it runs dialplan), leaves its bridge, queues ``HangupRequest`` on its Local partner and sends ``Hangup`` and
its ``Cdr``. Each channel touched by that reacts afterwards, one after another in the order they were touched
(a partner: ``BridgeLeave``, ``SoftHangupRequest``, ``Hangup``; the other party of a two-party bridge is put out
of it). Events of one channel therefore come in Asterisk's order; events of different channels within the same
instant come in one fixed order, one of the orders Asterisk produces.

It also keeps the device state: a device (``Local/agent1@sim-agents``) is in use while any of its channels
lives, and its watchers (the queues: QueueMemberStatus) hear of every change. Hooks on channels and bridges let
applications react in Asterisk's order: ``Bridge.on_leave`` before a BridgeLeave (AgentComplete),
``Channel.on_bridge`` (MixMonitor's option b), ``Channel.before_hangup`` / ``on_hangup``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.calllog import CustomerLog
from pbx_sim.core.channels import Bridge, Channel, ChannelTable, State
from pbx_sim.core.clock import SimClock
from pbx_sim.core.localopt import LocalOptimizer
from pbx_sim.core.pjsip import Pjsip
from pbx_sim.core.queues import QueueManager
from pbx_sim.world import World

if TYPE_CHECKING:
    from pbx_sim.core.mixmonitor import Recording

log = structlog.get_logger("pbx_sim")

# A dialplan application: runs on a channel with its (substituted) data; False when the channel's dialplan is over.
App = Callable[["Pbx", Channel, str], Awaitable[bool]]


class Pbx:
    def __init__(
        self,
        clock: SimClock,
        world: World,
        *,
        seed: int = 1,
        apps: Mapping[str, App] | None = None,
        recordings_dir: Path | None = None,
    ) -> None:
        self.clock = clock
        self.world = world
        self.seed = seed
        self.apps: dict[str, App] = dict(apps or {})  # by lower-case name; the basic ones live in dialplan.py
        self.recordings_dir = recordings_dir  # where MixMonitor writes relative file names
        self.recordings: dict[Channel, list[Recording]] = {}  # MixMonitors running, by channel
        self.recordings_started = 0
        self.hub = ev.EventHub(clock)
        self.table = ChannelTable()
        self.globals: dict[str, str] = {}
        # Device state: how many live channels make each device in use (a Local pair: both halves).
        self.devices: dict[str, int] = {}
        self.device_watchers: list[Callable[[str, bool], None]] = []
        self.dial_counts: dict[str, int] = {}  # calls placed to each phone so far (seeds what it does next)
        self.customer_log = CustomerLog()  # every customer the dialer had called (pbx_sim.core.calllog)
        self.started = clock.now()
        self.peak_channels = 0
        self.calls_started = 0
        self.task_failures = 0
        self._ids = random.Random(f"pbx-sim-ids:{seed}")  # noqa: S311 - repeatable ids, not secrets
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reactions: deque[Callable[[], None]] = deque()
        self._settling = False
        self.pjsip = Pjsip(self)  # PJSIP endpoints: registrations and device states (before the queues)
        self.queues = QueueManager(self)
        # In-process listeners of events, by event name: the PBX's own modules following its messages as
        # Asterisk's do (Local channel optimization, app_queue hearing of a transfer).
        self.listeners: dict[str, list[Callable[[Fields], None]]] = {}
        self.local_optimizer = LocalOptimizer(self)

    # ----------------------------------------------------------------- tasks
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: coro.close())  # cancelled before it ran (at close): not "never awaited"
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # one broken call must not stop the others
            self.task_failures += 1
            log.exception("pbx_task_failed", task=name)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    # ---------------------------------------------------------------- events
    def emit(self, name: str, category: ev.Category, body: Fields) -> None:
        self.hub.emit(name, category, body)
        for listener in tuple(self.listeners.get(name, ())):
            listener(body)

    def listen(self, name: str, listener: Callable[[Fields], None]) -> None:
        self.listeners.setdefault(name, []).append(listener)

    def unlisten(self, name: str, listener: Callable[[Fields], None]) -> None:
        if listener in self.listeners.get(name, ()):
            self.listeners[name].remove(listener)

    def new_state(self, chan: Channel, state: State) -> None:
        chan.state = state
        if state == State.UP and chan.answered_at is None:
            chan.answered_at = self.clock.now()
            for record in chan.cdrs:
                if record.follow and record.answer is None:
                    record.answer = chan.answered_at
        self.emit("Newstate", ev.CALL, ev.channel_fields(chan))

    def newexten(self, chan: Channel, priority: int, app: str, data: str) -> None:
        chan.priority, chan.app, chan.appdata = priority, app, data
        self.emit("Newexten", ev.DIALPLAN, ev.newexten(chan))

    def set_var(self, chan: Channel | None, name: str, value: str) -> None:
        if chan is None:
            self.globals[name.lstrip("_").upper()] = value
        else:
            chan.set_var(name, value)
        self.emit("VarSet", ev.DIALPLAN, ev.varset(chan, name, value))

    def get_var(self, chan: Channel | None, name: str) -> str:
        if chan is not None:
            value = chan.get_var(name)
            if value is not None:
                return value
        return self.globals.get(name.lstrip("_").upper(), "")

    def register(self, *chans: Channel) -> None:
        """Announce new channels (Newchannel), count them and mark their devices in use."""
        for chan in chans:
            self.emit("Newchannel", ev.CALL, ev.channel_fields(chan))
        self.peak_channels = max(self.peak_channels, len(self.table))
        for chan in chans:
            if chan.device:
                self._device_count(chan.device, +1)

    def _device_count(self, device: str, delta: int) -> None:
        before = self.devices.get(device, 0)
        after = max(0, before + delta)
        if after:
            self.devices[device] = after
        else:
            self.devices.pop(device, None)
        if bool(before) != bool(after):
            for watcher in tuple(self.device_watchers):
                watcher(device, bool(after))

    def device_in_use(self, device: str) -> bool:
        return device in self.devices

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    # --------------------------------------------------------------- bridges
    def bridge(self, *chans: Channel) -> Bridge:
        bridge = Bridge(self.new_uuid())
        self.emit("BridgeCreate", ev.CALL, ev.bridge_fields(bridge))
        for chan in chans:
            bridge.members.append(chan)
            chan.bridge = bridge
            self.emit("BridgeEnter", ev.CALL, [*ev.bridge_fields(bridge), *ev.channel_fields(chan)])
        for chan in chans:
            for hook in tuple(chan.on_bridge):
                hook(chan, True)
        return bridge

    def _leave_bridge(self, chan: Channel, cause: int, *, staying: bool = False, moving: bool = False) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        if bridge.on_leave is not None and not moving:
            bridge.on_leave(chan, staying)
        bridge.members.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", ev.CALL, [*ev.bridge_fields(bridge), *ev.channel_fields(chan)])
        for hook in tuple(chan.on_bridge):
            hook(chan, False)
        if not bridge.members:
            self.emit("BridgeDestroy", ev.CALL, ev.bridge_fields(bridge))
        elif chan.kick_on_leave and len(bridge.members) == 1 and not moving:
            peer = bridge.members[0]
            self._reactions.append(lambda: self._put_out(peer, cause))

    def leave_bridge(self, chan: Channel) -> None:
        """``chan`` leaves its bridge alive (an AMI Redirect); the other party of a two-party bridge is put out."""
        self._leave_bridge(chan, 16, staying=True)
        self.settle()

    def move(self, chan: Channel, bridge: Bridge, *, swap: Channel | None = None) -> None:
        """``chan`` moves from its bridge (if any) into ``bridge``, in place of ``swap``: nobody is put out and the
        bridges' applications do not take it for a hangup (a Local pair optimized away, a transfer)."""
        self._leave_bridge(chan, 16, moving=True)
        if swap is not None:
            self._leave_bridge(swap, 16, moving=True)
        bridge.members.append(chan)
        chan.bridge = bridge
        swapped = [("SwapUniqueid", swap.uniqueid)] if swap is not None else []
        self.emit("BridgeEnter", ev.CALL, [*ev.bridge_fields(bridge), *ev.channel_fields(chan), *swapped])
        for hook in tuple(chan.on_bridge):
            hook(chan, True)

    def put_out(self, chan: Channel, cause: int) -> None:
        """``chan`` leaves its bridge and ends as if the other party had left; the reactions to it wait for
        :meth:`settle` (``core stop now`` hangs every channel up before any of them reacts)."""
        self._put_out(chan, cause)

    # ------------------------------------------------------------- indications
    def indicate(self, chan: Channel, what: str) -> None:
        """``chan`` signals ringing / answer / busy / congestion to whoever called it (through its Local pair)."""
        target = chan.partner if chan.partner is not None else chan
        if not target.alive:
            return
        if target is not chan:
            if what == "ringing" and target.state != State.RINGING:
                self.new_state(target, State.RINGING)
            elif what == "answer" and target.state != State.UP:
                self.new_state(target, State.UP)
        if target.listener is not None:
            target.listener.on_indication(target, what)

    # ----------------------------------------------------------------- hangup
    def hangup(self, chan: Channel, cause: int, *, soft: bool | None = None, settle: bool = True) -> None:
        """``chan`` ends by its own doing: its Hangup(), the end of its dialplan, an AMI Hangup, the Originate
        giving up on it. ``soft``: send SoftHangupRequest (default: if it runs dialplan). ``settle=False`` leaves
        the reactions to the hangup in progress that called this one."""
        if not chan.alive:
            return
        if soft if soft is not None else chan.runs_pbx:
            self.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, cause))
        if chan.dialing is not None:
            chan.dialing.cancel(cause)
        self._leave_bridge(chan, cause)
        if not self._held(chan, cause):
            self._finish(chan, cause)
        if settle:
            self.settle()

    @staticmethod
    def _held(chan: Channel, cause: int) -> bool:
        """Whether the application running on ``chan`` takes the hangup and ends the channel itself later (AGI:
        the channel stays until the FastAGI server closes, agi-ivr-menu)."""
        return chan.hold_hangup is not None and chan.hold_hangup(cause)

    def settle(self) -> None:
        """Let every channel touched by a hangup react, in the order they were touched."""
        if self._settling:
            return
        self._settling = True
        try:
            while self._reactions:
                self._reactions.popleft()()
        finally:
            self._settling = False

    def _finish(self, chan: Channel, cause: int) -> None:
        for hook in tuple(chan.before_hangup):
            hook(chan)
        chan.alive = False
        runner = chan.runner
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
        partner = chan.partner
        if partner is not None and partner.alive:
            self.emit("HangupRequest", ev.CALL, ev.with_cause(partner, cause))
            self._reactions.append(lambda: self._hangup_requested(partner, cause))
        final = chan.hangup_cause if chan.hangup_cause is not None else cause
        self.emit("Hangup", ev.CALL, ev.hangup(chan, final))
        end = self.clock.now()
        for record in chan.cdrs:
            self.emit("Cdr", ev.CDR, ev.cdr(record, end))
        self.table.remove(chan)
        if chan.device:
            self._device_count(chan.device, -1)
        for hook in tuple(chan.on_hangup):
            hook(chan)
        if chan.listener is not None:
            chan.listener.on_gone(chan, final)

    def _hangup_requested(self, chan: Channel, cause: int) -> None:
        """Reaction of a channel whose Local partner hung up (it has had its HangupRequest)."""
        if not chan.alive:
            return
        if chan.dialing is not None:
            chan.dialing.cancel(cause)
        self._leave_bridge(chan, cause)
        if self._held(chan, cause):
            return
        if chan.runs_pbx:
            self.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, 16))
        self._finish(chan, cause)

    def _put_out(self, chan: Channel, cause: int) -> None:
        """The other party of a two-party bridge left: this one leaves too; without Dial's g option its
        dialplan ends, and a channel without dialplan is hung up."""
        if not chan.alive or chan.bridge is None:
            return
        self._leave_bridge(chan, cause)
        if self._held(chan, cause):
            return
        if chan.runs_pbx:
            self.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, 16))
        self._finish(chan, cause)

    # ---------------------------------------------------------------- queries
    def find(self, name: str) -> Channel | None:
        return self.table.by_name.get(name)

    def channels(self) -> list[Channel]:
        return list(self.table.by_name.values())
