"""AmiEngine against the real simulator over TCP: outcomes on the bus, PBX restart, AMI drop, our own restart."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.metrics import Metrics
from config.settings import PbxSimSettings
from dialer import events as ev
from dialer.ami import LOST_CAUSE_TEXT, AmiActionError, AmiNotConnectedError, AmiTimeoutError
from dialer.state.call import CallPhase
from pbx_sim.app import PbxSim, running_pbx_sim
from tests.dialer.ami.conftest import SPEED, call_events, gauge, names, outcome, running_engine, until
from tests.dialer.ami.fakeami import FakeAmi, block

LIVE = "callcenter_calls_in_progress"
CONNECTED = "callcenter_ami_connected"
LONG_CALL: dict[str, Any] = {"context": "fixture", "exten": "talk", "variables": {"__TALK": "600"}}  # 600 s: 30 s here


@pytest.mark.parametrize(
    ("number", "expected", "reason", "cause"),
    [
        ("5551234", ["CallDialing", "CallRinging", "CallAnswered", "CallEnded"], None, 16),
        ("busy", ["CallDialing", "CallFailed"], "busy", 17),
        ("noanswer", ["CallDialing", "CallRinging", "CallFailed"], "no_answer", 19),
        ("congestion", ["CallDialing", "CallFailed"], "congestion", 34),
    ],
)
async def test_originate_outcomes(
    sim: PbxSim, bus: InProcessBus, metrics: Metrics, number: str, expected: list[str], reason: str | None, cause: int
) -> None:
    async with running_engine(sim.port, bus, metrics) as engine:
        linkedid = await engine.originate(number, context="fixture", exten="playtone", ring_timeout=5)
        assert linkedid in engine.calls and gauge(metrics, LIVE) == 1
        events = await outcome(bus, linkedid)
        assert names(events) == expected
        last = events[-1]
        if reason is None:
            assert isinstance(last, ev.CallEnded)
            assert last.cause == cause and last.cause_text == "Normal Clearing" and last.hung_up_by == "system"
        else:
            assert isinstance(last, ev.CallFailed)
            assert last.reason == reason and last.cause == cause
        assert events[0] == ev.CallDialing(linkedid=linkedid, occurred_at=events[0].occurred_at, destination=number)
        await until(lambda: not engine.calls and gauge(metrics, LIVE) == 0, what="the call to be forgotten")


async def test_originate_refused_and_not_connected(sim: PbxSim, bus: InProcessBus, metrics: Metrics) -> None:
    async with running_engine(sim.port, bus, metrics) as engine:
        with pytest.raises(ValueError, match="dialable"):
            await engine.originate("555 1234\r\nAction: Logoff", context="fixture", exten="playtone")
        with pytest.raises(AmiActionError, match="Invalid channel"):
            await engine.originate("5551234", context="fixture", exten="playtone", channel="nonsense")
        (failed,) = [e for e in await call_events(bus) if isinstance(e, ev.CallFailed)]
        assert failed.reason == "error" and failed.originate_reason == 0 and not engine.calls
        assert not await engine.hangup("Local/nobody@outbound-00000000;1")  # no such channel: False, no error
        with pytest.raises(ValueError, match="comma"):
            await engine.originate("5551234", context="fixture", exten="talk", variables={"NAMES": "a,b"})
        live = await engine.originate("5551234", **LONG_CALL)
        with pytest.raises(ValueError, match="already a live call"):
            await engine.originate("5551234", context="fixture", exten="talk", linkedid=live)
        assert await engine.hangup_call(live)
        assert isinstance((await outcome(bus, live))[-1], ev.CallEnded | ev.CallFailed)
    async with FakeAmi(answer_login=False) as fake, running_engine(fake.port, bus, metrics, connect=False) as engine:
        before = len(await call_events(bus))
        with pytest.raises(AmiNotConnectedError):
            await engine.originate("5551234", context="fixture", exten="playtone")
        assert len(await call_events(bus)) == before  # nothing dialled, nothing published


async def test_originate_that_times_out_fails_and_is_hung_up_if_it_shows_up(
    bus: InProcessBus, metrics: Metrics
) -> None:
    async with FakeAmi(mute={"originate"}) as fake, running_engine(fake.port, bus, metrics, timeout=0.2) as engine:
        with pytest.raises(AmiTimeoutError):
            await engine.originate("5551234", context="fixture", exten="talk", linkedid="late-1")
        assert names(await call_events(bus, "late-1")) == ["CallDialing", "CallFailed"]
        # Asterisk placed it after all: its channel is hung up on sight, not adopted (the lead may be retried).
        fake.sessions[-1].send(
            block(
                ("Event", "Newchannel"),
                ("Channel", "Local/5551234@outbound-00000001;1"),
                ("Uniqueid", "late-1"),
                ("Linkedid", "late-1"),
            )
        )
        await until(lambda: "hangup" in fake.sessions[-1].names(), what="the hangup of the late channel")
        assert fake.sessions[-1].actions[-1]["channel"] == "Local/5551234@outbound-00000001;1"
        assert "late-1" not in engine.calls


async def test_pbx_restart_mid_call_ends_the_call_as_lost(bus: InProcessBus, metrics: Metrics) -> None:
    stack = contextlib.AsyncExitStack()
    first = await stack.enter_async_context(running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED))
    port = first.port
    async with running_engine(port, bus, metrics) as engine:
        linkedid = await engine.originate("5551234", **LONG_CALL)
        await until(
            lambda: engine.calls.get(linkedid, None) is not None and engine.calls[linkedid].phase is CallPhase.ANSWERED,
            what="the answer",
        )
        assert gauge(metrics, CONNECTED) == 1 and gauge(metrics, LIVE) == 1

        await stack.aclose()  # the PBX goes away mid-call
        await until(lambda: gauge(metrics, CONNECTED) == 0, what="ami_connected 0")
        assert linkedid in engine.calls  # not judged while we cannot see: the resync decides

        async with running_pbx_sim(PbxSimSettings(), port=port, speed=SPEED):
            started = time.monotonic()
            await until(lambda: engine.resyncs >= 2, what="reconnect and resync")
            assert time.monotonic() - started < 1.5  # within the backoff cap (0.4 s) plus a connect
            assert gauge(metrics, CONNECTED) == 1
            events = await call_events(bus, linkedid)
            assert names(events) == ["CallDialing", "CallRinging", "CallAnswered", "CallEnded"]
            ended = events[-1]
            assert isinstance(ended, ev.CallEnded)
            assert ended.cause is None and ended.cause_text == LOST_CAUSE_TEXT and ended.hung_up_by == "system"
            assert not engine.calls and gauge(metrics, LIVE) == 0


async def test_ami_drop_keeps_the_live_call(sim: PbxSim, bus: InProcessBus, metrics: Metrics) -> None:
    async with running_engine(sim.port, bus, metrics) as engine:
        linkedid = await engine.originate("5551234", **LONG_CALL)
        await until(lambda: linkedid in engine.calls and engine.calls[linkedid].phase is CallPhase.ANSWERED)
        channels = set(engine.calls[linkedid].channels)
        for session in list(sim.ami.sessions):
            session.abort()  # the TCP connection drops; the PBX and the call live on
        await until(lambda: engine.resyncs >= 2 and engine.connection.connected, what="reconnect and resync")
        assert engine.calls[linkedid].phase is CallPhase.ANSWERED and engine.calls[linkedid].channels == channels
        assert names(await call_events(bus, linkedid)) == ["CallDialing", "CallRinging", "CallAnswered"]
        assert await engine.hangup_call(linkedid)
        events = await outcome(bus, linkedid)
        assert isinstance(events[-1], ev.CallEnded) and events[-1].cause == 16


async def test_our_restart_adopts_the_live_call(sim: PbxSim, bus: InProcessBus, metrics: Metrics) -> None:
    async with running_engine(sim.port, bus, metrics) as before:
        linkedid = await before.originate("5551234", **LONG_CALL)
        await until(lambda: linkedid in before.calls and before.calls[linkedid].phase is CallPhase.ANSWERED)
    published = len(await call_events(bus))

    fresh = Metrics()
    async with running_engine(sim.port, bus, fresh) as after:
        call = after.calls[linkedid]
        assert call.phase is CallPhase.ANSWERED and call.destination == "5551234" and len(call.channels) == 4
        assert gauge(fresh, LIVE) == 1
        assert len(await call_events(bus)) == published  # adoption rebuilds state, it does not republish
        assert await after.hangup_call(linkedid)
        events = await outcome(bus, linkedid)
        assert isinstance(events[-1], ev.CallEnded) and events[-1].cause == 16
        await until(lambda: gauge(fresh, LIVE) == 0)


async def test_redirect_marks_the_call_transferred(bus: InProcessBus, metrics: Metrics) -> None:
    channel = "Local/5551234@outbound-00000001;1"
    async with FakeAmi() as fake, running_engine(fake.port, bus, metrics) as engine:
        fake.sessions[-1].send(
            block(("Event", "Newchannel"), ("Channel", channel), ("Uniqueid", "L1"), ("Linkedid", "L1"))
            + block(("Event", "OriginateResponse"), ("Response", "Success"), ("Uniqueid", "L1"), ("Reason", "4"))
        )
        await until(lambda: "L1" in engine.calls and engine.calls["L1"].phase is CallPhase.ANSWERED)
        await engine.redirect(channel, "fixture", "transfer-target")
        assert fake.sessions[-1].actions[-1] | {"actionid": ""} == {
            "action": "Redirect",
            "actionid": "",
            "channel": channel,
            "context": "fixture",
            "exten": "transfer-target",
            "priority": "1",
        }
        transferred = (await call_events(bus, "L1"))[-1]
        assert isinstance(transferred, ev.CallTransferred) and transferred.target == "transfer-target@fixture"
        assert engine.calls["L1"].phase is CallPhase.TRANSFERRED


async def test_queue_pause_and_members(sim: PbxSim, bus: InProcessBus, metrics: Metrics) -> None:
    agent3 = "Local/agent3@sim-agents/n"  # a member of both queues of the simulator's world
    async with running_engine(sim.port, bus, metrics) as engine:
        assert engine.queues.available is True
        assert {queue for queue, interface in engine.queues.members if interface == agent3} == {"sales", "support"}
        await engine.queue_pause(agent3, True, reason="lunch", queue="sales")
        await until(lambda: engine.queues.members[("sales", agent3)].paused, what="QueueMemberPause")
        assert engine.queues.members[("sales", agent3)].paused_reason == "lunch"
        assert not engine.queues.members[("support", agent3)].paused
        await engine.queue_pause(agent3, False)  # in all its queues
        await until(lambda: not engine.queues.members[("sales", agent3)].paused, what="the unpause")
        with pytest.raises(AmiActionError):
            await engine.queue_pause("Local/nobody@sim-agents/n", True, queue="sales")
