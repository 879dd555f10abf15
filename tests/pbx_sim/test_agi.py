"""FastAGI: the simulator as Asterisk's FastAGI client, the keys a simulated caller presses, and AMI PlayDTMF.

The capture test plays our server's side of agi-ivr-menu (each ``>>>`` block once the simulator has sent the ``<<<``
block before it) while the AMI side of ami-agi-ivr-menu is replayed, in the world of the captures' test PBX, whose
``[ivr]`` runs ``AGI(${AGI_URL}/ivr,arg1,arg2)`` (AGI_URL: a global naming the test's server). The other tests drive
a FastAGI server by hand: an unreachable server, a caller hanging up mid-IVR, PlayDTMF, the other commands' replies,
and keys crossing the dialer's bridge to an AGI.
"""

from __future__ import annotations

import asyncio
import re
import socket
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim
from pbx_sim.world import parse_world
from tests.pbx_sim.amiclient import RawClient, block, replay
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
from tests.pbx_sim.fixtures import Capture, Received, capture

ENDPOS = re.compile(r"endpos=(\d+)")
RATE, FRAME = 8000, 160
TONE_SAMPLES = 1.5 * RATE  # custom/tone


@dataclass
class AgiPeer:
    """Our end of one FastAGI connection the simulator opened."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def line(self) -> str:
        return (await asyncio.wait_for(self.reader.readline(), 5)).decode()

    async def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        while (line := await self.line()) != "\n":
            key, _, value = line.removesuffix("\n").partition(": ")
            env[key] = value
        return env

    async def command(self, text: str) -> str:
        self.writer.write(f"{text}\n".encode())
        return await self.line()


@asynccontextmanager
async def agi_server() -> AsyncIterator[tuple[int, asyncio.Queue[AgiPeer]]]:
    """A FastAGI server on a free port; each connection the simulator opens arrives in the queue."""
    peers: asyncio.Queue[AgiPeer] = asyncio.Queue()
    over = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await peers.put(AgiPeer(reader, writer))
        await over.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], peers
    finally:
        over.set()
        server.close()


def _originate(exten: str, *variables: str) -> bytes:
    return block(
        ("Action", "Originate"),
        ("ActionID", f"originate-{exten}"),
        ("Channel", f"Local/{exten}@sim"),
        ("Context", "ivr"),
        ("Exten", "s"),
        ("Priority", "1"),
        ("CallerID", '"Jane Customer" <5551234>'),
        ("Async", "true"),
        *(("Variable", v) for v in variables),
    )


def _of(client: RawClient, event: str, chan: str) -> list[Received]:
    return [m for m in client.messages if m.event == event and m.get("Channel") == chan]


# ------------------------------------------------------------------ the capture
def _agi_line(line: str, port: int) -> str:
    """What may differ between runs: Uniqueid's epoch, the thread id, our server's port, where a key stopped (how
    long the stream played depends on how fast our server answered; checked on its own)."""
    key, sep, value = line.partition(": ")
    if sep and key == "agi_uniqueid":
        return f"{key}: <epoch>.{value.rpartition('.')[2]}"
    if sep and key == "agi_threadid" and value.strip().isdigit():
        return f"{key}: <thread>\n"
    return ENDPOS.sub("endpos=<samples>", line.replace(f"agi://127.0.0.1:{port}/", "agi://127.0.0.1:4573/"))


async def _our_side(peers: asyncio.Queue[AgiPeer], cap: Capture) -> list[str]:
    """Send each ``>>>`` block once the simulator sent the ``<<<`` block before it; close when the capture's server
    did. Returns every line the simulator sent."""
    peer = await asyncio.wait_for(peers.get(), 5)
    got: list[str] = []
    last = 0.0
    for direction, t, text in cap.blocks:
        if direction == ">>>":
            peer.writer.write(text.encode())
        elif direction == "<<<":
            got += [await peer.line() for _ in text.splitlines()]
            last = t
    closed = cap.note_time("our server closed the socket")
    assert closed is not None
    await asyncio.sleep((closed - last) / SPEED)
    peer.writer.close()
    return got


async def test_ivr_menu_matches_the_capture(fixture_sim: PbxSim) -> None:
    agi, ami = capture("agi-ivr-menu"), capture("ami-agi-ivr-menu")
    async with agi_server() as (port, peers):
        fixture_sim.pbx.set_var(None, "AGI_URL", f"agi://127.0.0.1:{port}")
        ours = asyncio.ensure_future(_our_side(peers, agi))
        client = await replay(fixture_sim.port, ami, SPEED)
        got = await asyncio.wait_for(ours, 5)

    want = [f"{line}\n" for d, _, text in agi.blocks if d == "<<<" for line in text.splitlines()]
    assert [_agi_line(line, port) for line in got] == [_agi_line(line, port) for line in want]
    # endpos: the samples the stream had read, in 20 ms frames, when the key stopped it (by the simulator's clock).
    (endpos,) = [int(m.group(1)) for m in map(ENDPOS.search, got) if m]
    stream = next(m for m in client.messages if m.event == "AGIExecStart" and m.get("Command").startswith("STREAM"))
    key = next(m for m in client.messages if m.event == "DTMFEnd")
    played = (float(key.get("Timestamp")) - float(stream.get("Timestamp"))) * RATE
    assert endpos % FRAME == 0 and 0 < endpos < TONE_SAMPLES and abs(endpos - played) <= 0.1 * RATE, (endpos, played)
    one = next(m for m in client.messages if m.event == "Newchannel")
    assert f"agi_uniqueid: {one.get('Uniqueid')}\n" in got

    want_events, got_events = events(ami.received), events(client.messages)
    problems = [
        *check_responses(responses(ami.received), responses(client.messages)),
        *check_shapes(client.messages),
        *check_per_channel(want_events, got_events),
        *check_bursts(want_events, got_events),
        *check_whole_seconds(ami.received, client.messages),
    ]
    assert not problems, "\n".join(problems)
    assert fixture_sim.pbx.task_failures == 0

    starts = [m for m in client.messages if m.event == "AGIExecStart"]
    ends = [m for m in client.messages if m.event == "AGIExecEnd"]
    assert [(m.get("CommandId"), m.get("Command")) for m in starts] == [
        (m.get("CommandId"), m.get("Command")) for m in ends
    ]
    assert len({m.get("CommandId") for m in starts}) == len(starts) == 12


# ------------------------------------------------------------------ failures and hangups
async def test_an_unreachable_agi_server_fails_and_the_dialplan_goes_on(fixture_sim: PbxSim) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens there once it is closed
    fixture_sim.pbx.set_var(None, "AGI_URL", f"agi://127.0.0.1:{port}")
    client = await RawClient.connect(fixture_sim.port)
    await client.login()
    client.send(_originate("ivrcaller"))
    hangup = await client.wait_for(lambda m: m.event == "Hangup" and m.get("Channel", "").endswith(";1"))
    one = hangup.get("Channel")
    await client.close()

    status = [m.get("Value") for m in _of(client, "VarSet", one) if m.get("Variable") == "AGISTATUS"]
    assert status == ["FAILURE"]
    steps = [(m.get("Priority"), m.get("Application"), m.get("AppData")) for m in _of(client, "Newexten", one)]
    assert steps[-3:] == [
        ("3", "AGI", f"agi://127.0.0.1:{port}/ivr,arg1,arg2"),
        ("4", "NoOp", "AGISTATUS=FAILURE IVR_RESULT="),
        ("5", "Hangup", ""),
    ]
    assert not [m for m in client.messages if m.event == "AGIExecStart"]
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("16", "Normal Clearing")
    assert fixture_sim.pbx.task_failures == 0


async def test_a_caller_hanging_up_is_told_and_the_channel_stays_until_the_server_closes(
    fixture_sim: PbxSim,
) -> None:
    client = await RawClient.connect(fixture_sim.port)
    await client.login()
    async with agi_server() as (port, peers):
        fixture_sim.pbx.set_var(None, "AGI_URL", f"agi://127.0.0.1:{port}")
        client.send(_originate("5551234", "TALK=2"))  # rings 2 s, plays a tone, hangs up 2 s later
        peer = await asyncio.wait_for(peers.get(), 5)
        one = (await peer.environment())["agi_channel"]
        assert await peer.command("WAIT FOR DIGIT -1") == "200 result=-1\n"
        assert await peer.line() == "HANGUP\n"
        assert await peer.command("GET VARIABLE CALLERID(num)") == "200 result=1 (5551234)\n"
        assert await peer.command("STREAM FILE custom/tone #") == (
            "511 Command Not Permitted on a dead channel or intercept routine\n"
        )
        await client.read_for(0.2)
        assert _of(client, "HangupRequest", one) and not _of(client, "Hangup", one)
        peer.writer.close()
        hangup = await client.wait_for(lambda m: m.event == "Hangup" and m.get("Channel") == one)
    await client.close()

    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("16", "Normal Clearing")
    status = [m.get("Value") for m in _of(client, "VarSet", one) if m.get("Variable") == "AGISTATUS"]
    assert status == ["HANGUP"]
    ends = [(m.get("Command"), m.get("ResultCode"), m.get("Result")) for m in _of(client, "AGIExecEnd", one)]
    assert ends == [
        ("WAIT FOR DIGIT -1", "-1", "Failure"),
        ("GET VARIABLE CALLERID(num)", "200", "Success"),
        ("STREAM FILE custom/tone #", "511", "Command Not Permitted on a dead channel or intercept routine"),
    ]
    assert fixture_sim.pbx.task_failures == 0


# ------------------------------------------------------------------ PlayDTMF
def _playdtmf(n: int, *fields: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("Action", "PlayDTMF"), ("ActionID", f"dtmf-{n}"), *fields)


async def test_playdtmf_presses_keys_for_the_caller(fixture_sim: PbxSim) -> None:
    client = await RawClient.connect(fixture_sim.port)
    await client.login()
    async with agi_server() as (port, peers):
        fixture_sim.pbx.set_var(None, "AGI_URL", f"agi://127.0.0.1:{port}")
        client.send(_originate("5551234", "TALK=60"))
        peer = await asyncio.wait_for(peers.get(), 5)
        one = (await peer.environment())["agi_channel"]
        two = one.removesuffix(";1") + ";2"

        errors = [
            ((("Digit", "1"),), "Channel not found"),
            ((("Channel", "Local/nobody@sim-00000009;1"), ("Digit", "1")), "Channel not found"),
            ((("Channel", one),), "No digit specified"),
            ((("Channel", one), ("Digit", "1"), ("Duration", "long")), "Could not convert Duration parameter"),
        ]
        for n, (fields, message) in enumerate(errors):
            reply = await client.action(*_playdtmf(n, *fields))
            assert (reply.get("Response"), reply.get("Message")) == ("Error", message)

        # Queued as received on the channel that runs the AGI.
        waiting = asyncio.ensure_future(peer.command("WAIT FOR DIGIT 20000"))
        await client.wait_for(lambda m: m.event == "AGIExecStart")
        reply = await client.action(*_playdtmf(10, ("Channel", one), ("Digit", "7"), ("Receive", "true")))
        assert (reply.get("Response"), reply.get("Message")) == ("Success", "DTMF successfully queued")
        assert await waiting == "200 result=55\n"

        # Sent out of the caller's ;2: its partner, the AGI's ;1, receives it.
        waiting = asyncio.ensure_future(peer.command("GET DATA beep 3000 4"))
        await client.wait_for(lambda m: m.event == "AGIExecStart" and m.get("Command").startswith("GET DATA"))
        for n, key in enumerate("42"):
            await client.action(*_playdtmf(20 + n, ("Channel", two), ("Digit", key), ("Duration", "200")))
        assert await waiting == "200 result=42 (timeout)\n"

        # A key nobody reads is lost.
        await client.action(*_playdtmf(30, ("Channel", two), ("Digit", "9")))
        assert await peer.command("WAIT FOR DIGIT 500") == "200 result=0\n"
        peer.writer.close()
    await client.close()

    keys = [
        (m.event, m.get("Digit"), m.get("DurationMs"), m.get("Direction"))
        for m in client.messages
        if m.event in ("DTMFBegin", "DTMFEnd")
    ]
    assert keys == [
        ("DTMFEnd", "7", "0", "Received"),
        ("DTMFBegin", "4", "", "Received"),
        ("DTMFEnd", "4", "200", "Received"),
        ("DTMFBegin", "2", "", "Received"),
        ("DTMFEnd", "2", "200", "Received"),
        ("DTMFBegin", "9", "", "Received"),
        ("DTMFEnd", "9", "100", "Received"),
    ]
    assert {m.get("Channel") for m in client.messages if m.event in ("DTMFBegin", "DTMFEnd")} == {one}
    assert fixture_sim.pbx.task_failures == 0


async def test_other_commands_answer_as_res_agi(fixture_sim: PbxSim) -> None:
    client = await RawClient.connect(fixture_sim.port)
    await client.login()
    async with agi_server() as (port, peers):
        fixture_sim.pbx.set_var(None, "AGI_URL", f"agi://127.0.0.1:{port}")
        client.send(_originate("5551234", "TALK=60"))
        peer = await asyncio.wait_for(peers.get(), 5)
        one = (await peer.environment())["agi_channel"]
        assert await peer.command("CHANNEL STATUS") == "200 result=6\n"
        assert await peer.command("channel status Local/nobody@sim-00000009;1") == "200 result=-1\n"
        assert await peer.command('SET VARIABLE GREETING "hello \\"world\\""') == "200 result=1\n"
        assert await peer.command("GET VARIABLE GREETING") == '200 result=1 (hello "world")\n'
        assert await peer.command("GET VARIABLE NOT_SET") == "200 result=0\n"
        assert await peer.command("NOOP") == "200 result=0\n"
        assert await peer.command('VERBOSE "hello" 1') == "200 result=1\n"
        assert await peer.command("EXEC NoSuchApp x") == "200 result=-2\n"
        assert await peer.command("SET VARIABLE ONLY_A_NAME") == "520-Invalid command syntax.  Proper usage follows:\n"
        assert [await peer.line(), await peer.line()] == [
            "Sets a variable to the current channel.\n",
            "520 End of proper usage.\n",
        ]
        assert await peer.command("GET DATA beep 1000") == "200 result= (timeout)\n"

        saying = asyncio.ensure_future(peer.command("SAY NUMBER 42 #5"))
        await client.wait_for(lambda m: m.event == "AGIExecStart" and m.get("Command").startswith("SAY"))
        await client.action(*_playdtmf(1, ("Channel", one), ("Digit", "#"), ("Receive", "yes")))
        assert await saying == "200 result=35\n"
        peer.writer.close()
    await client.close()

    ends = {m.get("Command"): (m.get("ResultCode"), m.get("Result")) for m in _of(client, "AGIExecEnd", one)}
    assert ends["EXEC NoSuchApp x"] == ("200", "Unknown Result")
    assert ends["SET VARIABLE ONLY_A_NAME"] == ("520", "Usage")
    assert [m.get("Value") for m in _of(client, "VarSet", one) if m.get("Variable") == "GREETING"] == ['hello "world"']
    assert fixture_sim.pbx.task_failures == 0


SURVEY = """
[[customer]]
match = "_X."
answer = 1
ring = 1
talk = 30
digits = ["5"]
think = 2

