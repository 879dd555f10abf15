"""ami-core-show-channels in full: two live calls, one of them queued to an agent, listed while both are up.

Call A goes to ``to-queue,sales`` (MixMonitor, Queue, agent1 answers, the agent hangs up); call B to
``fixture,talk``. Every response (CoreShowChannels, Status, Getvar, Setvar, the errors) and every event is
compared as in the other replays, with two races of this capture tolerated (see compare.py for the rest):

* The two Originates were sent 1 ms apart, and which call's Dial took the next Local counter and Uniqueids is a
  race (here B's did): channels and Uniqueids are named after their call (``renumber``).
* Both ends of call B hang up at the same millisecond (each runs Wait(10) after the same 1.5 s tone), so that
  teardown is a mix of "customer hangs up" and "dialer leg hangs up"; the simulator's timers never tie, so that
  teardown is checked for its result only: every channel of B gone with cause 16 and three ANSWERED CDRs.
  ami-originate-answer and -channelid check each teardown order exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from config.settings import PbxSimSettings
from pbx_sim.app import running_pbx_sim
from tests.pbx_sim.amiclient import replay
from tests.pbx_sim.compare import (
    CHANNEL_KEYS,
    check_bursts,
    check_per_channel,
    check_responses,
    check_shapes,
    check_whole_seconds,
    events,
    responses,
)
from tests.pbx_sim.conftest import FIXTURE_WORLD, SPEED
from tests.pbx_sim.fixtures import Received, capture

B_TEARDOWN = 9.0  # simulated seconds: call B is silent from 5.5 s until it ends at 13.8 s


def _uncounted(channel: str) -> str:
    return re.sub(r"-[0-9a-f]{8};", ";", channel)


def _is_b(fields: dict[str, str]) -> bool:
    return any("5559876" in fields.get(k, "") for k in CHANNEL_KEYS) or fields.get("ActionID") == "40-originate"


def _without_b_teardown(messages: list[Received], scale: float) -> list[Received]:
    """Every message but those of call B's teardown (B's channels and B's bridge once B_TEARDOWN has passed)."""
    bridges = {m.get("BridgeUniqueid") for m in messages if m.event == "BridgeEnter" and _is_b(dict(m.fields))}
    return [
        m
        for m in messages
        if m.t * scale < B_TEARDOWN or not (_is_b(dict(m.fields)) or m.get("BridgeUniqueid") in bridges)
    ]


async def test_core_show_channels_with_a_queued_call(tmp_path: Path) -> None:
    cap = capture("ami-core-show-channels")
    settings = PbxSimSettings(recordings_dir=tmp_path)
    async with running_pbx_sim(settings, port=0, speed=SPEED, world=FIXTURE_WORLD) as sim:
        client = await replay(sim.port, cap, SPEED)

    problems = check_responses(responses(cap.received), responses(client.messages))
    problems += check_shapes(client.messages)
    theirs, ours = _without_b_teardown(cap.received, 1.0), _without_b_teardown(client.messages, SPEED)
    want, got = events(theirs, renumber=True), events(ours, renumber=True)
    problems += check_per_channel(want, got)
    problems += check_bursts(want, got)
    problems += check_whole_seconds(theirs, ours)
    assert not problems, "\n".join(problems)

    hangups = [m for m in client.messages if m.event == "Hangup" and _is_b(dict(m.fields))]
    assert sorted(m.get("Channel")[-2:] for m in hangups) == [";1", ";1", ";2", ";2"]
    assert {m.get("Cause") for m in hangups} == {"16"}
    cdrs = [m for m in client.messages if m.event == "Cdr" and _is_b(dict(m.fields))]
    assert [m.get("Disposition") for m in cdrs] == ["ANSWERED"] * 3

    # The lists are whole and say how long they are (Asterisk lists channels in hash order: compare as sets).
    for action_id, entry, complete in (
        ("41-coreshowchannels", "CoreShowChannel", "CoreShowChannelsComplete"),
        ("42-status", "Status", "StatusComplete"),
    ):
        entries = [m for m in client.messages if m.event == entry and m.get("ActionID") == action_id]
        (done,) = [m for m in client.messages if m.event == complete and m.get("ActionID") == action_id]
        assert int(done.get("ListItems")) == len(entries) == 10
        names = Counter(_uncounted(m.get("Channel")) for m in entries)
        expected = Counter(
            _uncounted(m.get("Channel")) for m in cap.received if m.event == entry and m.get("ActionID") == action_id
        )
        assert names == expected
    # The recording of the queued call covers its time with the agent (option b).
    assert (tmp_path / f"{_caller_uniqueid(client.messages)}.wav").stat().st_size > 44


def _caller_uniqueid(messages: list[Received]) -> str:
    return next(m.get("Uniqueid") for m in messages if m.event == "OriginateResponse" and "5551234" in m.get("Channel"))
