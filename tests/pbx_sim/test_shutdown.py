"""The simulated Asterisk goes down and comes back in the same process, as in ami-reconnect.

The capture has two TCP connections: the first one logs in and places a call; at the ``###`` note "core stop
now" the capture tool stopped Asterisk (here: :meth:`PbxSim.stop`), which hangs the call up, sends
``Event: Shutdown`` and closes the socket; a reconnect is refused; Asterisk is started again (:meth:`PbxSim.start`)
and a second connection logs in and lists no channels. Both connections together are compared with the capture.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim
from tests.pbx_sim.amiclient import BANNER, RawClient, block, wire
from tests.pbx_sim.compare import (
    check_bursts,
    check_per_channel,
    check_responses,
    check_shapes,
    check_whole_seconds,
    events,
    responses,
)
from tests.pbx_sim.fixtures import Capture, Received, capture

REPLAY_SPEED = 5.0  # conftest.SPEED (20) is too fast for this replay: see slow_sim


def _connections(cap: Capture) -> list[list[tuple[float, str]]]:
    """The blocks the client sent, per TCP connection (each one starts at a "client opens" note)."""
    out: list[list[tuple[float, str]]] = []
    for direction, t, text in cap.blocks:
        if direction == "###" and "client opens TCP connection" in text:
            out.append([])
        elif direction == ">>>":
            out[-1].append((t, text))
    return out


async def _send_at(client: RawClient, blocks: list[tuple[float, str]], start: float) -> None:
    """Send each block at its capture time (divided by REPLAY_SPEED, from ``start``), reading meanwhile."""
    for t, text in blocks:
        await client.read_for(t / REPLAY_SPEED - (time.monotonic() - start))
        client.send(wire(text))


@pytest.fixture
async def slow_sim(tmp_path: Path) -> AsyncIterator[PbxSim]:
    """The "core stop now" comes 0.5 s after the answer and 1 s before the tone ends: at the suite's speed those
    are 25 and 50 ms of real time, less than a pause of a busy test machine, hence a slower clock here."""
    async with running_pbx_sim(PbxSimSettings(recordings_dir=tmp_path), port=0, speed=REPLAY_SPEED) as running:
        yield running


async def test_core_stop_now_and_restart_replay(slow_sim: PbxSim) -> None:
    sim = slow_sim
    cap = capture("ami-reconnect")
    first, second = _connections(cap)
    stop_at = cap.note_time("core stop now")
    assert stop_at is not None
    start = time.monotonic()

    before = await RawClient.connect(sim.port)
    await _send_at(before, first, start)
    # "one answered call is up": a pause of the test process (a garbage collection) must not stop it earlier
    await before.wait_for(lambda m: m.event == "OriginateResponse")
    await before.read_for(stop_at / REPLAY_SPEED - (time.monotonic() - start))
    stopping = asyncio.create_task(sim.stop())
    await before.read_for(5.0)  # until Asterisk closes the connection
    await stopping
    assert before.eof and before.messages[-1].event == "Shutdown"

    with pytest.raises(ConnectionRefusedError):  # "reconnect attempt failed" while it is down
        await RawClient.connect(sim.port)
    await sim.start()

    after = await RawClient.connect(sim.port)
    assert before.banner == after.banner == BANNER
    await _send_at(after, second, start)
    await after.read_for(cap.end / REPLAY_SPEED - (time.monotonic() - start) + 0.3)
    await after.close()

    got_all = before.messages + after.messages
    want, got = events(cap.received), events(got_all)
    problems = [
        *check_responses(responses(cap.received), responses(got_all)),
        *check_shapes(got_all),
        *check_per_channel(want, got),
        *check_bursts(want, got),
        *check_whole_seconds(cap.received, got_all),
    ]
    assert not problems, "\n".join(problems)
    assert sim.pbx.task_failures == 0


def _by_event(messages: list[Received], name: str) -> list[Received]:
    return [m for m in messages if m.event == name]


async def _call_up(client: RawClient, action_id: str) -> None:
    client.send(
        block(
            ("Action", "Originate"),
            ("ActionID", action_id),
            ("Channel", "Local/5551234@outbound"),
            ("Context", "fixture"),
            ("Exten", "talk"),
            ("Async", "true"),
            ("Variable", "__TALK=60"),
        )
    )
    reply = await client.wait_for(lambda m: m.event == "OriginateResponse" and m.get("ActionID") == action_id)
    assert reply.get("Response") == "Success"


async def test_stop_hangs_up_every_call_and_shutdown_says_cleanly(sim: PbxSim) -> None:
    client = await RawClient.connect(sim.port)
    await client.login()
    await _call_up(client, "call")
    assert len(sim.pbx.channels()) == 4

    await sim.stop()
    await client.read_for(2.0)
    assert client.eof and not sim.pbx.channels()
    assert {m.get("Channel") for m in _by_event(client.messages, "Hangup")} == {
        "Local/5551234@outbound-00000000;1",
        "Local/5551234@outbound-00000000;2",
        "Local/5551234@sim-00000001;1",
        "Local/5551234@sim-00000001;2",
    }
    shutdown = client.messages[-1]
    assert shutdown.fields[3:] == [("Shutdown", "Cleanly"), ("Restart", "False")]
    assert len(_by_event(client.messages, "Cdr")) == 3


async def test_restart_boots_a_fresh_pbx_on_the_same_port(sim: PbxSim) -> None:
    port = sim.port
    client = await RawClient.connect(port)
    await client.login()
    await _call_up(client, "one")

    await sim.restart()
    await client.read_for(2.0)
    assert client.eof and client.messages[-1].fields[3:] == [("Shutdown", "Cleanly"), ("Restart", "True")]

    again = await RawClient.connect(port)
    await again.login()
    booted = await again.wait_for(lambda m: m.event == "FullyBooted")
    assert booted.get("Uptime") == "0"
    await _call_up(again, "two")  # counters start again from 0, as after Asterisk's restart
    channels = {m.get("Channel") for m in _by_event(again.messages, "Newchannel")}
    assert "Local/5551234@outbound-00000000;1" in channels
    await again.close()


async def test_leaving_the_simulator_with_calls_up_is_an_unclean_shutdown(sim: PbxSim) -> None:
    client = await RawClient.connect(sim.port)
    await client.login()
    await _call_up(client, "live")

    await sim.stop(hang_up=False)  # what leaving running_pbx_sim does: Asterisk ending on SIGTERM
    await client.read_for(2.0)
    assert client.eof
    assert not _by_event(client.messages, "Hangup")  # nobody hung the call up: it is lost with the PBX
    assert client.messages[-1].fields[3:] == [("Shutdown", "Uncleanly"), ("Restart", "False")]
