"""PJSIP endpoints: registration and real-looking PJSIP channels, against ami-pjsip-registration and
ami-pjsip-originate-agent-customer, in the world of their test PBX (``pjsip_world.toml``).

In ami-pjsip-registration the REGISTERs came from sipp, outside AMI (the ``###`` notes say when); the replay
makes the same registrations through the simulator's registration API at those times, with what sipp sent
(Contact, Call-ID, User-Agent, source port, Expires). The simulator is started two seconds before the client
connects, as Asterisk was (``Uptime: 2``), because contacts expire on a 30-second check that runs from boot.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from functools import partial
from operator import itemgetter
from pathlib import Path

import pytest

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim
from pbx_sim.core.pjsip import RegistrationError
from pbx_sim.world import WorldError, parse_world
from tests.pbx_sim.amiclient import BANNER, RawClient, block, replay, wire
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

PJSIP_WORLD = Path(__file__).resolve().parent / "pjsip_world.toml"
SIPP = {"uri": "sip:agent1@127.0.0.1:5072", "call_id": "agent1-reg-fixture", "user_agent": "sipp-agent-phone"}


@pytest.fixture
async def pjsip_sim(tmp_path: Path) -> AsyncIterator[PbxSim]:
    settings = PbxSimSettings(recordings_dir=tmp_path)
    async with running_pbx_sim(settings, port=0, speed=SPEED, world=PJSIP_WORLD) as running:
        yield running


def _problems(cap: Capture, got: list[Received]) -> list[str]:
    want, ours = events(cap.received), events(got)
    return [
        *check_responses(responses(cap.received), responses(got)),
        *check_shapes(got),
        *check_per_channel(want, ours),
        *check_bursts(want, ours),
        *check_whole_seconds(cap.received, got),
    ]


async def test_click_to_dial_replay(pjsip_sim: PbxSim) -> None:
    """Part A: the agent's phone answers, the customer answers, talks and hangs up; part B: the customer is
    busy (486): DialStatus BUSY, Cause 17 on both legs, the agent leg's BUSY Cdr and its 0 s ANSWERED one."""
    cap = capture("ami-pjsip-originate-agent-customer")
    client = await replay(pjsip_sim.port, cap, SPEED)
    assert client.banner == BANNER
    problems = _problems(cap, client.messages)
    assert not problems, "\n".join(problems)
    assert pjsip_sim.pbx.task_failures == 0


async def test_registration_replay(pjsip_sim: PbxSim) -> None:
    cap = capture("ami-pjsip-registration")
    register = pjsip_sim.pbx.pjsip.register
    uptime = pjsip_sim.clock.now() - pjsip_sim.pbx.started
    await asyncio.sleep(pjsip_sim.clock.real(2.0 - uptime))  # Asterisk had been up 2 s (FullyBooted)
    start = time.monotonic()
    await asyncio.sleep(_note(cap, "client opens TCP connection") / SPEED)
    client = await RawClient.connect(pjsip_sim.port)
    steps: list[tuple[float, Callable[[], object]]] = [(t, partial(client.send, wire(text))) for t, text in cap.sent]
    steps += [
        (_note(cap, "part 1: agent1 registers"), partial(register, "agent1", expires=300, **SIPP)),
        (_note(cap, "agent1 unregisters"), partial(register, "agent1", expires=0, **SIPP)),
        (_note(cap, "part 2: agent1 registers"), partial(register, "agent1", expires=60, **SIPP)),
    ]
    for t, step in sorted(steps, key=itemgetter(0)):
        await client.read_for(t / SPEED - (time.monotonic() - start))
        step()
    await client.read_for(cap.end / SPEED - (time.monotonic() - start) + 0.3)
    await client.close()

    problems = _problems(cap, client.messages)
    assert not problems, "\n".join(problems)
    # The unrefreshed contact expired by itself on the 30 s check after its 60 s, when Asterisk's did (88.7 s).
    removed = [m for m in client.messages if m.get("ContactStatus") == "Removed"]
    expired_at = next(m.t for m in cap.received if m.get("ContactStatus") == "Removed" and m.t > 60)
    assert len(removed) == 2 and abs(removed[1].t * SPEED - expired_at) < 2.0


