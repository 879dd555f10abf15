"""AmiConnection over TCP: login, refused login, timeouts, keep-alive, Shutdown, garbage on the wire."""

from __future__ import annotations

import asyncio
import time

import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.metrics import Metrics
from dialer.ami import (
    AmiActionError,
    AmiAuthenticationError,
    AmiConnection,
    AmiConnectionLostError,
    AmiMessage,
    AmiNotConnectedError,
    AmiTimeoutError,
    Connected,
    Disconnected,
)
from pbx_sim.app import PbxSim
from tests.dialer.ami.conftest import FAST, ami_settings, gauge, running_engine, until
from tests.dialer.ami.fakeami import FakeAmi, Session, block, received_stream

CONNECTED = "callcenter_ami_connected"


class Recorder:
    """An AmiHandler that keeps what the consumer task hands it."""

    def __init__(self) -> None:
        self.items: list[AmiMessage | Connected | Disconnected] = []

    async def on_connected(self, connected: Connected) -> None:
        self.items.append(connected)

    async def on_event(self, message: AmiMessage) -> None:
        self.items.append(message)

    async def on_disconnected(self, disconnected: Disconnected) -> None:
        self.items.append(disconnected)

    def events(self, name: str) -> list[AmiMessage]:
        return [m for m in self.items if isinstance(m, AmiMessage) and m.event == name]


async def test_login_ping_and_lists_against_the_simulator(sim: PbxSim, metrics: Metrics) -> None:
    connection = AmiConnection(ami_settings(sim.port), metrics, **FAST)
    recorder = Recorder()
    assert gauge(metrics, CONNECTED) == 0
    await connection.start(recorder)
    try:
        await connection.wait_connected(5)
        assert connection.connected and gauge(metrics, CONNECTED) == 1
        pong = await connection.action("Ping")
        assert pong.get("Ping") == "Pong" and pong.is_success
        channels = await connection.list_action("CoreShowChannels")
        assert channels.items == () and channels.complete is not None
        assert channels.complete.get("ListItems") == "0"
        with pytest.raises(AmiActionError, match="Invalid/unknown command"):
            await connection.list_action("NoSuchList")  # an error reply ends a list action at once, no hang
        await until(lambda: recorder.events("FullyBooted"), what="FullyBooted")
        assert recorder.items[0] == Connected(1)  # the session's marker comes before its events
    finally:
        await connection.close()
    assert gauge(metrics, CONNECTED) == 0 and not connection.connected
    with pytest.raises(AmiNotConnectedError):
        await connection.action("Ping")


async def test_wrong_secret_is_reported_and_retried_slowly(
    sim: PbxSim, metrics: Metrics, loop_errors: list[dict[str, object]]
) -> None:
    options = {**FAST, "backoff_base": 0.001, "auth_retry_delay": 0.4}
    connection = AmiConnection(ami_settings(sim.port, secret="wrong"), metrics, **options)
    await connection.start(Recorder())
    try:
        with pytest.raises(AmiAuthenticationError, match="Authentication failed") as refused:
            await connection.wait_connected(1.2)
        assert "'dialer'" in str(refused.value) and "ami.secret" in str(refused.value)
        # Asterisk refuses after 1 s (0.05 s here); the retry waits at least 0.2 s (0.4 s, jittered): no tight loop.
        assert 2 <= connection.connect_attempts <= 6
        assert gauge(metrics, CONNECTED) == 0 and not connection.connected
    finally:
        await connection.close()
    assert not loop_errors


