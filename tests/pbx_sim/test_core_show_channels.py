"""ami-core-show-channels, the parts that need no queue (queues come later, see the module docstring).

The capture has two live calls: A goes to ``to-queue,sales`` (MixMonitor, Queue, an agent answers) and B to
``fixture,talk``. Until queues are simulated, A's answered leg runs a stand-in extension that keeps it up, so
every response (CoreShowChannels, Status, Getvar, Setvar, the errors) can be compared in full, and call B's
events, including its CoreShowChannel and Status entries, must be exactly Asterisk's. Call A's queue events and
its agent channels are not compared yet.

Two races of this capture are tolerated. The two Originates were sent 1 ms apart, and which call's Dial took
the next Local counter and Uniqueids is a race (here B's did): channel counters and Uniqueid sequence numbers
are numbered by first appearance. And both ends of call B hang up at the same millisecond (each runs Wait(10)
after the same 1.5 s tone), so that teardown is a mix of "customer hangs up" and "dialer leg hangs up"; the
simulator's timers never tie, so the teardown burst is checked for its result only: every channel of B gone
with cause 16 and three ANSWERED CDRs. ami-originate-answer and -channelid check each teardown order exactly.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

from config.settings import PbxSimSettings
from pbx_sim.app import running_pbx_sim
from pbx_sim.world import Extension, load_world, parse_step, pattern_regex
from tests.pbx_sim.amiclient import replay
from tests.pbx_sim.compare import (
    CHANNEL_KEYS,
    check_bursts,
    check_per_channel,
    check_responses,
    check_shapes,
    events,
    responses,
)
from tests.pbx_sim.conftest import SPEED
from tests.pbx_sim.fixtures import capture

STAND_IN = ["NoOp(customer answered, queueing to sales)", "Answer()", "Wait(10)", "Hangup()"]


def _uncounted(channel: str) -> str:
    return re.sub(r"-[0-9a-f]{8};", ";", channel)


def _call_b(fields: dict[str, str]) -> bool:
    return any("5559876" in fields.get(k, "") for k in CHANNEL_KEYS) or fields.get("ActionID") == "40-originate"


async def test_core_show_channels_without_queues() -> None:
    world = load_world()
    stand_in = Extension("to-queue", "sales", pattern_regex("sales"), tuple(parse_step(s, "test") for s in STAND_IN))
    world = dataclasses.replace(world, extensions=(*world.extensions, stand_in))
    cap = capture("ami-core-show-channels")
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED, world=world) as sim:
        client = await replay(sim.port, cap, SPEED)

    problems = check_responses(responses(cap.received), responses(client.messages))
    problems += check_shapes(client.messages)
    end = 12.0  # the capture's teardown of call B is at 13.82 s
    want = events((m for m in cap.received if m.t < end), _call_b, renumber=True)
    got = events((m for m in client.messages if m.t < end / SPEED), _call_b, renumber=True)
    problems += check_per_channel(want, got)
    problems += check_bursts(want, got)
    assert not problems, "\n".join(problems)

    hangups = [m for m in client.messages if m.event == "Hangup" and _call_b(dict(m.fields))]
    assert sorted(m.get("Channel")[-2:] for m in hangups) == [";1", ";1", ";2", ";2"]
    assert {m.get("Cause") for m in hangups} == {"16"}
    cdrs = [m for m in client.messages if m.event == "Cdr" and _call_b(dict(m.fields))]
    assert [m.get("Disposition") for m in cdrs] == ["ANSWERED"] * 3

    # The lists are whole and say how long they are (Asterisk lists channels in hash order: compare as sets).
    for action_id, entry, complete in (
        ("41-coreshowchannels", "CoreShowChannel", "CoreShowChannelsComplete"),
        ("42-status", "Status", "StatusComplete"),
    ):
        entries = [m for m in client.messages if m.event == entry and m.get("ActionID") == action_id]
        (done,) = [m for m in client.messages if m.event == complete and m.get("ActionID") == action_id]
        assert int(done.get("ListItems")) == len(entries)
        names = Counter(_uncounted(m.get("Channel")) for m in entries)
        expected = Counter(
            _uncounted(m.get("Channel"))
            for m in cap.received
            if m.event == entry and m.get("ActionID") == action_id and "agent" not in m.get("Channel")
        )
        assert names == expected