def _note(cap: Capture, words: str) -> float:
    at = cap.note_time(words)
    assert at is not None, words
    return at


# ------------------------------------------------------------------ behaviour
async def _logged_in(sim: PbxSim) -> RawClient:
    client = await RawClient.connect(sim.port)
    await client.login()
    return client


async def _originate(client: RawClient, channel: str, action_id: str) -> Received:
    client.send(
        block(
            ("Action", "Originate"),
            ("ActionID", action_id),
            ("Channel", channel),
            ("Context", "click2dial"),
            ("Exten", "5551234"),
            ("Timeout", "5000"),
            ("Async", "true"),
        )
    )
    return await client.wait_for(lambda m: m.event == "OriginateResponse" and m.get("ActionID") == action_id)


async def test_an_unregistered_phone_cannot_be_called_until_it_registers(pjsip_sim: PbxSim) -> None:
    client = await _logged_in(pjsip_sim)
    refused = await _originate(client, "PJSIP/agent1", "before")
    assert (refused.get("Response"), refused.get("Reason"), refused.get("Uniqueid")) == ("Failure", "0", "<unknown>")
    assert not [m for m in client.messages if m.event == "Newchannel"]  # chan_pjsip creates no channel

    pjsip_sim.pbx.pjsip.register("agent1", expires=3600)
    answered = await _originate(client, "PJSIP/agent1", "after")
    assert answered.get("Response") == "Success" and answered.get("Reason") == "4"
    assert answered.get("Channel") == "PJSIP/agent1-00000000"
    await client.close()


async def test_dial_reaches_an_agent_phone_only_once_it_is_registered(pjsip_sim: PbxSim) -> None:
    client = await _logged_in(pjsip_sim)

    async def dial_agent2(agent_leg: str) -> str:
        """DIALSTATUS of Dial(PJSIP/agent2) run by the answered agent leg ``agent_leg``."""
        client.send(
            block(
                ("Action", "Originate"),
                ("ActionID", agent_leg),
                ("Channel", "PJSIP/agent-sipp"),
                ("Application", "Dial"),
                ("Data", "PJSIP/agent2,10"),
                ("Async", "true"),
            )
        )
        status = await client.wait_for(
            lambda m: m.get("Variable") == "DIALSTATUS" and m.get("Value") and m.get("Channel") == agent_leg
        )
        return status.get("Value")

    assert await dial_agent2("PJSIP/agent-sipp-00000000") == "CHANUNAVAIL"  # agent2 has no contact: no channel
    pjsip_sim.pbx.pjsip.register("agent2", expires=300)
    assert await dial_agent2("PJSIP/agent-sipp-00000001") == "ANSWER"
    enter = await client.wait_for(lambda m: m.event == "BridgeEnter" and m.get("Channel") == "PJSIP/agent2-00000002")
    assert enter.get("BridgeTechnology") == "simple_bridge"
    await client.close()


