"""Attended transfer, ChanSpy and AMD beyond their captures (ami-atxfer, ami-chanspy-listen-whisper-barge, ami-amd
are replayed in test_scenarios): what a dialer sees when a transfer fails, and the world's machines."""

from __future__ import annotations

from pathlib import Path

from tests.pbx_sim.amiclient import RawClient, block
from tests.pbx_sim.test_queues import _phone, _queue, call, sleep, until, world

XFER = """
[features]
atxfer = "*2"

[[dialplan]]
context = "xfer"
exten = "200"
steps = ["Dial(Local/agent2@sim-agents,20)", "Hangup()"]
"""


async def _atxfer(client: RawClient, channel: str, exten: str) -> str:
    reply = await client.action(
        ("Action", "Atxfer"), ("ActionID", "xfer"), ("Channel", channel), ("Exten", exten), ("Context", "xfer")
    )
    return reply.get("Message")


async def test_a_transfer_the_target_declines_gives_the_caller_back_to_the_agent(tmp_path: Path) -> None:
    phones = _phone("agent1", ring=1, talk=60) + _phone("agent2", ring=1, outcome="refuse")
    async with world(XFER + phones + _queue("rrmemory", 1), tmp_path) as (_, client):
        call(client, 1)
        connect = await until(client, "AgentConnect", 1)
        agent = connect.get("DestChannel")
        caller_bridge = await client.wait_for(lambda m: m.event == "BridgeEnter" and m.get("Channel") == agent)
        assert await _atxfer(client, agent, "200") == "Atxfer successfully queued"
        await client.wait_for(lambda m: m.event == "Unhold" and m.get("Channel") == agent, 10)
        back = [m for m in client.messages if m.event == "BridgeEnter" and m.get("Channel") == agent][-1]
        assert back.get("BridgeUniqueid") == caller_bridge.get("BridgeUniqueid")
        names = [m.event for m in client.messages]
        assert "Hold" in names and "AttendedTransfer" not in names
        assert any(m.event == "MusicOnHoldStop" and m.get("Channel") == connect.get("Channel") for m in client.messages)


async def test_atxfer_without_a_feature_code_is_refused(tmp_path: Path) -> None:
    async with world(_phone("agent1", ring=1, talk=60) + _queue("rrmemory", 1), tmp_path) as (_, client):
        call(client, 1)
        agent = (await until(client, "AgentConnect", 1)).get("DestChannel")
        assert await _atxfer(client, agent, "200") == "No attended transfer feature code found"
        assert "DTMFEnd" not in [m.event for m in client.messages]


SUPERVISOR = """
[[customer]]
match = "supervisor"
answer = 1
ring = 0
talk = 600
"""
MUSIC_AGENT = """
[[dialplan]]
context = "sim-agents"
exten = "agent1"
steps = ["Ringing()", "Wait(1)", "Answer()", "MusicOnHold(default,8)", "Hangup()"]
"""


async def _spy_then_hang_up(client: RawClient) -> tuple[str, str]:
    """A supervisor spies on call 1's agent leg and is hung up by AMI: (the agent leg, the supervisor's channel)."""
    call(client, 1)
    agent = (await until(client, "AgentConnect", 1)).get("DestChannel")
    client.send(
        block(
            ("Action", "Originate"),
            ("ActionID", "spy"),
            ("Channel", "Local/supervisor@sim"),
            ("Application", "ChanSpy"),
            ("Data", f"{agent},q"),
            ("Async", "true"),
        )
    )
    start = await client.wait_for(lambda m: m.event == "ChanSpyStart")
    assert start.get("SpyeeChannel") == agent
    spyer = start.get("SpyerChannel")
    reply = await client.action(("Action", "Hangup"), ("ActionID", "kill"), ("Channel", spyer))
    assert reply.get("Message") == "Channel Hungup"
    return agent, spyer


def _gone(client: RawClient, chan: str) -> bool:
    return any(m.event == "Hangup" and m.get("Channel") == chan for m in client.messages)


async def test_a_supervisor_spying_on_a_call_with_audio_hangs_up_at_once(tmp_path: Path) -> None:
    async with world(SUPERVISOR + MUSIC_AGENT + _queue("rrmemory", 1), tmp_path) as (_, client):
        _, spyer = await _spy_then_hang_up(client)
        await client.wait_for(lambda m: m.event == "Hangup" and m.get("Channel") == spyer)
        assert any(m.event == "ChanSpyStop" for m in client.messages)


async def test_a_supervisor_spying_on_a_silent_call_stays_until_the_agent_hangs_up(tmp_path: Path) -> None:
    # Asterisk issue #978: ChanSpy only sees its own hangup when audio reaches it from the spied channel.
    async with world(SUPERVISOR + _phone("agent1", ring=1, talk=6) + _queue("rrmemory", 1), tmp_path) as (_, client):
        agent, spyer = await _spy_then_hang_up(client)
        await sleep(client, 2)
        assert not _gone(client, spyer)
        assert "ChanSpyStop" not in [m.event for m in client.messages]
        await client.wait_for(lambda m: m.event == "Hangup" and m.get("Channel") == spyer, 10)
        assert _gone(client, agent)


AMD = """
[[customer]]
match = "machine1"
machine = 1
ring = 0.2
talk = 600

[[dialplan]]
context = "to-queue"
exten = "amd"
steps = ["Answer()", "AMD()", "UserEvent(AMDResult,AMDStatus: ${AMDSTATUS},AMDCause: ${AMDCAUSE})", "Hangup()"]
"""


async def test_amd_tells_the_worlds_people_from_its_machines(tmp_path: Path) -> None:
    async with world(AMD, tmp_path) as (_, client):
        call(client, 1, exten="amd")  # 101: the base world's customers are people
        client.send(
            block(
                ("Action", "Originate"),
                ("ActionID", "machine"),
                ("Channel", "Local/machine1@outbound"),
                ("Context", "to-queue"),
                ("Exten", "amd"),
                ("Async", "true"),
            )
        )
        await client.wait_for(lambda m: sum(e.event == "UserEvent" for e in client.messages) == 2, 10)
        results = {
            m.get("Channel").split("@")[0]: (m.get("AMDStatus"), m.get("AMDCause"))
            for m in client.messages
            if m.event == "UserEvent"
        }
        assert results == {
            "Local/101": ("HUMAN", "HUMAN-800-800"),
            "Local/machine1": ("MACHINE", "LONGGREETING-1500-1500"),
        }
