"""The ``Queue()`` application: a caller waits in a queue while its members are rung by strategy.

Order of events, as in ami-originate-answer-queue-agent / ami-queue-abandon / ami-core-show-channels:
``QueueCallerJoin``, ``MusicOnHoldStart``; per member rung: its Local pair, ``AgentCalled``, ``DialBegin``,
``DialState``; on answer ``DialEnd`` ANSWER (CANCEL for the others), ``MusicOnHoldStop``, ``QueueCallerLeave``,
``AgentConnect``, a bridge; ``AgentComplete`` (Reason agent|caller) when the first party leaves that bridge.
A member that declines gives ``DialEnd`` BUSY and ``AgentRingNoAnswer`` and the next one is rung at once; a
member that rings ``timeout`` seconds gives ``AgentRingNoAnswer`` (RingTime in ms) and ``DialEnd`` NOANSWER,
then the caller waits ``retry`` seconds. A caller who hangs up while waiting is abandoned:
``MusicOnHoldStop``, ``QueueCallerAbandon`` (Position, OriginalPosition, HoldTime), ``QueueCallerLeave``.
Past the Queue() timeout the caller leaves (``QueueCallerLeave``, QUEUESTATUS=TIMEOUT) and the dialplan goes on.

Only Local members (``Local/agent1@sim-agents/n``) have a channel driver here; a ``PJSIP/...`` member is listed,
paused and counted, but not rung until the simulator has PJSIP channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import UNKNOWN, Bridge, Channel, Indication
from pbx_sim.core.dial import LocalDial, parse_target
from pbx_sim.core.dialplan import seconds
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.queues import Member, Queue


def whole_seconds(start: float, end: float) -> int:
    """A duration as app_queue reckons it: the difference of two ``time(NULL)`` values (whole epoch seconds),
    so a 6.5 s wait is 6 or 7 depending on where the second boundaries fall (ami-queue-abandon: 7)."""
    return int(end) - int(start)


def _snapshot(chan: Channel, prefix: str, **changes: str) -> Fields:
    """A channel's fields with some values as a later snapshot shows them (AgentCalled's Dest*)."""
    fields = ev.channel_fields(chan, prefix)
    return [(k, changes.get(k[len(prefix) :], v)) for k, v in fields]


class QueueCall:
    """One caller's stay in one queue (the Queue application running on ``chan``)."""

    def __init__(self, pbx: Pbx, queue: Queue, chan: Channel, timeout: float | None) -> None:
        self.pbx = pbx
        self.queue = queue
        self.chan = chan
        self.timeout = timeout
        self.joined = pbx.clock.now()
        self.position = 0
        self.pending = False  # ringing members now
        self.ringing: dict[LocalDial, Member] = {}
        self.over = False
        self._talk: tuple[Channel, Member, int, float, bool] | None = None  # agent leg, member, hold, since, in SL
        self._bridge: Bridge | None = None  # the caller's bridge with the agent
        self._wake = asyncio.Event()
        self._rng = random.Random(f"pbx-sim-queue:{pbx.seed}:{queue.name}")  # noqa: S311 - strategy "random"

    # ---------------------------------------------------------------- events
    def _caller_event(self, name: str, *fields: tuple[str, str]) -> None:
        self.pbx.emit(name, ev.AGENT, [*ev.channel_fields(self.chan), ("Queue", self.queue.name), *fields])

    def _agent_event(self, name: str, member: Member, *fields: tuple[str, str], dest: Fields) -> None:
        body = [*ev.channel_fields(self.chan), *dest, ("Queue", self.queue.name)]
        body += [("Interface", member.interface), ("MemberName", member.name), *fields]
        self.pbx.emit(name, ev.AGENT, body)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ run
    async def run(self) -> bool:
        pbx, chan, queue = self.pbx, self.chan, self.queue
        for name in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS"):
            pbx.set_var(chan, name, "")
        if queue.config.maxlen and len(queue.callers) >= queue.config.maxlen:
            pbx.set_var(chan, "QUEUESTATUS", "FULL")
            return True
        queue.callers.append(self)
        self.position = len(queue.callers)
        self._caller_event("QueueCallerJoin", ("Position", str(self.position)), ("Count", str(len(queue.callers))))
        pbx.emit("MusicOnHoldStart", ev.CALL, [*ev.channel_fields(chan), ("Class", queue.config.musicclass)])
        chan.dialing = self
        deadline = None if self.timeout is None else self.joined + self.timeout
        while chan.alive and not self.over:
            left = None if deadline is None else deadline - pbx.clock.now()
            if left is not None and left <= 0:
                self._leave_timeout()
                return True
            if self._our_turn():
                outcome = await self._attempt(left)
                if outcome == "connected":
                    await asyncio.get_running_loop().create_future()  # until the call ends (task cancelled)
                if self.over or not chan.alive:
                    break
                if outcome == "rang":
                    await pbx.clock.sleep(queue.config.retry if left is None else min(queue.config.retry, left))
                    continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if left is None else pbx.clock.real(left))
        return chan.alive

    def _our_turn(self) -> bool:
        """autofill: the n-th waiting caller (not counting those already ringing) rings if n members are free."""
        queue, now = self.queue, self.pbx.clock.now()
        free = sum(1 for m in queue.members if queue.available(m, now))
        if not free:
            return False
        ahead = 0
        for caller in queue.callers:
            if caller is self:
                break
            if not caller.pending:
                ahead += 1
        return ahead < free if queue.config.autofill else ahead == 0

    def _leave(self) -> None:
        queue = self.queue
        self.position = queue.callers.index(self) + 1 if self in queue.callers else self.position
        if self in queue.callers:
            queue.callers.remove(self)
        self.over = True
        self.chan.dialing = None
        self._caller_event("QueueCallerLeave", ("Position", str(self.position)), ("Count", str(len(queue.callers))))
        self.pbx.queues.poke(queue)

    def _leave_timeout(self) -> None:
        self.pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(self.chan))
        self._leave()
        self.pbx.set_var(self.chan, "QUEUESTATUS", "TIMEOUT")

    # Dialing protocol: the caller hung up while waiting (abandon)
    def cancel(self, cause: int) -> None:
        if self.over:
            return
        pbx, chan, queue = self.pbx, self.chan, self.queue
        for call in self.ringing:
            call.end("CANCEL")
        now = pbx.clock.now()
        waited = whole_seconds(self.joined, now)
        original = self.position
        position = queue.callers.index(self) + 1 if self in queue.callers else original
        pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(chan))
        self._caller_event(
            "QueueCallerAbandon",
            ("Position", str(position)),
            ("OriginalPosition", str(original)),
            ("HoldTime", str(waited)),
        )
        queue.abandoned_call(now - self.joined)
        self._leave()
        pbx.set_var(chan, "QUEUEWAIT", str(waited))
        pbx.set_var(chan, "QUEUEWAIT_MS", str(int((now - self.joined) * 1000)))
        pbx.set_var(chan, "ABANDONED", "TRUE")
        pbx.set_var(chan, "QUEUEPOSITION", str(position))
        for call in list(self.ringing):
            call.drop("CANCEL", cause, settle=False)
        self.ringing.clear()

    # -------------------------------------------------------------- ringing
    def _ring(self, member: Member) -> LocalDial | None:
        """Call one member (ring_entry); None if its interface cannot be called."""
        pbx, chan = self.pbx, self.chan
        target = parse_target(member.interface)
        if target is None:
            return None  # only Local members have a channel driver in the simulator
        exten, context, options = target
        call = LocalDial(pbx, chan, exten, context, options, app="Queue")
        if not call.reachable:
            return None
        cid = (chan.caller_num, chan.caller_name)
        one = call.create(cid, (UNKNOWN, UNKNOWN), cid, cid)
        dest = _snapshot(one, "Dest", Exten=chan.exten, ConnectedLineNum=cid[0], ConnectedLineName=cid[1])
        self._agent_event("AgentCalled", member, dest=dest)
        call.begin(member.interface)
        one.exten = chan.exten
        one.connected_num, one.connected_name = cid
        pbx.newexten(one, 1, "AppQueue", "(Outgoing Line)")
        self.ringing[call] = member
        return call

    def _no_answer(self, call: LocalDial, status: str, ring_ms: int) -> None:
        """A member did not take the call: AgentRingNoAnswer, DialEnd and its channel hung up (rna)."""
        member = self.ringing.pop(call)
        one = call.one
        assert one is not None
        if status == "BUSY":
            call.end(status)
        if one.alive:
            self._agent_event("AgentRingNoAnswer", member, ("RingTime", str(ring_ms)),
                              dest=ev.channel_fields(one, "Dest"))  # fmt: skip
        call.drop(status, 19 if status == "NOANSWER" else 16)

    async def _attempt(self, left: float | None) -> str:
        """One round (try_calling): ring by strategy until someone answers or the ring timeout passes.
        Returns ``connected``, ``rang`` (nobody answered) or ``none`` (nobody could be rung)."""
        pbx, queue = self.pbx, self.queue
        now = pbx.clock.now()
        queue.wrapped = False
        candidates = sorted(queue.members, key=lambda m: (queue.metric(m, now, self._rng), m.queuepos))
        ring_for = queue.config.timeout or None
        if left is not None:
            ring_for = left if ring_for is None else min(ring_for, left)
        deadline = None if ring_for is None else now + ring_for
        self.pending = True
        try:
            if not self._ring_next(candidates, ringall=queue.config.strategy == "ringall", store=True):
                return "none"
            while self.ringing and self.chan.alive and not self.over:
                wait = None if deadline is None else pbx.clock.real(deadline - pbx.clock.now())
                futures = {call.result: call for call in self.ringing}
                done, _ = await asyncio.wait(futures, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:  # the ring timeout: everyone still ringing did not answer
                    for call in list(self.ringing):
                        self._no_answer(call, "NOANSWER", int((pbx.clock.now() - call.started) * 1000))
                    return "rang"
                for future in done:
                    call = futures[future]
                    if call not in self.ringing:
                        continue
                    if future.result() == Indication.ANSWER and call.one is not None and call.one.alive:
                        self._connect(call)
                        return "connected"
                    status = "BUSY" if future.result() in (Indication.BUSY, Indication.CONGESTION) else "NOANSWER"
                    self._no_answer(call, status, int((pbx.clock.now() - call.started) * 1000))
                if not self.ringing and queue.config.strategy != "ringall":
                    still = None if deadline is None else deadline - pbx.clock.now()
                    if (still is None or still > 0.5) and self._ring_next(candidates, ringall=False):
                        continue
            return "rang"
        finally:
            self.pending = False

    def _ring_next(self, candidates: list[Member], *, ringall: bool, store: bool = False) -> bool:
        """ring_one: ring the best candidate (ringall: every candidate of the best penalty) still free.
        ``store``: the first ring of an attempt also remembers where rrmemory goes on (store_next_rr)."""
        queue, now = self.queue, self.pbx.clock.now()
        rang = False
        while candidates and not rang:
            best = candidates.pop(0)
            group = [best] + ([m for m in candidates if m.penalty == best.penalty] if ringall else [])
            for member in group:
                if member is not best:
                    candidates.remove(member)
                if queue.available(member, now) and self._ring(member) is not None:
                    rang = True
        if store and not ringall:  # store_next_rr: the best member not tried yet, free or not
            queue.store_next(queue.metric(candidates[0], now, self._rng) if candidates else None)
        return rang

    # ------------------------------------------------------------ connected
    def _connect(self, call: LocalDial) -> None:
        pbx, chan, queue = self.pbx, self.chan, self.queue
        member = self.ringing.pop(call)
        one = call.one
        assert one is not None
        now = pbx.clock.now()
        hold = whole_seconds(self.joined, now)
        call.end("ANSWER")
        for other in list(self.ringing):
            other.end("CANCEL")
        queue.recalc_holdtime(hold)
        for other in list(self.ringing):
            other.drop("CANCEL", 16)
        self.ringing.clear()
        pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(chan))
        self._leave()
        pbx.set_var(chan, "QUEUEPOSITION", str(self.position))
        pbx.set_var(chan, "QUEUEWAIT", str(hold))
        pbx.set_var(chan, "QUEUEWAIT_MS", str(int((now - self.joined) * 1000)))
        ring = whole_seconds(call.started, now)
        self._agent_event("AgentConnect", member, ("HoldTime", str(hold)), ("RingTime", str(ring)),
                          dest=ev.channel_fields(one, "Dest"))  # fmt: skip
        member.in_call = True
        for record in chan.cdrs:
            if record.follow:
                record.dest_channel = one.name
        bridge = pbx.bridge(one, chan)
        self._talk = (one, member, hold, now, hold <= queue.config.servicelevel)
        bridge.on_leave = lambda leaving, staying: self._complete(bridge, leaving, staying)
        self._bridge = bridge
        pbx.listen("AttendedTransfer", self._transferred)

    def _transferred(self, body: Fields) -> None:
        """app_queue's handle_attended_transfer: an attended transfer out of the agent's bridge ends the member's
        call (AgentComplete Reason transfer, ami-atxfer)."""
        fields, bridge = dict(body), self._bridge
        if bridge is None or bridge.on_leave is None or self._talk is None:
            return
        if bridge.uniqueid in (fields.get("OrigBridgeUniqueid"), fields.get("SecondBridgeUniqueid")):
            self._complete(bridge, self._talk[0], False, reason="transfer")

    def _complete(self, bridge: Bridge, leaving: Channel, staying: bool, reason: str = "") -> None:
        """The first party leaves the agent's bridge: the member's call counts (update_queue) and AgentComplete
        follows, at once (Reason agent or caller; ``reason`` transfer after an attended transfer), or, when the
        caller was redirected elsewhere, only once the caller hangs up (Reason caller, TalkTime up to then, no Dest*
        fields: ami-hangup-redirect)."""
        bridge.on_leave = None
        self.pbx.unlisten("AttendedTransfer", self._transferred)
        assert self._talk is not None
        one, member, hold, since, in_sl = self._talk
        now = self.pbx.clock.now()
        member.calls += 1
        member.last_call = now
        member.in_call = False
        self.queue.completed_call(whole_seconds(since, now), in_sl)
        if staying:
            leaving.before_hangup.append(lambda chan: self._completed_after_redirect(chan, member, hold, since))
            return
        talk = whole_seconds(since, now)
        reason = reason or ("agent" if leaving is one else "caller")
        self._agent_event("AgentComplete", member, ("HoldTime", str(hold)), ("TalkTime", str(talk)),
                          ("Reason", reason), dest=ev.channel_fields(one, "Dest"))  # fmt: skip

    def _completed_after_redirect(self, chan: Channel, member: Member, hold: int, since: float) -> None:
        talk = whole_seconds(since, self.pbx.clock.now())
        fields = [("Interface", member.interface), ("MemberName", member.name), ("HoldTime", str(hold))]
        self._caller_event("AgentComplete", *fields, ("TalkTime", str(talk)), ("Reason", "caller"))


async def app_queue(pbx: Pbx, chan: Channel, data: str) -> bool:
    """``Queue(queuename[,options[,URL[,announceoverride[,timeout]]]])``."""
    args = data.split(",")
    queue = pbx.queues.get(args[0].strip())
    if queue is None:
        pbx.set_var(chan, "QUEUESTATUS", "UNKNOWN")
        return True
    timeout = seconds(args[4], 0.0) if len(args) > 4 and args[4].strip() else 0.0
    return await QueueCall(pbx, queue, chan, timeout or None).run()