async def test_action_timeout_is_typed_and_a_missed_pong_reconnects(metrics: Metrics) -> None:
    async with FakeAmi(mute={"ping"}) as fake:
        connection = AmiConnection(ami_settings(fake.port, timeout=0.2), metrics, **FAST)
        await connection.start(Recorder())
        try:
            await connection.wait_connected(5)
            started = time.monotonic()
            with pytest.raises(AmiTimeoutError, match="Ping") as timed_out:
                await connection.action("Ping", timeout=0.15)
            assert timed_out.value.action == "Ping" and isinstance(timed_out.value, TimeoutError)
            assert 0.14 < time.monotonic() - started < 0.5
            # The keep-alive Ping (every 0.5 s) gets no Pong either: the session is dropped and made again.
            await until(lambda: fake.logins >= 2, what="a second login after the missed Pong")
            await connection.wait_connected(2)
            assert gauge(metrics, CONNECTED) == 1
        finally:
            await connection.close()


async def test_a_server_that_never_answers_login(metrics: Metrics) -> None:
    async with FakeAmi(answer_login=False) as fake:
        connection = AmiConnection(ami_settings(fake.port, timeout=0.1), metrics, **FAST)
        await connection.start(Recorder())
        try:
            with pytest.raises(AmiTimeoutError):  # Login gets action_timeout + 1 s (Asterisk's refusal delay)
                await connection.wait_connected(2.5)
            assert isinstance(connection.last_error, AmiTimeoutError)
            assert connection.last_error.action == "Login"
            assert len(fake.sessions) >= 2  # it keeps trying, with backoff
        finally:
            await connection.close()


async def test_a_pending_action_fails_at_once_when_the_connection_drops(metrics: Metrics) -> None:
    async with FakeAmi(mute={"originate"}) as fake:
        connection = AmiConnection(ami_settings(fake.port, timeout=5.0), metrics, **FAST)
        await connection.start(Recorder())
        try:
            await connection.wait_connected(5)
            pending = asyncio.create_task(connection.action("Originate", {"Channel": "Local/1@outbound"}))
            await until(lambda: "originate" in fake.sessions[-1].names(), what="the Originate on the wire")
            started = time.monotonic()
            fake.sessions[-1].abort()
            with pytest.raises(AmiConnectionLostError):
                await pending
            assert time.monotonic() - started < 0.5  # not the 5 s timeout
            await until(lambda: fake.logins >= 2, what="the reconnect")
            # panoramisk would re-send the pending Originate after the next FullyBooted: never.
            await asyncio.sleep(0.1)
            assert "originate" not in fake.sessions[-1].names()
        finally:
            await connection.close()


@pytest.mark.parametrize("delay", [0.1, 0.0], ids=["mid-session", "with-the-login-reply"])
async def test_shutdown_event_drops_the_session_and_it_comes_back(metrics: Metrics, delay: float) -> None:
    async def shut_down_once(session: Session) -> None:
        if fake.logins == 1:
            await asyncio.sleep(delay)
            session.send(block(("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly")))

    fake = FakeAmi(on_login=shut_down_once)
    async with fake:
        connection = AmiConnection(ami_settings(fake.port), metrics, **FAST)
        recorder = Recorder()
        await connection.start(recorder)
        try:
            await until(lambda: fake.logins >= 2 and connection.connected, what="the second session")
            # The consumer task hands the markers on after the session is up: wait until it has caught up.
            await until(
                lambda: sum(isinstance(i, Connected) for i in recorder.items) == connection.generation,
                what="the consumer to hand on every session's marker",
            )
            assert gauge(metrics, CONNECTED) == 1
            markers = [i for i in recorder.items if not isinstance(i, AmiMessage)]
            # Whichever read the Shutdown lands in, markers alternate and the session counter never skips.
            assert [type(m) for m in markers] == [Connected, Disconnected] * (len(markers) // 2) + [Connected] * (
                len(markers) % 2
            )
            assert [m.generation for m in markers if isinstance(m, Connected)] == list(
                range(1, connection.generation + 1)
            )
            if delay:
                await until(lambda: len([i for i in recorder.items if isinstance(i, Connected)]) == 2, what="markers")
                assert recorder.events("Shutdown")  # handed on too: the engine logs it
                assert "shut down" in next(i for i in recorder.items if isinstance(i, Disconnected)).reason
        finally:
            await connection.close()


