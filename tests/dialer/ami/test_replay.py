"""Real Asterisk 22 traffic (shared/fixtures/asterisk) replayed byte for byte from a raw TCP server."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime

from callcenter.bus.memory import InProcessBus
from callcenter.metrics import Metrics
from dialer import events as ev
from dialer.state import agent_commands as ac
from dialer.state.agent_commands import AgentCommand
from tests.dialer.ami.conftest import call_events, gauge, names, running_engine, until
from tests.dialer.ami.fakeami import FakeAmi, Session, block, received_stream


class AgentDesk:
    """A stand-in for AgentStateService.execute: records what the engine tells the agents' machines."""

    def __init__(self) -> None:
        self.orders: list[tuple[int, AgentCommand]] = []

    async def execute(self, user_id: int, command: AgentCommand, now: datetime | None = None) -> object:
        self.orders.append((user_id, command))
        return None


def replaying(capture: str) -> tuple[FakeAmi, list[float]]:
    sent: list[float] = []

    async def replay(session: Session) -> None:
        await asyncio.sleep(0)  # at once: the events arrive while the engine resyncs
        sent.append(time.monotonic())
        session.send(received_stream(capture))

    return FakeAmi(on_login=replay), sent


async def test_event_flood_yields_twenty_calls_each_ended_once(bus: InProcessBus, metrics: Metrics) -> None:
    fake, sent = replaying("ami-event-flood.txt")
    async with fake, running_engine(fake.port, bus, metrics, queue_size=10_000) as engine:

        def ended() -> list[ev.CallEnded]:
            return [e.event for e in bus._stream("calls").history if isinstance(e.event, ev.CallEnded)]

        await until(lambda: len(ended()) >= 20, timeout=10, what="20 CallEnded")
        took = time.monotonic() - sent[0]
        await asyncio.sleep(0.05)  # nothing more comes
        events = await call_events(bus)
        per_call = Counter(e.linkedid for e in events if isinstance(e, ev.CallEnded))
        assert len(per_call) == 20 and set(per_call.values()) == {1}
        assert Counter(names(events)) == {"CallDialing": 20, "CallRinging": 20, "CallAnswered": 20, "CallEnded": 20}
        assert {e.cause for e in events if isinstance(e, ev.CallEnded)} == {16}
        assert sorted(e.destination for e in events if isinstance(e, ev.CallDialing)) == [
            f"55510{n:02d}" for n in range(20)
        ]
        assert not engine.calls and gauge(metrics, "callcenter_calls_in_progress") == 0
        assert took < 1.0, f"2,082 events took {took:.3f} s"  # typically 0.1-0.3 s


async def test_queue_call_drives_the_agent_and_the_call(bus: InProcessBus, metrics: Metrics) -> None:
    desk = AgentDesk()
    fake, _ = replaying("ami-originate-answer-queue-agent.txt")
    async with fake, running_engine(fake.port, bus, metrics, agents=desk, wrap_up_seconds=30) as engine:
        linkedid = "1795431704.0"
        await until(
            lambda: any(isinstance(e.event, ev.CallEnded) for e in bus._stream("calls").history), what="the end"
        )
        events = await call_events(bus, linkedid)
        assert names(events) == ["CallDialing", "CallRinging", "CallAnswered", "CallConnectedToAgent", "CallEnded"]
        connected, ended = events[3], events[4]
        assert isinstance(connected, ev.CallConnectedToAgent) and connected.agent_id == 1
        assert isinstance(ended, ev.CallEnded) and ended.agent_id == 1 and ended.hung_up_by == "agent"
        assert desk.orders == [
            (1, ac.Ring(linkedid)),
            (1, ac.Answer(linkedid)),
            (1, ac.EndCall(linkedid, wrap_up_seconds=30)),
        ]
        assert not engine.calls


async def test_hold_and_attended_transfer(bus: InProcessBus, metrics: Metrics) -> None:
    fake, _ = replaying("ami-atxfer.txt")
    async with fake, running_engine(fake.port, bus, metrics):
        linkedid = "1795431800.0"
        await until(
            lambda: any(isinstance(e.event, ev.CallEnded) for e in bus._stream("calls").history), what="the end"
        )
        events = await call_events(bus, linkedid)
        assert names(events)[:4] == ["CallDialing", "CallRinging", "CallAnswered", "CallConnectedToAgent"]
        assert "CallHeld" in names(events)
        (transferred,) = [e for e in events if isinstance(e, ev.CallTransferred)]
        assert transferred.target == "Local/801@fixture-xfer-00000003;1" and transferred.from_agent_id == 1
        assert isinstance(events[-1], ev.CallEnded)


async def test_queue_status_fills_the_members_or_is_noted_missing(bus: InProcessBus, metrics: Metrics) -> None:
    fake = FakeAmi()  # like a PBX without app_queue: QueueStatus -> Response: Error
    async with fake, running_engine(fake.port, bus, metrics) as engine:
        assert engine.queues.available is False and engine.queues.members == {}
        assert engine.connection.connected  # the resync went on without queue state
        fake.queue_members = [
            [
                ("Queue", "sales"),
                ("Name", "Agent Three"),
                ("Location", "Local/agent3@sim-agents/n"),
                ("Status", "1"),
                ("Paused", "1"),
                ("PausedReason", "Lunch"),
                ("InCall", "0"),
            ],
        ]
        fake.sessions[-1].abort()  # next session: the PBX has queues now
        await until(lambda: engine.resyncs >= 2, what="the second resync")
        assert engine.queues.available is True
        (member,) = engine.queues.members.values()
        assert member.interface == "Local/agent3@sim-agents/n" and member.paused and member.paused_reason == "Lunch"
        unpause = block(
            ("Event", "QueueMemberPause"),
            ("Queue", "sales"),
            ("MemberName", "Agent Three"),
            ("Interface", "Local/agent3@sim-agents/n"),
            ("Paused", "0"),
        )
        fake.sessions[-1].send(unpause)
        await until(lambda: not next(iter(engine.queues.members.values())).paused, what="the unpause event")
