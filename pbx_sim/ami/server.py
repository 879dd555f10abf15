"""The AMI server: one :class:`AmiSession` per TCP connection, as Asterisk's manager.c runs one thread each.

A session reads the client's bytes, parses messages and runs their actions one at a time. Everything it sends
(responses and events, in order) goes through its own bounded queue, written by a writer task: a client that
does not read cannot stall the PBX or the other clients: once the socket no longer takes data and
``max_pending`` messages wait behind it (or a write waits ``write_timeout`` seconds), it is cut off, as
Asterisk drops a session whose writes time out. A burst of events for a client that keeps up is never cut.
An unauthenticated session is closed after ``auth_timeout`` seconds (manager.conf ``authtimeout``, 30).

When the simulated Asterisk goes down (:meth:`AmiServer.close`, after the PBX sent ``Event: Shutdown``) the
listening socket closes first, so a reconnect is refused (ami-reconnect: ``ConnectionRefusedError``); every
session then sends what it still holds and closes its socket (EOF, no Logoff). :meth:`AmiServer.start` listens
again on the same port, as a restarted Asterisk does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping

import structlog

from pbx_sim.ami.actions import ACTIONS
from pbx_sim.ami.protocol import AmiParser, Fields, Message, encode
from pbx_sim.core.events import ALL_EVENTS
from pbx_sim.core.pbx import Pbx

log = structlog.get_logger("pbx_sim")

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
READ_SIZE = 65536


class AmiServer:
    def __init__(
        self,
        pbx: Pbx,
        users: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 5038,
        max_pending: int = 50_000,
        auth_timeout: float = 30.0,
        write_timeout: float = 30.0,
    ) -> None:
        self.pbx = pbx
        self.users = dict(users)
        self.host = host
        self.port = port
        self.max_pending = max_pending
        self.auth_timeout = auth_timeout
        self.write_timeout = write_timeout
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.Server | None = None
        self._runs: set[asyncio.Task[object]] = set()  # the task of each session

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (again); ``port=0`` picks a free port once, which a restart then reuses."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, let every session send what it holds (the ``Shutdown`` event), then close it; a
        session whose client does not read within ``write_timeout`` seconds is cut off."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for session in list(self.sessions):
            session.finish()
        runs = set(self._runs)
        if runs:
            await asyncio.wait(runs, timeout=self.write_timeout)
        for session in list(self.sessions):
            session.abort()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if task is not None:
                self._runs.discard(task)


class AmiSession:
    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.pbx = server.pbx
        self.reader = reader
        self.writer = writer
        self.parser = AmiParser()
        self.authenticated = False
        self.username = ""
        self.send_events = ALL_EVENTS
        self.challenge = ""
        self.connected_at = self.pbx.clock.now()
        self.session_id = f"0x{id(self):x}"
        peer = writer.get_extra_info("peername") or ("unknown", 0)
        local = writer.get_extra_info("sockname") or ("unknown", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{local[0]}/{local[1]}"
        self._out: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._reading_done = False
        self._aborted = False
        self._finishing = False  # the PBX is going down: send what is queued, then close
        self._blocked = False  # the writer waits for the client to take what was already written

    # ------------------------------------------------------------ sending
    def deliver(self, category: int, data: bytes) -> None:
        """An event from the PBX (the session subscribes once logged in)."""
        if self.send_events & category:
            self.send(data)

    def send(self, data: bytes) -> None:
        if self._aborted or self._finishing:
            return
        if self._blocked and len(self._out) >= self.server.max_pending:
            log.warning("ami_client_too_slow", remote=self.remote, pending=len(self._out))
            self.abort()
            return
        self._out.append(data)
        self._wake.set()

    def send_fields(self, fields: Fields) -> None:
        self.send(encode(fields))

    def respond(self, msg: Message, response: str, fields: Fields | None = None) -> None:
        """``Response:``, then ``ActionID:`` if the request had one, then ``fields`` (astman_send_response)."""
        head: Fields = [("Response", response)]
        if msg.action_id:
            head.append(("ActionID", msg.action_id))
        self.send_fields([*head, *(fields or [])])

    def ack(self, msg: Message, message: str) -> None:
        self.respond(msg, "Success", [("Message", message)])

    def error(self, msg: Message, message: str) -> None:
        self.respond(msg, "Error", [("Message", message)])

    def list_ack(self, msg: Message, message: str) -> None:
        self.respond(msg, "Success", [("EventList", "start"), ("Message", message)])

    def abort(self) -> None:
        """Cut the connection now, dropping whatever is still queued."""
        if self._aborted:
            return
        self._aborted = True
        self._out.clear()
        self.pbx.hub.subscribers.discard(self)
        self.writer.transport.abort()
        self._wake.set()

    def finish(self) -> None:
        """Asterisk goes down: nothing more is sent or read; what is queued is written, then the socket closes."""
        self.pbx.hub.subscribers.discard(self)
        self._finishing = True
        self._wake.set()

    # ------------------------------------------------------------ running
    async def run(self) -> None:
        self.send(BANNER)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._write_loop())
                await self._read_loop()
                self._reading_done = True
                self._wake.set()
        finally:
            self.pbx.hub.subscribers.discard(self)
            if not self._aborted:
                self.writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.writer.wait_closed(), 5)

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.server.auth_timeout
        while not self._aborted:
            # No timeout once logged in: an AMI session lives as long as its client keeps it open.
            timeout = None if self.authenticated else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(self.reader.read(READ_SIZE), timeout)
            except TimeoutError:
                log.info("ami_auth_timeout", remote=self.remote)
                return
            except (ConnectionError, OSError):
                return
            if not data:
                return
            for msg in self.parser.feed(data):
                if self._finishing or not await self._process(msg) or self._aborted:
                    return

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._aborted:
                return
            if self._out:
                batch = b"".join(self._out)
                self._out.clear()
                try:
                    self.writer.write(batch)
                    self._blocked = True
                    await asyncio.wait_for(self.writer.drain(), self.server.write_timeout)
                    self._blocked = False
                except TimeoutError:
                    log.warning("ami_write_timeout", remote=self.remote)
                    self.abort()
                    return
                except (ConnectionError, OSError):
                    self.abort()
                    return
            if self._finishing and not self._out:
                self.writer.close()  # the client reads EOF; so does our read loop
                return
            if self._reading_done and not self._out:
                return

    async def _process(self, msg: Message) -> bool:
        """Run one message; False ends the session (Logoff, failed Login)."""
        if msg.overflow:
            self.error(msg, "Too many lines in message or allocation failure")
            return True
        action = msg.get_nonempty("Action")
        if not action:
            self.error(msg, "Missing action in request")
            return True
        name = action.lower()
        if not self.authenticated and name not in ("login", "logoff", "challenge"):
            self.error(msg, "Permission denied")
            return True
        handler = ACTIONS.get(name)
        if handler is None:
            self.error(msg, f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.")
            return True
        return await handler(self, msg)
