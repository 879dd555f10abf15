"""Inbound calls arrive at the configured rate (a seeded Poisson process on the simulated clock) and queue."""

from __future__ import annotations

import random
import statistics
import tomllib
from pathlib import Path

from config.settings import PbxSimSettings
from pbx_sim.app import running_pbx_sim
from pbx_sim.core.inbound import next_gap
from pbx_sim.world import parse_world
from tests.pbx_sim.amiclient import RawClient
from tests.pbx_sim.test_queues import SPEED as QUEUE_SPEED
from tests.pbx_sim.test_queues import _phone, _queue, world

CHEAP = """
[[inbound]]
context = "in"
exten = "s"
rate = 720
number = "0212XXXXXXX"

[[dialplan]]
context = "in"
exten = "s"
steps = ["Answer()", "Wait(1)", "Hangup()"]
"""


def test_gaps_are_exponential_with_the_mean_of_the_rate() -> None:
    rng = random.Random(3)
    gaps = [next_gap(rng, 120) for _ in range(20_000)]  # 120 an hour: one every 30 s
    mean = statistics.fmean(gaps)
    assert abs(mean - 30) < 0.9
    assert abs(statistics.stdev(gaps) / mean - 1) < 0.05  # exponential: sd = mean


async def _arrivals(tmp_path: Path, seed: int, seconds: float, speed: float) -> tuple[list[float], list[str]]:
    settings = PbxSimSettings(seed=seed, recordings_dir=tmp_path)
    async with running_pbx_sim(settings, port=0, speed=speed, world=parse_world(tomllib.loads(CHEAP))) as sim:
        client = await RawClient.connect(sim.port)
        await client.login()
        await client.read_for(seconds / speed)
        await client.close()
        assert sim.traffic is not None and sim.pbx.task_failures == 0
        window = [at for at, _ in sim.traffic.arrivals if at <= seconds]
    callers = [m.get("LocalOneCallerIDNum") for m in client.messages if m.event == "LocalBridge"]
    return window, callers


async def test_arrivals_follow_the_rate_on_a_fast_clock(tmp_path: Path) -> None:
    arrivals, callers = await _arrivals(tmp_path, seed=1, seconds=900, speed=600)
    # 720 an hour for 15 simulated minutes: 180 expected (Poisson: sd 13.4).
    assert 140 <= len(arrivals) <= 220, len(arrivals)
    assert abs(len(callers) - len(arrivals)) <= 3  # every arrival is a real call on AMI
    assert all(len(c) == 11 and c.startswith("0212") for c in callers)
    again, _ = await _arrivals(tmp_path, seed=1, seconds=120, speed=600)
    assert again == arrivals[: len(again)]  # the same seed, the same arrival times
    other, _ = await _arrivals(tmp_path, seed=2, seconds=120, speed=600)
    assert other[:5] != again[:5]


async def test_inbound_callers_queue_and_abandon_when_nobody_is_free(tmp_path: Path) -> None:
    inbound = '[[inbound]]\nexten = "q"\nrate = 600\npatience = 6\ntalk = 4\n'
    async with world(inbound + _phone("agent1", ring=1, talk=15) + _queue("rrmemory", 1), tmp_path) as (_, client):
        await client.read_for(90 / QUEUE_SPEED)  # 15 calls expected
    joins = [m for m in client.messages if m.event == "QueueCallerJoin"]
    connects = [m for m in client.messages if m.event == "AgentConnect"]
    abandons = [m for m in client.messages if m.event == "QueueCallerAbandon"]
    assert len(joins) >= 8
    assert connects and abandons
    assert all(m.get("Channel").startswith("Local/q@to-queue-") and m.get("Channel").endswith(";2") for m in joins)
    assert all(int(m.get("HoldTime")) in (5, 6, 7) for m in abandons)  # patience 6 s, counted from the arrival
