"""Queues and their members, as app_queue keeps them: membership, pause, device state, statistics, strategies.

* Members are static (from the world, like ``member =>`` in queues.conf) or dynamic (AMI ``QueueAdd``).
* A member's ``Status`` follows the device state of its state interface: a Local member
  ``Local/agent1@sim-agents/n`` is in use (2) while any channel of ``Local/agent1@sim-agents`` exists (Local
  channels never report ringing), not in use (1) otherwise; every change sends ``QueueMemberStatus`` in every
  queue the member is in, also when the device is used outside the queue.
* Queues are listed in Asterisk's order, the order of its hash container (``ast_str_case_hash`` of the name
  modulo 53 buckets): ``support`` before ``sales``, as in ami-queue-member-ops.
* Strategies rank the members of one attempt by app_queue's ``calc_metric``; rrmemory remembers where it
  stopped (``rrpos``, ``store_next_rr``), leastrecent prefers the member whose last call ended longest ago.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.world_agents import MemberConfig, QueueConfig

if TYPE_CHECKING:
    from pbx_sim.core.channels import Channel
    from pbx_sim.core.pbx import Pbx

NOT_INUSE = 1
INUSE = 2
INVALID = 4
UNAVAILABLE = 5
QUEUE_BUCKETS = 53


def case_hash(text: str) -> int:
    """Asterisk's ``ast_str_case_hash``."""
    value = 5381
    for char in text.lower():
        value = ((value * 33) & 0xFFFFFFFF) ^ ord(char)
    return value & 0x7FFFFFFF


def device_of(interface: str) -> str:
    """The device whose state a member follows: a Local interface without its ``/n`` options."""
    if interface.lower().startswith("local/"):
        return interface.split("/", 2)[0] + "/" + interface.split("/", 2)[1]
    return interface


class Waiting(Protocol):
    """A caller in a queue (the Queue application on its channel)."""

    chan: Channel
    joined: float
    pending: bool  # ringing members now

    def wake(self) -> None: ...


@dataclass(eq=False)
class Member:
    interface: str
    name: str
    state_interface: str
    penalty: int
    dynamic: bool
    login_time: float
    queuepos: int
    paused: bool = False
    reason: str = ""
    calls: int = 0
    last_call: float = 0.0
    last_pause: float = 0.0
    in_call: bool = False
    wrapuptime: int = 0
    ringinuse: bool = False
    status: int = NOT_INUSE

    @property
    def device(self) -> str:
        return device_of(self.state_interface)

    def event_fields(self, queue: str) -> Fields:
        """Body of QueueMemberAdded / Pause / Status / Removed."""
        return [
            ("Queue", queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            *self._tail(),
            ("Ringinuse", "1" if self.ringinuse else "0"),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def status_fields(self, queue: str) -> Fields:
        """Body of a QueueStatus ``QueueMember`` entry (Name/Location, no Ringinuse)."""
        return [
            ("Queue", queue),
            ("Name", self.name),
            ("Location", self.interface),
            *self._tail(),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def _tail(self) -> Fields:
        return [
            ("StateInterface", self.state_interface),
            ("Membership", "dynamic" if self.dynamic else "static"),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls)),
            ("LastCall", str(int(self.last_call))),
            ("LastPause", str(int(self.last_pause))),
            ("LoginTime", str(int(self.login_time))),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.reason),
        ]


@dataclass(eq=False)
class Queue:
    config: QueueConfig
    members: list[Member] = field(default_factory=list)
    callers: list[Waiting] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rrpos: int = 0
    wrapped: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    def member(self, interface: str) -> Member | None:
        return next((m for m in self.members if m.interface.lower() == interface.lower()), None)

    def available(self, member: Member, now: float) -> bool:
        """Whether ``member`` may be rung now (app_queue's can_ring_entry)."""
        if member.paused or member.status in (INVALID, UNAVAILABLE):
            return False
        if member.status != NOT_INUSE and not (self.config.ringinuse or member.ringinuse):
            return False
        wrapup = member.wrapuptime or self.config.wrapuptime
        return not (wrapup and member.last_call and now - member.last_call < wrapup)

    def metric(self, member: Member, now: float, rng: random.Random) -> int:
        """app_queue's calc_metric: the member with the lowest metric is rung first."""
        strategy, pos = self.config.strategy, member.queuepos
        penalty = member.penalty * 1_000_000
        if strategy == "ringall":
            return penalty
        if strategy in ("rrmemory", "rrordered"):
            if pos < self.rrpos:
                return 1000 + pos + penalty
            if pos > self.rrpos:
                self.wrapped = True
            return pos + penalty
        if strategy == "random":
            return rng.randrange(1000) + penalty
        if strategy == "fewestcalls":
            return member.calls + penalty
        # leastrecent (time(NULL) - lastcall: whole seconds)
        return (0 if not member.last_call else 1_000_000 - (int(now) - int(member.last_call))) + penalty

    def store_next(self, next_metric: int | None) -> None:
        """rrmemory: remember the member after the one rung (store_next_rr)."""
        if self.config.strategy not in ("rrmemory", "rrordered"):
            return
        if next_metric is not None:
            self.rrpos = next_metric % 1000
        elif self.wrapped:
            self.rrpos = 0
        else:
            self.rrpos += 1
        self.wrapped = False

    def recalc_holdtime(self, seconds: int) -> None:
        self.holdtime = (self.holdtime * 3 + seconds) >> 2

    def completed_call(self, talk: int, in_sl: bool) -> None:
        self.completed += 1
        self.completed_in_sl += int(in_sl)
        self.talktime = (self.talktime * 3 + talk) >> 2

    def abandoned_call(self, waited: float) -> None:
        self.abandoned += 1
        if self.config.servicelevel and waited <= self.config.servicelevel:
            self.abandoned_in_sl += 1


