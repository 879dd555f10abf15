"""A raw-socket AMI client for the tests (no library between the test and the wire), and capture replay."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from tests.pbx_sim.fixtures import Capture, Fields, Received

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def wire(text: str) -> bytes:
    """A capture block (LF) as it went on the wire (CRLF)."""
    return text.replace("\n", "\r\n").encode()


def block(*fields: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n"


@dataclass
class RawClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    started: float = field(default_factory=time.monotonic)
    banner: bytes = b""
    messages: list[Received] = field(default_factory=list)
    eof: bool = False
    _buffer: bytes = b""

    @classmethod
    async def connect(cls, port: int, *, rcvbuf: int | None = None) -> RawClient:
        if rcvbuf is None:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        else:
            import socket

            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock)
        client = cls(reader, writer)
        client.banner = await asyncio.wait_for(reader.readline(), 5)
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_some(self, timeout: float) -> bool:  # noqa: ASYNC109 - a test helper's deadline
        """Read what arrives within ``timeout``; False at EOF."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except TimeoutError:
            return True
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self._buffer += data
        now = time.monotonic() - self.started
        *done, self._buffer = self._buffer.split(b"\r\n\r\n")
        for chunk in done:
            fields: Fields = []
            for line in chunk.decode("utf-8", "surrogateescape").split("\r\n"):
                key, _, value = line.partition(": ")
                fields.append((key, value))
            self.messages.append(Received(now, fields))
        return True

    async def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.eof and (left := deadline - time.monotonic()) > 0:
            await self.read_some(left)

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> Received:  # noqa: ASYNC109
        """The first message (already read or arriving within ``timeout``) for which ``predicate`` is true."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for msg in self.messages[seen:]:
                if predicate(msg):
                    return msg
            seen = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise AssertionError(f"no such message within {timeout}s; got {[m.fields for m in self.messages]}")
            await self.read_some(left)

    async def action(self, *fields: tuple[str, str], timeout: float = 5.0) -> Received:  # noqa: ASYNC109
        action_id = dict(fields)["ActionID"]
        self.send(block(*fields))
        return await self.wait_for(lambda m: m.get("ActionID") == action_id and "Response" in dict(m.fields), timeout)

    async def login(self, events: str = "on") -> None:
        reply = await self.action(
            ("Action", "Login"), ("ActionID", "login"), ("Username", "dialer"), ("Secret", "dialer"), ("Events", events)
        )
        assert reply.get("Response") == "Success", reply.fields

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


# Values a client learns from a response and sends back later; the replay sends the simulator's, not Asterisk's.
LEARNED = ("MixMonitorID",)


def _learned(taught: list[tuple[str, str, str]], client: RawClient) -> dict[str, str]:
    """Capture value -> simulator value of every LEARNED field, matched by the ActionID of the response."""
    out: dict[str, str] = {}
    if taught:
        ours = {m.get("ActionID"): m for m in client.messages if m.event is None and m.get("ActionID")}
        for action_id, key, value in taught:
            mine = ours.get(action_id)
            if mine is not None and mine.get(key):
                out[value] = mine.get(key)
    return out


async def replay(port: int, cap: Capture, speed: float) -> RawClient:
    """Send the capture's client blocks at its times (divided by ``speed``) and read everything until the time the
    capture ends (or the server closes the connection). Values the client learnt from Asterisk's responses
    (LEARNED) are replaced by those the simulator gave."""
    taught = [
        (m.get("ActionID"), key, m.get(key)) for m in cap.received if m.event is None for key in LEARNED if m.get(key)
    ]
    client = await RawClient.connect(port)
    for t, text in cap.sent:
        await client.read_for(t / speed - (time.monotonic() - client.started))
        for theirs, mine in _learned(taught, client).items():
            text = text.replace(theirs, mine)
        client.send(wire(text))
    await client.read_for(cap.end / speed - (time.monotonic() - client.started) + 0.3)
    await client.close()
    return client
