"""Local channel optimization beyond the capture (ami-local-optimization, replayed in test_scenarios): the
originated channel stays when the Originate asked for ``/n``, when a MixMonitor records it or while nobody on the
call makes a sound; the dialer then keeps following the call by the name OriginateResponse gave."""

from __future__ import annotations

from pathlib import Path

from tests.pbx_sim.amiclient import RawClient, block
from tests.pbx_sim.test_queues import _phone, sleep, world

DIALPLAN = """
[[dialplan]]
context = "to-queue"
exten = "direct"
steps = ["Dial(Local/agent1@sim-agents,20)", "Hangup()"]

[[dialplan]]
context = "to-queue"
exten = "recorded"
steps = ["MixMonitor(${UNIQUEID}.wav)", "Dial(Local/agent1@sim-agents,20)", "Hangup()"]
"""


def originate(client: RawClient, channel: str, exten: str) -> None:
    client.send(
        block(
            ("Action", "Originate"),
            ("ActionID", "call"),
            ("Channel", channel),
            ("Context", "to-queue"),
            ("Exten", exten),
            ("Priority", "1"),
            ("Async", "true"),
        )
    )


TALKING_AGENT = '[[phone]]\nmatch = "agent1"\nanswer = 1\nring = 1\ntalk = 30\nplayback = "custom/tone"\n'


async def _originated_channel_after_agent_answers(
    channel: str, exten: str, tmp_path: Path, agent: str = TALKING_AGENT
) -> tuple[str, str]:
    """(the Status reply's Response for the originated ;1 two seconds after the agent answered, events seen)."""
    async with world(DIALPLAN + agent, tmp_path) as (_, client):
        originate(client, channel, exten)
        answered = await client.wait_for(lambda m: m.event == "OriginateResponse")
        one = answered.get("Channel")
        await client.wait_for(lambda m: m.event == "BridgeEnter" and m.get("Channel") == one)
        await sleep(client, 2)
        status = await client.action(("Action", "Status"), ("ActionID", "status"), ("Channel", one))
        return status.get("Response"), " ".join(m.event or "" for m in client.messages)


async def test_a_plain_local_pair_bridged_on_both_sides_is_optimized_away(tmp_path: Path) -> None:
    response, seen = await _originated_channel_after_agent_answers("Local/101@outbound", "direct", tmp_path)
    assert "LocalOptimizationBegin" in seen
    assert response == "Error"


async def test_n_option_keeps_the_originated_channel(tmp_path: Path) -> None:
    response, seen = await _originated_channel_after_agent_answers("Local/101@outbound/n", "direct", tmp_path)
    assert "LocalOptimization" not in seen
    assert response == "Success"


async def test_mixmonitor_on_the_originated_channel_keeps_it(tmp_path: Path) -> None:
    response, seen = await _originated_channel_after_agent_answers("Local/101@outbound", "recorded", tmp_path)
    assert "MixMonitorStart" in seen
    assert "LocalOptimization" not in seen
    assert response == "Success"


async def test_a_pair_nobody_speaks_through_stays(tmp_path: Path) -> None:
    silent_agent = _phone("agent1", ring=1, talk=30)
    response, seen = await _originated_channel_after_agent_answers(
        "Local/101@outbound", "direct", tmp_path, silent_agent
    )
    assert "LocalOptimization" not in seen
    assert response == "Success"