async def test_garbage_and_partial_frames_do_not_break_the_engine(
    bus: InProcessBus, metrics: Metrics, loop_errors: list[dict[str, object]]
) -> None:
    newchannel = block(
        ("Event", "Newchannel"),
        ("Channel", "Local/5551234@outbound-0000000a;1"),
        ("ChannelState", "0"),
        ("CallerIDName", "Şükrü Gümüşoğlu"),
        ("Uniqueid", "1795430000.7"),
        ("Linkedid", "1795430000.7"),
    )

    async def garbage(session: Session) -> None:
        session.send(bytes(range(256)) * 8 + b"\r\n\r\n")  # binary noise
        session.send(b"Event: Newchannel\r\nEvent: Hangup\r\nLinkedid: x\r\n\r\n")  # a repeated Event header
        session.send(b"Response: Success\r\nActionID: nobody-asked\r\n\r\n")  # a reply to no action
        session.send(b"no colon at all\r\n\r\nEvent\r\n\r\n: empty name\r\n\r\n")
        await asyncio.sleep(0.02)
        cut = newchannel.index("ü".encode()) + 1  # split inside a UTF-8 character
        session.send(newchannel[:cut])
        await asyncio.sleep(0.02)
        session.send(newchannel[cut:])

    async with FakeAmi(on_login=garbage) as fake, running_engine(fake.port, bus, metrics) as engine:
        await until(lambda: "1795430000.7" in engine.calls, what="the valid event after the garbage")
        assert fake.logins == 1 and engine.connection.connected
        assert (await engine.connection.action("Ping")).get("Ping") == "Pong"
        # An endless message (no empty line for over 1 MiB) is garbage too: dropped, reconnected, resynced.
        fake.sessions[-1].send(b"Event: Newexten\r\nAppData: " + b"x" * (1 << 20) + b"\r\n")
        fake.sessions[-1].send(b"Data: " + b"y" * 1000)
        await until(lambda: fake.logins >= 2 and engine.resyncs >= 2, what="the reconnect after garbage")
    assert not loop_errors


async def test_a_slow_consumer_pauses_reading_and_loses_nothing(metrics: Metrics) -> None:
    stream = received_stream("ami-event-flood.txt")
    wanted = [line[7:] for line in stream.decode().split("\r\n") if line.startswith("Event: ")]
    assert len(wanted) == 2082

    class Slow(Recorder):
        async def on_event(self, message: AmiMessage) -> None:
            await asyncio.sleep(0)  # one event per loop turn: the socket delivers ~600 per read
            await super().on_event(message)

    async def flood(session: Session) -> None:
        session.send(stream)

    async with FakeAmi(on_login=flood) as fake:
        connection = AmiConnection(ami_settings(fake.port), metrics, **FAST, queue_size=1000)
        slow = Slow()
        await connection.start(slow)
        try:
            await until(lambda: len(slow.items) >= 1 + 1 + 2082, timeout=10, what="every event")
            got = [m.event for m in slow.items if isinstance(m, AmiMessage)]
            assert got == ["FullyBooted", *wanted]  # ours, then the capture's, in wire order
            assert connection.read_pauses >= 1 and fake.logins == 1  # paused, never overflowed
        finally:
            await connection.close()


async def test_header_injection_is_refused(metrics: Metrics) -> None:
    async with FakeAmi() as fake:
        connection = AmiConnection(ami_settings(fake.port), metrics, **FAST)
        await connection.start(Recorder())
        try:
            await connection.wait_connected(5)
            with pytest.raises(ValueError, match="CR/LF"):
                await connection.action("Setvar", {"Variable": "X", "Value": "1\r\nAction: Command"})
            with pytest.raises(ValueError, match="CR/LF"):
                await connection.action("Originate", {"Variable": ["A=1", "B=2\nAction: Logoff"]})
            assert "command" not in fake.sessions[-1].names() and "logoff" not in fake.sessions[-1].names()
        finally:
            await connection.close()
