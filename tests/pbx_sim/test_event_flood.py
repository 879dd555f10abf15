"""ami-event-flood: twenty Originates sent back to back, every customer answering; 2,082 events interleaved with
the twenty responses.

The twenty calls run at the same moment, so which one takes the next Local counter, Uniqueid or bridge is a race
in Asterisk: channels, Uniqueids and bridges are named after their call (``renumber``, see compare.Normaliser).
Everything else is compared as in the other replays: the responses in order, each channel's events in order,
the events of each instant, and every event's fields.
"""

from __future__ import annotations

from collections import Counter

from pbx_sim.app import PbxSim
from tests.pbx_sim.amiclient import replay
from tests.pbx_sim.compare import (
    check_bursts,
    check_per_channel,
    check_responses,
    check_shapes,
    check_whole_seconds,
    events,
    responses,
)
from tests.pbx_sim.conftest import SPEED
from tests.pbx_sim.fixtures import capture


async def test_twenty_originates_back_to_back_replay(sim: PbxSim) -> None:
    cap = capture("ami-event-flood")
    client = await replay(sim.port, cap, SPEED)

    want, got = events(cap.received, renumber=True), events(client.messages, renumber=True)
    problems = [
        *check_responses(responses(cap.received), responses(client.messages)),
        *check_shapes(client.messages),
        *check_per_channel(want, got),
        *check_bursts(want, got),
        *check_whole_seconds(cap.received, client.messages),
    ]
    assert not problems, "\n".join(problems)
    counts = Counter(m.event for m in client.messages if m.event)
    assert counts["OriginateResponse"] == 20 and counts["Newchannel"] == 80 and counts["Hangup"] == 80
    assert not client.eof and sim.pbx.task_failures == 0
