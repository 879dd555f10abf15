"""Bad clients never crash the simulator or hold up its other clients."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator

import pytest

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim
from tests.pbx_sim.amiclient import RawClient, block
from tests.pbx_sim.conftest import SPEED


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """Exceptions that reached the event loop (a crashed session or connection handler)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


async def _still_serving(port: int) -> None:
    client = await RawClient.connect(port)
    await client.login()
    pong = await client.action(("Action", "Ping"), ("ActionID", "alive"))
    assert pong.get("Ping") == "Pong"
    await client.close()


async def test_garbage_then_valid_messages(sim: PbxSim, loop_errors: list[dict[str, object]]) -> None:
    client = await RawClient.connect(sim.port)
    client.send(bytes(range(256)) * 20 + b"\r\n\r\n\x00\xff\xfe\r\n\r\n")
    await client.login()
    pong = await client.action(("Action", "Ping"), ("ActionID", "p"))
    assert pong.get("Ping") == "Pong"
    await client.close()
    await _still_serving(sim.port)
    assert not loop_errors and sim.pbx.task_failures == 0


async def test_partial_message_then_disconnect(sim: PbxSim, loop_errors: list[dict[str, object]]) -> None:
    for partial in (b"Action: Orig", b"Action: Login\r\nUsername: dialer\r\n", b"\r\n\r\nAction: Ping\r"):
        client = await RawClient.connect(sim.port)
        client.send(partial)
        await client.close()
    logged_in = await RawClient.connect(sim.port)
    await logged_in.login()
    logged_in.send(b"Action: Originate\r\nChannel: Local/5551234@outbound\r\nContext: fix")
    logged_in.writer.transport.abort()
    await asyncio.sleep(0.05)
    await _still_serving(sim.port)
    assert not sim.ami.sessions or all(s.authenticated or s.parser.pending_bytes == 0 for s in sim.ami.sessions)
    assert not loop_errors


@pytest.fixture
async def small_queue_sim() -> AsyncIterator[PbxSim]:
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED, max_pending=5000, write_timeout=0.5) as running:
        yield running


async def test_client_that_never_reads_is_cut_off(
    small_queue_sim: PbxSim, loop_errors: list[dict[str, object]]
) -> None:
    sim = small_queue_sim
    stalled = await RawClient.connect(sim.port, rcvbuf=4096)
    await stalled.login()
    session = next(s for s in sim.ami.sessions if s.remote.endswith(f"/{stalled.writer.get_extra_info('sockname')[1]}"))
    session.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reader = await RawClient.connect(sim.port)
    await reader.login()
    numbers = ["busy", "congestion", "busy"]
    for i in range(60):
        reader.send(
            block(
                ("Action", "Originate"),
                ("ActionID", f"o{i}"),
                ("Channel", f"Local/{numbers[i % 3]}@outbound"),
                ("Context", "fixture"),
                ("Exten", "playtone"),
                ("Async", "true"),
            )
        )
    for i in range(60):
        reply = await reader.wait_for(lambda m, i=i: m.event == "OriginateResponse" and m.get("ActionID") == f"o{i}")
        assert reply.get("Response") == "Failure"
    for _ in range(100):  # the stalled client is cut off once its writes wait write_timeout (0.5 s) ...
        if session not in sim.ami.sessions:
            break
        await asyncio.sleep(0.05)
    assert session not in sim.ami.sessions
    await stalled.read_for(1.0)  # ... and what it finally reads ends early
    assert stalled.eof
    await reader.close()
    await _still_serving(sim.port)
    assert not loop_errors


ACTIONS = ["Login", "Logoff", "Ping", "Events", "Originate", "Hangup", "Getvar", "Setvar", "Status",
           "CoreShowChannels", "Challenge", "", "Nope"]  # fmt: skip
KEYS = ["Action", "ActionID", "Channel", "Context", "Exten", "Priority", "Timeout", "Async", "Variable", "Cause",
        "ChannelId", "OtherChannelId", "CallerID", "Application", "Data", "EventMask", "Events", "Username",
        "Secret", "AuthType", "Key", "Value"]  # fmt: skip


def _fuzz_message(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return rng.randbytes(rng.randint(1, 3000))
    lines = []
    for _ in range(rng.randint(0, 12)):
        key = rng.choice(KEYS)
        if key == "Action":
            value = rng.choice(ACTIONS)
        else:
            value = rng.choice(
                ["", "-1", "0", "99999999999999999999", "Local/5551234@outbound", "Local/busy@outbound", "yes",
                 "x" * rng.randint(0, 1500), rng.randbytes(8).decode("latin-1"), "CHANNEL(state)", "a=b,c"]
            )  # fmt: skip
        sep = rng.choice([": ", ":", " : ", ""])
        lines.append(f"{key}{sep}{value}".encode("utf-8", "surrogateescape"))
    end = rng.choice([b"\r\n", b"\n", b"\r"])
    return end.join(lines) + end + end


async def test_fuzz_thousand_messages(sim: PbxSim, loop_errors: list[dict[str, object]]) -> None:
    rng = random.Random(20261123)
    watcher = await RawClient.connect(sim.port)
    await watcher.login()
    sent = 0
    while sent < 1000:
        client = await RawClient.connect(sim.port)
        if rng.random() < 0.7:
            client.send(block(("Action", "Login"), ("Username", "dialer"), ("Secret", "dialer")))
        for _ in range(50):
            client.send(_fuzz_message(rng))
            sent += 1
        await client.read_for(0.05)
        await client.close()
        await _still_serving(sim.port)
    pong = await watcher.action(("Action", "Ping"), ("ActionID", "watcher"))
    assert pong.get("Ping") == "Pong"
    await watcher.close()
    assert not loop_errors, loop_errors[:3]
    assert sim.pbx.task_failures == 0