async def test_registration_events_and_contacts(pjsip_sim: PbxSim) -> None:
    client = await _logged_in(pjsip_sim)
    pjsip = pjsip_sim.pbx.pjsip
    pjsip.register("agent2", expires=120, address=("10.0.0.7", 5060), user_agent="Yealink")
    await client.wait_for(lambda m: m.event == "ContactStatus")
    names = [m.event for m in client.messages if m.get("Service") == "PJSIP" or m.event == "PeerStatus"]
    assert names == ["ChallengeSent", "SuccessfulAuth", "PeerStatus"]
    peer = next(m for m in client.messages if m.event == "PeerStatus")
    assert (peer.get("Peer"), peer.get("PeerStatus")) == ("PJSIP/agent2", "Reachable")

    reply = await client.action(("Action", "PJSIPShowContacts"), ("ActionID", "c"))
    assert reply.get("Response") == "Success"
    entry = await client.wait_for(lambda m: m.event == "ContactList")
    assert (entry.get("Uri"), entry.get("ViaAddr"), entry.get("UserAgent")) == (
        "sip:agent2@10.0.0.7:5060",
        "10.0.0.7",
        "Yealink",
    )
    endpoints = await client.action(("Action", "PJSIPShowEndpoints"), ("ActionID", "e"))
    assert endpoints.get("Response") == "Success"
    done = await client.wait_for(lambda m: m.event == "EndpointListComplete")
    listed = {m.get("ObjectName"): m.get("DeviceState") for m in client.messages if m.event == "EndpointList"}
    assert done.get("ListItems") == "7" and listed["agent2"] == "Not in use" and listed["agent1"] == "Unavailable"

    with pytest.raises(RegistrationError, match="423"):
        pjsip.register("agent2", expires=30)  # below the aor's minimum_expiration
    with pytest.raises(RegistrationError, match="404"):
        pjsip.register("sipp", expires=60)  # an endpoint without aor
    pjsip.unregister("agent2")
    reply = await client.action(("Action", "PJSIPShowContacts"), ("ActionID", "none"))
    assert (reply.get("Response"), reply.get("Message")) == ("Error", "No Contacts found")
    await client.close()


async def test_unregistered_queue_member_is_unavailable(pjsip_sim: PbxSim) -> None:
    client = await _logged_in(pjsip_sim)
    reply = await client.action(
        ("Action", "QueueAdd"), ("ActionID", "add"), ("Queue", "support"), ("Interface", "PJSIP/agent1")
    )
    assert reply.get("Response") == "Success"
    added = await client.wait_for(lambda m: m.event == "QueueMemberAdded")
    assert added.get("Status") == "5"  # AST_DEVICE_UNAVAILABLE: no contact

    def statuses() -> list[str]:
        return [m.get("Status") for m in client.messages if m.event == "QueueMemberStatus"]

    pjsip_sim.pbx.pjsip.register("agent1", expires=60)
    await client.wait_for(lambda m: m.event == "QueueMemberStatus")
    assert statuses() == ["1"]
    pjsip_sim.pbx.pjsip.unregister("agent1")
    await client.wait_for(lambda m: m.event == "QueueMemberStatus" and m.get("Status") == "5")
    assert statuses() == ["1", "5"]
    await client.close()


async def test_registrations_survive_a_restart(pjsip_sim: PbxSim) -> None:
    pjsip_sim.pbx.pjsip.register("agent1", expires=600, call_id="phone-1")
    await pjsip_sim.restart()
    client = await _logged_in(pjsip_sim)
    reply = await client.action(("Action", "PJSIPShowContacts"), ("ActionID", "c"))
    assert reply.get("Response") == "Success"
    entry = await client.wait_for(lambda m: m.event == "ContactList")
    assert (entry.get("Endpoint"), entry.get("CallId")) == ("agent1", "phone-1")
    answered = await _originate(client, "PJSIP/agent1", "after-restart")
    assert answered.get("Response") == "Success"
    await client.close()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[[endpoint]]\nname = "a/b"', "needs a name"),
        ('[[endpoint]]\nname = "x"\ncontact = "127.0.0.1:5070"', "SIP URI"),
        ('[[endpoint]]\nname = "x"\nminimum_expiration = 600\nmaximum_expiration = 60', "minimum_expiration"),
        ('[[endpoint]]\nname = "x"\nsecret = "y"', "unknown keys"),
        ('[[endpoint]]\nname = "x"\n[[endpoint]]\nname = "x"', "used twice"),
    ],
)
def test_bad_endpoints_are_named(text: str, complaint: str) -> None:
    with pytest.raises(WorldError, match=complaint):
        parse_world(tomllib.loads(text))
