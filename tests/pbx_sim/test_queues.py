"""Queues in the simulated world: who is rung, in what order, and what callers and agents see on AMI.

Each test builds a small world: customers who answer at once and stay on the line, agents' phones with set
behaviour, one queue ``q`` reached by ``Originate ... Context=to-queue Exten=q``.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim
from pbx_sim.world import parse_world
from tests.pbx_sim.amiclient import RawClient, block, replay
from tests.pbx_sim.conftest import SPEED as TEST_SPEED
from tests.pbx_sim.fixtures import Received, capture

SPEED = 25.0  # a 1 s ring takes 40 ms; margins of several simulated seconds survive a slow event loop

BASE = """
[[customer]]
match = "_X."
answer = 1
ring = 0.2
talk = 600
talk_variable = "TALK"

[[dialplan]]
context = "to-queue"
exten = "q"
steps = ["Answer()", "Queue(q,t,,,{wait})", "NoOp(QUEUESTATUS=${{QUEUESTATUS}})", "Hangup()"]
"""


def _phone(name: str, ring: float | str = 1, talk: float = 3, outcome: str = "answer") -> str:
    return f'[[phone]]\nmatch = "{name}"\n{outcome} = 1\nring = {ring}\ntalk = {talk}\n'


def _queue(strategy: str, members: int, timeout: float = 15) -> str:
    listed = ", ".join(f'"Local/agent{i}@sim-agents/n,0,Agent {i}"' for i in range(1, members + 1))
    return f'[[queue]]\nname = "q"\nstrategy = "{strategy}"\ntimeout = {timeout}\nretry = 2\nmembers = [{listed}]\n'


@asynccontextmanager
async def world(
    text: str, tmp_path: Path, *, seed: int = 1, wait: int = 120
) -> AsyncIterator[tuple[PbxSim, RawClient]]:
    loaded = parse_world(tomllib.loads(BASE.format(wait=wait) + text))
    settings = PbxSimSettings(seed=seed, recordings_dir=tmp_path)
    async with running_pbx_sim(settings, port=0, speed=SPEED, world=loaded) as sim:
        client = await RawClient.connect(sim.port)
        await client.login()
        try:
            yield sim, client
        finally:
            await client.close()
            assert sim.pbx.task_failures == 0


def call(client: RawClient, n: int, *variables: str, exten: str = "q") -> None:
    client.send(
        block(
            ("Action", "Originate"),
            ("ActionID", f"call-{n}"),
            ("Channel", f"Local/10{n}@outbound"),
            ("Context", "to-queue"),
            ("Exten", exten),
            ("Priority", "1"),
            ("CallerID", f'"Caller {n}" <10{n}>'),
            ("Async", "true"),
            *(("Variable", v) for v in variables),
        )
    )


def of_call(n: int) -> object:
    return lambda m: m.get("Channel").startswith(f"Local/10{n}@outbound")


async def until(client: RawClient, event: str, n: int, within: float = 5.0) -> Received:
    test = of_call(n)
    assert callable(test)
    return await client.wait_for(lambda m: m.event == event and test(m), within)


async def sleep(client: RawClient, simulated: float) -> None:
    await client.read_for(simulated / SPEED)


def members(client: RawClient, *events: str) -> list[tuple[str, str]]:
    return [(m.event or "", m.get("MemberName")) for m in client.messages if m.event in events]


async def _rr_or_lr(strategy: str, tmp_path: Path) -> list[str]:
    """agent1 talks 9 s, agent2 2 s; calls 1 and 2 overlap (agent2 ends 3 s earlier), then 3 and 4 one by one."""
    phones = _phone("agent1", talk=9) + _phone("agent2", talk=2)
    async with world(phones + _queue(strategy, 2), tmp_path) as (_, client):
        call(client, 1)
        await until(client, "AgentConnect", 1)
        await sleep(client, 2)
        call(client, 2)
        await until(client, "AgentComplete", 2)
        await until(client, "AgentComplete", 1, within=10)
        for n in (3, 4):
            call(client, n)
            await until(client, "AgentComplete", n, within=10)
        return [name for _, name in members(client, "AgentConnect")]


async def test_rrmemory_goes_round_from_where_it_stopped(tmp_path: Path) -> None:
    order = await _rr_or_lr("rrmemory", tmp_path)
    assert order == ["Agent 1", "Agent 2", "Agent 1", "Agent 2"], order


async def test_leastrecent_rings_whose_last_call_ended_longest_ago(tmp_path: Path) -> None:
    # agent2's call ended before agent1's: call 3 goes to agent2, call 4 to agent1.
    order = await _rr_or_lr("leastrecent", tmp_path)
    assert order == ["Agent 1", "Agent 2", "Agent 2", "Agent 1"], order


async def test_ringall_rings_every_free_member_and_the_first_to_answer_wins(tmp_path: Path) -> None:
    phones = _phone("agent1", ring=2) + _phone("agent2", ring=1) + _phone("agent3", ring=3)
    async with world(phones + _queue("ringall", 3), tmp_path) as (_, client):
        for n in (1, 2):
            call(client, n)
            await until(client, "AgentComplete", n, within=10)
        calls = members(client, "AgentCalled", "AgentConnect")
        per_call = [calls[:4], calls[4:]]
        for part in per_call:
            assert sorted(part[:3]) == [("AgentCalled", f"Agent {i}") for i in (1, 2, 3)]
            assert part[3] == ("AgentConnect", "Agent 2")
        cancelled = [m.get("DestChannel") for m in client.messages if m.get("DialStatus") == "CANCEL"]
        assert len(cancelled) == 4 and all("agent2" not in c for c in cancelled)
        # Every member channel of the losers is hung up; their member status goes back to 1 (not in use).
        status = [(m.get("MemberName"), m.get("Status")) for m in client.messages if m.event == "QueueMemberStatus"]
        assert status.count(("Agent 1", "2")) == status.count(("Agent 1", "1")) == 2


async def test_a_declined_call_gives_ring_no_answer_and_rings_the_next_member(tmp_path: Path) -> None:
    phones = _phone("agent1", ring=1, outcome="refuse") + _phone("agent2", ring=1)
    async with world(phones + _queue("rrmemory", 2), tmp_path) as (_, client):
        call(client, 1)
        connect = await until(client, "AgentConnect", 1)
        assert connect.get("MemberName") == "Agent 2"
        seen = [
            (m.event, m.get("MemberName") or m.get("DialStatus"))
            for m in client.messages
            if m.event in ("AgentCalled", "AgentRingNoAnswer", "AgentConnect")
            or (m.event == "DialEnd" and "agent" in m.get("DestChannel"))
        ]
        assert seen == [
            ("AgentCalled", "Agent 1"),
            ("DialEnd", "BUSY"),
            ("AgentRingNoAnswer", "Agent 1"),
            ("AgentCalled", "Agent 2"),
            ("DialEnd", "ANSWER"),
            ("AgentConnect", "Agent 2"),
        ]
        (rna,) = [m for m in client.messages if m.event == "AgentRingNoAnswer"]
        assert 900 <= int(rna.get("RingTime")) <= 1600  # milliseconds (a 1 s ring, give or take the event loop)
        assert rna.get("DestChannel").startswith("Local/agent1@sim-agents-") and rna.get("Queue") == "q"
        called = [m for m in client.messages if m.event == "AgentCalled"]
        assert float(called[1].get("Timestamp")) - float(called[0].get("Timestamp")) < 1.3  # at once, no retry


async def test_a_phone_ringing_out_the_timeout_is_skipped_after_the_retry(tmp_path: Path) -> None:
    phones = _phone("agent1", outcome="no_answer") + _phone("agent2", ring=1)
    async with world(phones + _queue("rrmemory", 2, timeout=4), tmp_path) as (_, client):
        call(client, 1)
        await until(client, "AgentConnect", 1)
        (rna,) = [m for m in client.messages if m.event == "AgentRingNoAnswer"]
        assert rna.get("MemberName") == "Agent 1" and 3900 <= int(rna.get("RingTime")) <= 4300
        ends = [m for m in client.messages if m.event == "DialEnd" and "agent1" in m.get("DestChannel")]
        assert [m.get("DialStatus") for m in ends] == ["NOANSWER"]
        called = [m for m in client.messages if m.event == "AgentCalled"]
        gap = float(called[1].get("Timestamp")) - float(rna.get("Timestamp"))
        assert 1.8 <= gap <= 2.6  # retry = 2


async def test_queue_timeout_and_abandon_positions(tmp_path: Path) -> None:
    async with world(_phone("agent1") + _queue("rrmemory", 1), tmp_path, wait=6) as (_, client):
        await client.action(("Action", "QueuePause"), ("ActionID", "p"), ("Interface", "Local/agent1@sim-agents/n"),
                            ("Paused", "true"), ("Reason", "break"))  # fmt: skip
        call(client, 1, "__TALK=3")  # hangs up while waiting
        await until(client, "QueueCallerJoin", 1)
        call(client, 2)  # waits until the queue gives up (6 s)
        joined = await until(client, "QueueCallerJoin", 2)
        assert (joined.get("Position"), joined.get("Count")) == ("2", "2")
        summary = await client.action(("Action", "QueueStatus"), ("ActionID", "st"))
        assert summary.get("Response") == "Success"
        await client.wait_for(lambda m: m.event == "QueueStatusComplete")
        entries = [(m.get("Position"), m.get("Channel")[:12]) for m in client.messages if m.event == "QueueEntry"]
        assert entries == [("1", "Local/101@ou"), ("2", "Local/102@ou")]

        abandon = await until(client, "QueueCallerAbandon", 1)
        assert (abandon.get("Position"), abandon.get("OriginalPosition")) == ("1", "1")
        assert int(abandon.get("HoldTime")) in (3, 4)
        left = await until(client, "QueueCallerLeave", 2, within=8)
        assert (left.get("Position"), left.get("Count")) == ("1", "0")
        status = await client.wait_for(lambda m: m.event == "Newexten" and "QUEUESTATUS" in m.get("AppData"))
        assert status.get("AppData") == "QUEUESTATUS=TIMEOUT"
        assert not [m for m in client.messages if m.event == "QueueCallerAbandon" and of_call(2)(m)]  # type: ignore[operator]
        summary = await client.action(("Action", "QueueSummary"), ("ActionID", "sum"))
        assert summary.get("Response") == "Success"
        (line,) = [m for m in await _list(client, "QueueSummaryComplete") if m.event == "QueueSummary"]
        assert (line.get("LoggedIn"), line.get("Available"), line.get("Callers")) == ("1", "0", "0")


async def _list(client: RawClient, complete: str) -> list[Received]:
    await client.wait_for(lambda m: m.event == complete)
    return client.messages


async def test_the_same_seed_gives_the_same_calls(tmp_path: Path) -> None:
    phones = '[[phone]]\nmatch = "_[a][g][e][n][t]."\nanswer = 0.6\nrefuse = 0.4\nring = [1, 3]\ntalk = [1, 3]\n'

    async def run(seed: int) -> list[tuple[str, str]]:
        async with world(phones + _queue("rrmemory", 3), tmp_path, seed=seed) as (_, client):
            for n in range(1, 6):
                call(client, n)
                await until(client, "AgentComplete", n, within=10)
            return members(client, "AgentCalled", "AgentRingNoAnswer", "AgentConnect")

    first = await run(5)
    assert ("AgentRingNoAnswer", "Agent 1") in first or ("AgentRingNoAnswer", "Agent 2") in first
    assert await run(5) == first
    assert await run(6) != first


async def test_queue_lists_come_in_asterisks_order(fixture_sim: PbxSim) -> None:
    """QueueStatus / QueueSummary list the queues in hash order (support before sales) and members in the order
    they joined, entry for entry as ami-queue-member-ops."""
    cap = capture("ami-queue-member-ops")
    client = await replay(fixture_sim.port, cap, TEST_SPEED)

    def listed(received: list[Received], action_id: str) -> list[tuple[str, str, str]]:
        return [
            (m.event or "", m.get("Queue"), m.get("Name") or m.get("LoggedIn"))
            for m in received
            if m.event and m.get("ActionID") == action_id
        ]

    for action_id in ("31-queuesummary", "32-queuestatus", "36-queuesummary", "37-queuestatus"):
        assert listed(client.messages, action_id) == listed(cap.received, action_id)
    unknown = await _fresh_action(fixture_sim, ("Action", "QueueAdd"), ("Queue", "nosuch"), ("Interface", "Local/x@y"))
    assert unknown.get("Message") == "Unable to add interface to queue: No such queue"
    static = await _fresh_action(fixture_sim, ("Action", "QueueRemove"), ("Queue", "sales"),
                                 ("Interface", "Local/agent1@sim-agents/n"))  # fmt: skip
    assert static.get("Message") == "Member not dynamic"


async def _fresh_action(sim: PbxSim, *fields: tuple[str, str]) -> Received:
    client = await RawClient.connect(sim.port)
    await client.login()
    reply = await client.action(*fields, ("ActionID", "x"))
    await client.close()
    return reply
