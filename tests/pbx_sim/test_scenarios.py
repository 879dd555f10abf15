"""Protocol tests: replay each capture's client side against the simulator and compare with Asterisk's side.

The calls without queues run in the built-in world (which keeps the captures' customers and fixture contexts);
the queue and recording scenarios run in the world of the captures' test PBX (``fixture_world.toml``).
"""

from __future__ import annotations

import pytest

from pbx_sim.app import PbxSim
from tests.pbx_sim.amiclient import BANNER, replay
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

SCENARIOS = [
    "ami-login-ping",
    "ami-login-failed",
    "ami-originate-answer",
    "ami-originate-busy",
    "ami-originate-noanswer",
    "ami-originate-congestion",
    "ami-originate-channelid",
]
QUEUE_SCENARIOS = [
    "ami-queue-member-ops",
    "ami-originate-answer-queue-agent",
    "ami-queue-abandon",
    "ami-mixmonitor-action",
    "ami-hangup-redirect",
]


async def _replay_matches(sim: PbxSim, name: str) -> None:
    cap = capture(name)
    client = await replay(sim.port, cap, SPEED)
    assert client.banner == BANNER
    want, got = events(cap.received), events(client.messages)
    problems = [
        *check_responses(responses(cap.received), responses(client.messages)),
        *check_shapes(client.messages),
        *check_per_channel(want, got),
        *check_bursts(want, got),
        *check_whole_seconds(cap.received, client.messages),
    ]
    assert not problems, "\n".join(problems)
    assert client.eof == cap.server_closes
    assert sim.pbx.task_failures == 0


@pytest.mark.parametrize("name", SCENARIOS)
async def test_replay_matches_capture(sim: PbxSim, name: str) -> None:
    await _replay_matches(sim, name)


@pytest.mark.parametrize("name", QUEUE_SCENARIOS)
async def test_queue_replay_matches_capture(fixture_sim: PbxSim, name: str) -> None:
    await _replay_matches(fixture_sim, name)
