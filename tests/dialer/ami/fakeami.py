"""A raw TCP "Asterisk" for the tests: scripted replies, silence, garbage, and replays of the real captures.

No AMI library sits between this server and the wire: what the engine under test reads is exactly the bytes
written here (the capture bodies of ``shared/fixtures/asterisk`` with LF turned back into CRLF).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "asterisk"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_HEADER = re.compile(r"^(>>>|<<<|###) t=\+(\d+\.\d+)(?: (.*))?$")

Fields = list[tuple[str, str]]


def block(*fields: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n"


def received_stream(name: str) -> bytes:
    """Every byte Asterisk sent in a capture, as on the wire (CRLF), without the banner line."""
    chunks: list[list[str]] = []
    direction = ""
    for line in (FIXTURES / name).read_text(encoding="utf-8").split("\n"):
        match = _HEADER.match(line)
        if match:
            direction = match.group(1)
            if direction == "<<<":
                chunks.append([])
        elif direction == "<<<" and chunks:
            chunks[-1].append(line)
    text = "".join("\n".join(lines) + "\n" for lines in chunks)
    text = text.replace("Asterisk Call Manager/11.0.0\n", "")
    return text.replace("\n", "\r\n").encode()


@dataclass
class Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    actions: list[dict[str, str]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def abort(self) -> None:
        self.writer.transport.abort()

    def names(self) -> list[str]:
        return [a.get("action", "").lower() for a in self.actions]


class FakeAmi:
    """Answers Login (``secret``), Ping, CoreShowChannels (``channels``) and QueueStatus (Error, like a PBX
    without queues, unless ``queue_members``); ``mute`` names actions never answered; any other action gets
    ``Response: Success``. ``on_login`` runs (as a task of the server) after each login."""

    def __init__(
        self,
        *,
        secret: str = "dialer",
        answer_login: bool = True,
        mute: set[str] | None = None,
        on_login: Callable[[Session], Awaitable[None]] | None = None,
    ) -> None:
        self.secret = secret
        self.answer_login = answer_login
        self.mute = mute or set()
        self.on_login = on_login
        self.channels: list[Fields] = []
        self.queue_members: list[Fields] | None = None
        self.sessions: list[Session] = []
        self.logins = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self.sessions:
            session.abort()  # the connection handlers then end by themselves (cancelling them upsets asyncio)
        if self._serving:
            await asyncio.wait(self._serving, timeout=2)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> FakeAmi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        session = Session(reader, writer)
        self.sessions.append(session)
        writer.write(BANNER)
        buffer = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    action: dict[str, str] = {}
                    for line in raw.decode(errors="replace").split("\r\n"):
                        key, _, value = line.partition(": ")
                        action.setdefault(key.lower(), value)
                    session.actions.append(action)
                    if not self._answer(session, action):
                        writer.close()
                        return
        except (ConnectionError, OSError):
            return
        finally:
            if task is not None:
                self._serving.discard(task)

    def _answer(self, session: Session, action: dict[str, str]) -> bool:
        name = action.get("action", "").lower()
        head = [("ActionID", action["actionid"])] if "actionid" in action else []
        if name in self.mute:
            return True
        if name == "login":
            if not self.answer_login:
                return True
            if action.get("secret") != self.secret:
                session.send(block(("Response", "Error"), *head, ("Message", "Authentication failed")))
                return False
            self.logins += 1
            session.send(block(("Response", "Success"), *head, ("Message", "Authentication accepted")))
            session.send(block(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")))
            if self.on_login is not None:
                self._spawn(self.on_login(session))
            return True
        if name == "logoff":
            session.send(block(("Response", "Goodbye"), *head, ("Message", "Thanks for all the fish.")))
            return False
        if name == "ping":
            session.send(block(("Response", "Success"), *head, ("Ping", "Pong"), ("Timestamp", "1795430000.0")))
        elif name == "coreshowchannels":
            self._list(session, head, "CoreShowChannel", "CoreShowChannelsComplete", self.channels)
        elif name == "queuestatus" and self.queue_members is not None:
            self._list(session, head, "QueueMember", "QueueStatusComplete", self.queue_members)
        elif name == "queuestatus":
            message = "Invalid/unknown command: QueueStatus. Use Action: ListCommands to show available commands."
            session.send(block(("Response", "Error"), *head, ("Message", message)))
        else:
            session.send(block(("Response", "Success"), *head, ("Message", "OK")))
        return True

    @staticmethod
    def _list(session: Session, head: Fields, item: str, complete: str, rows: list[Fields]) -> None:
        session.send(block(("Response", "Success"), *head, ("EventList", "start"), ("Message", "will follow")))
        for row in rows:
            session.send(block(("Event", item), *head, *row))
        session.send(block(("Event", complete), *head, ("EventList", "Complete"), ("ListItems", str(len(rows)))))
