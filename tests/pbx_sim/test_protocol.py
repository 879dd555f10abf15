"""AMI framing and session rules, as Asterisk 22's manager.c applies them."""

from __future__ import annotations

from pbx_sim.ami.protocol import MAX_HEADERS, AmiParser, encode
from pbx_sim.app import PbxSim
from tests.pbx_sim.amiclient import RawClient, block


def test_parser_accepts_crlf_bare_lf_and_split_reads() -> None:
    parser = AmiParser()
    assert parser.feed(b"Action: Ping\r\nActionID: 1\r") == []
    [msg] = parser.feed(b"\n\r\n")
    assert msg.get("action") == "Ping" and msg.action_id == "1"
    [msg] = parser.feed(b"Action:Ping\nActionID:   2\n\n")
    assert msg.get("Action") == "Ping" and msg.action_id == "2"


def test_parser_cuts_at_nul_and_drops_a_message_with_an_overlong_line() -> None:
    parser = AmiParser()
    [msg] = parser.feed(b"Action: Ping\x00garbage\r\n\r\n")
    assert msg.get("Action") == "Ping"
    assert parser.feed(b"Action: Ping\r\nX: " + b"y" * 5000 + b"\r\n\r\n") == []
    assert parser.feed(b"z" * 5000) == [] and parser.pending_bytes <= 1024
    assert parser.feed(b"\r\n\r\n") == []  # the rest of that broken message
    [msg] = parser.feed(b"Action: Ping\r\n\r\n")
    assert msg.get("Action") == "Ping"


def test_parser_flags_too_many_lines() -> None:
    parser = AmiParser()
    lines = b"".join(b"H%d: v\r\n" % i for i in range(MAX_HEADERS + 5))
    [msg] = parser.feed(b"Action: Ping\r\n" + lines + b"\r\n")
    assert msg.overflow and len(msg.headers) == MAX_HEADERS


def test_encode_keeps_order_and_cannot_be_split_by_a_value() -> None:
    assert encode([("Response", "Success"), ("ActionID", "a\r\nEvent: Fake")]) == (
        b"Response: Success\r\nActionID: a  Event: Fake\r\n\r\n"
    )


async def test_errors_worded_as_asterisk(sim: PbxSim) -> None:
    client = await RawClient.connect(sim.port)
    before = await client.action(("Action", "Originate"), ("ActionID", "1"), ("Channel", "Local/1@outbound"))
    assert before.fields == [("Response", "Error"), ("ActionID", "1"), ("Message", "Permission denied")]
    client.send(b"ActionID: 2\r\n\r\n")
    missing = await client.wait_for(lambda m: m.get("ActionID") == "2")
    assert missing.fields == [("Response", "Error"), ("ActionID", "2"), ("Message", "Missing action in request")]
    await client.login()
    unknown = await client.action(("Action", "FooBar"), ("ActionID", "3"))
    assert (
        unknown.get("Message")
        == "Invalid/unknown command: FooBar. Use Action: ListCommands to show available commands."
    )
    hangup = await client.action(("Action", "Hangup"), ("ActionID", "4"), ("Channel", "Local/x@y-00000000;1"))
    assert hangup.fields == [("Response", "Error"), ("ActionID", "4"), ("Message", "No such channel")]
    getvar = await client.action(("Action", "Getvar"), ("ActionID", "5"))
    assert getvar.get("Message") == "No variable specified"
    await client.close()


async def test_events_off_is_honoured(sim: PbxSim) -> None:
    quiet = await RawClient.connect(sim.port)
    await quiet.login(events="off")
    loud = await RawClient.connect(sim.port)
    await loud.login()
    loud.send(
        block(
            ("Action", "Originate"),
            ("ActionID", "o"),
            ("Channel", "Local/busy@outbound"),
            ("Context", "fixture"),
            ("Exten", "playtone"),
            ("Async", "true"),
        )
    )
    await loud.wait_for(lambda m: m.event == "OriginateResponse")
    await quiet.read_for(0.2)
    assert [m.event for m in quiet.messages] == [None]  # the Login response only: no FullyBooted, no events
    reply = await quiet.action(("Action", "Events"), ("ActionID", "e"), ("EventMask", "call"))
    assert reply.fields == [("Response", "Success"), ("ActionID", "e"), ("Events", "On")]
    await quiet.close()
    await loud.close()


async def test_md5_challenge_login_and_failed_login_delay(sim: PbxSim) -> None:
    import hashlib
    import time

    client = await RawClient.connect(sim.port)
    challenge = await client.action(("Action", "Challenge"), ("ActionID", "c"), ("AuthType", "MD5"))
    key = hashlib.md5((challenge.get("Challenge") + "dialer").encode(), usedforsecurity=False).hexdigest()
    login = await client.action(
        ("Action", "Login"), ("ActionID", "l"), ("AuthType", "MD5"), ("Username", "dialer"), ("Key", key)
    )
    assert login.get("Message") == "Authentication accepted"
    await client.close()

    wrong = await RawClient.connect(sim.port)
    started = time.monotonic()
    refused = await wrong.action(("Action", "Login"), ("ActionID", "w"), ("Username", "dialer"), ("Secret", "x"))
    assert refused.fields == [("Response", "Error"), ("ActionID", "w"), ("Message", "Authentication failed")]
    assert time.monotonic() - started >= 0.9 / sim.clock.speed  # Asterisk waits one second
    await wrong.read_for(1.0)
    assert wrong.eof  # ... and then closes the connection