[[dialplan]]
context = "survey"
exten = "s"
steps = ["Answer()", "AGI(agi://127.0.0.1:{port}/survey)", "Hangup()"]
"""


async def test_a_dialed_customer_presses_keys_to_the_agi_of_the_dialer_call(tmp_path: Path) -> None:
    """The dialer's path: Originate Local/<number>@outbound into an AGI; the customer's key crosses the bridge."""
    async with agi_server() as (port, peers):
        world = parse_world(tomllib.loads(SURVEY.format(port=port)))
        async with running_pbx_sim(PbxSimSettings(recordings_dir=tmp_path), port=0, speed=SPEED, world=world) as sim:
            client = await RawClient.connect(sim.port)
            await client.login()
            client.send(
                block(("Action", "Originate"), ("ActionID", "o"), ("Channel", "Local/5550100@outbound"),
                      ("Context", "survey"), ("Exten", "s"), ("Priority", "1"), ("Async", "true"))
            )  # fmt: skip
            peer = await asyncio.wait_for(peers.get(), 5)
            env = await peer.environment()
            assert (env["agi_network_script"], env["agi_channel"]) == ("survey", "Local/5550100@outbound-00000000;1")
            assert await peer.command("WAIT FOR DIGIT 10000") == "200 result=53\n"
            peer.writer.close()
            await client.wait_for(lambda m: m.event == "Hangup" and m.get("Channel") == env["agi_channel"])
            await client.close()
            assert sim.pbx.task_failures == 0

    hops = [(m.event, m.get("Channel"), m.get("Direction")) for m in client.messages if m.event == "DTMFBegin"]
    assert hops == [
        ("DTMFBegin", "Local/5550100@sim-00000001;1", "Received"),  # the customer's line, read by the bridge
        ("DTMFBegin", "Local/5550100@outbound-00000000;2", "Sent"),  # written to the other party
        ("DTMFBegin", "Local/5550100@outbound-00000000;1", "Received"),  # read by the AGI
    ]