class QueueManager:
    """Every queue of the PBX, in Asterisk's listing order, and the member events."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.queues: dict[str, Queue] = {}
        for config in pbx.world.queues:
            queue = Queue(config)
            for member in config.members:
                self._new_member(queue, member, dynamic=False, login=pbx.started)
            self.queues[config.name.lower()] = queue
        pbx.device_watchers.append(self._device_changed)

    def ordered(self) -> list[Queue]:
        return sorted(self.queues.values(), key=lambda q: case_hash(q.name) % QUEUE_BUCKETS)

    def get(self, name: str) -> Queue | None:
        return self.queues.get(name.lower())

    def _new_member(self, queue: Queue, config: MemberConfig, *, dynamic: bool, login: float) -> Member:
        member = Member(
            config.interface,
            config.name or config.interface,
            config.state_interface or config.interface,
            config.penalty,
            dynamic,
            login,
            len(queue.members),
            ringinuse=queue.config.ringinuse,
        )
        member.status = self._status_of(member.device)
        queue.members.append(member)
        return member

    def emit(self, event: str, queue: Queue, member: Member) -> None:
        self.pbx.emit(event, ev.AGENT, member.event_fields(queue.name))

    # ----------------------------------------------------------- membership
    def add(self, name: str, config: MemberConfig, paused: bool, reason: str) -> str:
        """QueueAdd: ``ok``, ``exists`` or ``no-queue``."""
        queue = self.get(name)
        if queue is None:
            return "no-queue"
        if queue.member(config.interface) is not None:
            return "exists"
        member = self._new_member(queue, config, dynamic=True, login=self.pbx.clock.now())
        member.paused, member.reason = paused, reason if paused else ""
        self.emit("QueueMemberAdded", queue, member)
        self.poke(queue)
        return "ok"

    def remove(self, name: str, interface: str) -> str:
        """QueueRemove: ``ok``, ``not-there``, ``not-dynamic`` or ``no-queue``."""
        queue = self.get(name)
        if queue is None:
            return "no-queue"
        member = queue.member(interface)
        if member is None:
            return "not-there"
        if not member.dynamic:
            return "not-dynamic"
        queue.members.remove(member)
        for other in queue.members:
            if other.queuepos > member.queuepos:
                other.queuepos -= 1
        self.emit("QueueMemberRemoved", queue, member)
        return "ok"

    def pause(self, name: str, interface: str, paused: bool, reason: str) -> bool:
        """QueuePause in one queue (``name``) or in every queue; False if the interface is in none of them."""
        queues = [q for q in self.ordered() if not name or q.name.lower() == name.lower()]
        found = False
        for queue in queues:
            member = queue.member(interface)
            if member is None:
                continue
            found = True
            member.paused = paused
            member.reason = reason if paused else ""
            if paused:
                member.last_pause = self.pbx.clock.now()
            self.emit("QueueMemberPause", queue, member)
            self.poke(queue)
        return found

    # ---------------------------------------------------------- device state
    def _status_of(self, device: str) -> int:
        """A PJSIP endpoint's own device state (unavailable until registered); else in use or not."""
        status = self.pbx.pjsip.device_status(device)
        if status is not None:
            return status
        return INUSE if self.pbx.device_in_use(device) else NOT_INUSE

    def _device_changed(self, device: str, in_use: bool) -> None:
        self.device_status_changed(device, INUSE if in_use else NOT_INUSE)

    def device_status_changed(self, device: str, status: int) -> None:
        """``device`` is now in state ``status`` (ast_device_state): QueueMemberStatus in every queue."""
        for queue in self.ordered():
            changed = False
            for member in queue.members:
                if member.device.lower() == device.lower() and member.status != status:
                    member.status = status
                    self.emit("QueueMemberStatus", queue, member)
                    changed = True
            if changed:
                self.poke(queue)

    def poke(self, queue: Queue) -> None:
        """Something changed that may let a waiting caller ring a member."""
        for caller in tuple(queue.callers):
            caller.wake()
