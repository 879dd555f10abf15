"""The engine: live channels and bridges, the events they emit, and how a hangup spreads.

A hangup spreads as in Asterisk, checked against the captures: the channel that ends sends ``SoftHangupRequest``
(if it runs dialplan), leaves its bridge, queues ``HangupRequest`` on its Local partner and sends ``Hangup`` and
its ``Cdr``. Each channel touched by that reacts afterwards, one after another in the order they were touched
(a partner: ``BridgeLeave``, ``SoftHangupRequest``, ``Hangup``; the other party of a two-party bridge is put out
of it). Events of one channel therefore come in Asterisk's order; events of different channels within the same
instant come in one fixed order, one of the orders Asterisk produces.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Bridge, Channel, ChannelTable, State
from pbx_sim.core.clock import SimClock
from pbx_sim.world import World

log = structlog.get_logger("pbx_sim")


class Pbx:
    def __init__(self, clock: SimClock, world: World, *, seed: int = 1) -> None:
        self.clock = clock
        self.world = world
        self.seed = seed
        self.hub = ev.EventHub(clock)
        self.table = ChannelTable()
        self.globals: dict[str, str] = {}
        self.started = clock.now()
        self.peak_channels = 0
        self.calls_started = 0
        self.task_failures = 0
        self._ids = random.Random(f"pbx-sim-ids:{seed}")  # noqa: S311 - repeatable ids, not secrets
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reactions: deque[Callable[[], None]] = deque()
        self._settling = False

    # ----------------------------------------------------------------- tasks
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
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
        """Announce new channels (Newchannel) and count them."""
        for chan in chans:
            self.emit("Newchannel", ev.CALL, ev.channel_fields(chan))
        self.peak_channels = max(self.peak_channels, len(self.table))

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
        return bridge

    def _leave_bridge(self, chan: Channel, cause: int) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.members.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", ev.CALL, [*ev.bridge_fields(bridge), *ev.channel_fields(chan)])
        if not bridge.members:
            self.emit("BridgeDestroy", ev.CALL, ev.bridge_fields(bridge))
        elif chan.kick_on_leave and len(bridge.members) == 1:
            peer = bridge.members[0]
            self._reactions.append(lambda: self._put_out(peer, cause))

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
        self._finish(chan, cause)
        if settle:
            self.settle()

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
        if chan.listener is not None:
            chan.listener.on_gone(chan, final)

    def _hangup_requested(self, chan: Channel, cause: int) -> None:
        """Reaction of a channel whose Local partner hung up (it has had its HangupRequest)."""
        if not chan.alive:
            return
        if chan.dialing is not None:
            chan.dialing.cancel(cause)
        self._leave_bridge(chan, cause)
        if chan.runs_pbx:
            self.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, 16))
        self._finish(chan, cause)

    def _put_out(self, chan: Channel, cause: int) -> None:
        """The other party of a two-party bridge left: this one leaves too; without Dial's g option its
        dialplan ends, and a channel without dialplan is hung up."""
        if not chan.alive or chan.bridge is None:
            return
        self._leave_bridge(chan, cause)
        if chan.runs_pbx:
            self.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, 16))
        self._finish(chan, cause)

    # ---------------------------------------------------------------- queries
    def find(self, name: str) -> Channel | None:
        return self.table.by_name.get(name)

    def channels(self) -> list[Channel]:
        return list(self.table.by_name.values())
