"""The process-wide hub of the live channel and one browser's connection to it.

The hub subscribes to the bus once (streams ``agents``, ``calls``, ``campaigns``, ``callbacks``, and ``users`` for
sign-outs and rights changes), keeps the :class:`~agent_console.live.audience.LiveView`, serialises each event once
and offers it to the connections whose audience sees it. Offering never waits: each connection has its own bounded
queue; a connection whose queue is full is cut off (close 4408) and the hub goes on with the others.

Consistency: a connection is attached to the hub, and the hub's position per stream taken, in one step with no
``await`` in between (and the hub advances its position and offers an event in one step too). Everything after
that position reaches the connection's queue; everything up to it comes from the catch-up (``bus.read``) or is in
the snapshot. Duplicates (the catch-up may read past the position) are dropped by sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
from collections import deque
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from agent_console.auth.sessions import Session, SessionStore
from agent_console.live.audience import STREAMS, Audience, LiveCall, LiveView, Scope
from agent_console.live.repository import LiveRepository
from callcenter.bus import Envelope, EventBus, HistoryLostError
from callcenter.bus.redis import RedisBus
from callcenter.db.database import Database
from crm_core.users.events import TeamCreated, TeamUpdated, UserCreated, UserLoggedOut, UserUpdated
from crm_core.users.model import Role

log = structlog.get_logger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_RIGHTS_CHANGED = 4409
CLOSE_NO_PONG = 4504

_CONTROL_STREAM = "users"


def event_body(envelope: Envelope) -> str:
    """The JSON of an event message without its opening brace and per-connection fields (``type``, ``prev``)."""
    text = json.dumps(
        {
            "stream": envelope.stream,
            "seq": envelope.seq,
            "published_at": envelope.published_at.isoformat(),
            "event": envelope.event.to_dict(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return text[1:]


def _dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


async def audience_for(session: Session, db: Database) -> Audience | None:
    """What ``session``'s user may receive; None when he may not use the live channel at all."""
    user = session.user
    if not session.can("console.use"):
        return None
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return Audience(user.id, everything=True)
    if user.role is Role.TEAM_LEADER:
        async with db.acquire() as conn:
            teams = await LiveRepository(conn).led_teams(user.id)
        if user.team_id is not None:
            teams.add(user.team_id)
        return Audience(user.id, teams=frozenset(teams)) if teams else None
    return Audience(user.id, leaderboard_team=user.team_id)


@dataclasses.dataclass(frozen=True)
class Hello:
    epoch: str | None
    resume: dict[str, int] | None

    @classmethod
    def parse(cls, payload: Any) -> Hello:
        """``{"hello": {"epoch": "...", "resume": {"agents": 12, ...}}}``; raises ValueError when malformed."""
        if not isinstance(payload, dict) or not isinstance(payload.get("hello"), dict):
            raise ValueError("the first message must be a hello")
        body = payload["hello"]
        epoch = body.get("epoch")
        resume = body.get("resume")
        if epoch is not None and not isinstance(epoch, str):
            raise ValueError("epoch must be a string")
        if resume is None:
            return cls(epoch, None)
        if not isinstance(resume, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in resume.values()
        ):
            raise ValueError("resume must map streams to sequence numbers")
        return cls(epoch, {k: v for k, v in resume.items() if k in STREAMS})


_Item = tuple[str, int, str] | dict[str, int]  # an event (stream, seq, body) or a position marker


class Connection:
    """One browser's WebSocket: a receive task, a send task and a heartbeat task, and its own bounded queue."""

    def __init__(self, hub: LiveHub, ws: web.WebSocketResponse, token: str, session: Session, audience: Audience):
        self.hub = hub
        self.ws = ws
        self.token = token
        self.session = session
        self.audience = audience
        self.queue_size = hub.queue_size
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._hello: asyncio.Future[Hello] = asyncio.get_running_loop().create_future()
        self._resync = False
        self._attached = False
        self._greeted = False
        self._last: dict[str, int] = {}
        self._heard = asyncio.get_running_loop().time()
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def user_id(self) -> int:
        return self.session.user.id

    # -- called by the hub, never waits ------------------------------------------------------------------------

    def offer(self, stream: str, seq: int, body: str) -> None:
        if self.close_code is not None or not self._attached:
            return
        if len(self._queue) >= self.queue_size:
            self.close_soon(CLOSE_TOO_SLOW, "too slow: resync")
            return
        self._queue.append((stream, seq, body))
        self._wake.set()

    def mark(self, positions: dict[str, int]) -> None:
        """Queue a position marker: once sent, the client knows it has everything for it up to ``positions``."""
        if self.close_code is None and self._greeted and len(self._queue) < self.queue_size:
            self._queue.append(positions)
            self._wake.set()

    def close_soon(self, code: int, reason: str) -> None:
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        self.hub.detach(self)
        self._queue.clear()
        self._closing.set()

    # -- the connection's life ---------------------------------------------------------------------------------

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._receive(), name="live-receive"),
            asyncio.create_task(self._send(), name="live-send"),
            asyncio.create_task(self._heartbeat(), name="live-heartbeat"),
            asyncio.create_task(self._closing.wait(), name="live-closing"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.hub.detach(self)
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, ConnectionError):
                    log.error("live_task_failed", user_id=self.user_id, error=repr(result))
                    if self.close_code is None:
                        self.close_code, self.close_reason = 1011, "server error"
            if not self.ws.closed:
                with contextlib.suppress(Exception, asyncio.TimeoutError):
                    async with asyncio.timeout(self.hub.close_timeout):
                        await self.ws.close(code=self.close_code or 1000, message=self.close_reason.encode()[:120])

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            msg = await self.ws.receive()
            self._heard = loop.time()
            if msg.type is WSMsgType.PING:
                await self.ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                continue
            elif msg.type is WSMsgType.TEXT:
                if not self._on_text(msg.data):
                    return
            elif msg.type is WSMsgType.BINARY:
                self.close_soon(CLOSE_BAD_MESSAGE, "text frames only")
                return
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                return

    def _on_text(self, text: str) -> bool:
        try:
            payload = json.loads(text)
        except ValueError:
            self.close_soon(CLOSE_BAD_MESSAGE, "not JSON")
            return False
        if not self._hello.done():
            try:
                self._hello.set_result(Hello.parse(payload))
            except ValueError as exc:
                self.close_soon(CLOSE_BAD_MESSAGE, str(exc))
                return False
            return True
        if isinstance(payload, dict) and "resync" in payload:
            self._resync = True
            self._wake.set()
        return True  # anything else: a newer client's message this server does not know; ignored

    async def _send(self) -> None:
        try:
            hello = await asyncio.wait_for(asyncio.shield(self._hello), self.hub.hello_timeout)
        except TimeoutError:
            self.close_soon(CLOSE_BAD_MESSAGE, "no hello")
            return
        await self._greet(hello)
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._resync:
                self._resync = False
                await self._greet(None)
                continue
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, dict):
                    await self._send_position(item)
                    continue
                stream, seq, body = item
                await self._send_event(stream, seq, body)

    async def _send_event(self, stream: str, seq: int, body: str) -> None:
        prev = self._last.get(stream, 0)
        if seq <= prev:
            return  # already sent by the catch-up
        self._last[stream] = seq
        await self.ws.send_str(f'{{"type":"event","prev":{prev},{body}')

    async def _send_position(self, positions: Mapping[str, int]) -> None:
        for stream, seq in positions.items():
            if seq > self._last.get(stream, 0):
                self._last[stream] = seq
        await self.ws.send_str(_dumps({"type": "position", "seqs": self._last}))

    async def _greet(self, hello: Hello | None) -> None:
        """Answer a hello (or a resync): the missed events when the bus still has them, else a snapshot."""
        self._greeted = False
        self._queue.clear()
        positions, calls = self.hub.attach(self)  # together with the clear above: nothing slips between
        missed = None
        if hello is not None and hello.resume is not None and hello.epoch == self.hub.epoch:
            missed = await self.hub.missed(self.audience, hello.resume, positions)
        user = self.session.user
        welcome = {
            "type": "welcome",
            "epoch": self.hub.epoch,
            "resumed": missed is not None,
            "user": {"id": user.id, "role": user.role.value, "team_id": user.team_id},
        }
        await self.ws.send_str(_dumps(welcome))
        if missed is not None and hello is not None and hello.resume is not None:
            self._last = {s: hello.resume.get(s, 0) for s in STREAMS}
            for stream, seq, body in missed:
                await self._send_event(stream, seq, body)
            await self._send_position(positions)
        else:
            agents = await self.hub.agent_states(self.audience)
            self._last = dict(positions)
            snapshot = {
                "type": "snapshot",
                "seqs": self._last,
                "agents": agents,
                "calls": [c.to_dict() for c in calls],
            }
            await self.ws.send_str(_dumps(snapshot))
        self._greeted = True

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while True:
            pinged = loop.time()
            try:
                async with asyncio.timeout(self.hub.heartbeat):
                    await self.ws.ping()
            except TimeoutError:  # not even a ping gets through: the browser reads nothing
                self.close_soon(CLOSE_TOO_SLOW, "too slow: resync")
                return
            await asyncio.sleep(self.hub.heartbeat)
            if self._heard < pinged:
                self.close_soon(CLOSE_NO_PONG, "no pong")
                return
            self.mark(dict(self.hub.position))
            if loop.time() - checked >= self.hub.session_check:
                checked = loop.time()
                await self.hub.check_session(self)
                if self.close_code is not None:
                    return


class LiveHub:
    def __init__(
        self,
        bus: EventBus,
        db: Database,
        sessions: SessionStore,
        *,
        queue_size: int = 500,
        heartbeat: float = 20.0,
        session_check: float = 60.0,
        max_catch_up: int = 5000,
        warm_up: int = 5000,
    ) -> None:
        self.bus = bus
        self.db = db
        self.sessions = sessions
        self.queue_size = queue_size
        self.heartbeat = heartbeat
        self.session_check = session_check
        self.max_catch_up = max_catch_up
        self.warm_up = warm_up
        self.hello_timeout = 15.0
        self.close_timeout = 10.0
        #: Whose sequence numbers a client holds: on Redis they are the same for every process (a browser may
        #: resume on another web process); an in-process bus starts again at 1 with each process, so each start
        #: is a new epoch. A client resuming with another epoch's seqs gets a snapshot.
        self.epoch = f"redis:{bus.key_prefix}" if isinstance(bus, RedisBus) else secrets.token_hex(8)
        self.view = LiveView()
        self.position: dict[str, int] = dict.fromkeys(STREAMS, 0)
        self._control_seq = 0
        self.connections: set[Connection] = set()
        self._everyone: set[Connection] = set()
        self._by_user: dict[int, set[Connection]] = {}
        self._by_team: dict[int, set[Connection]] = {}
        self._by_board: dict[int, set[Connection]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- life --------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.db.acquire() as conn:
            self.view.teams = await LiveRepository(conn).teams()
        for stream in STREAMS:
            self.position[stream] = await self.bus.last_seq(stream)
        self._control_seq = await self.bus.last_seq(_CONTROL_STREAM)
        await self._warm_up()
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def _warm_up(self) -> None:
        """Rebuild the view (calls and their agents) from the recent history, without fanning anything out."""
        for stream in ("agents", "campaigns", "calls"):
            cursor = max(0, self.position[stream] - self.warm_up)
            while cursor < self.position[stream]:
                page = await self.bus.read(stream, after=cursor, limit=min(1000, self.position[stream] - cursor))
                if not page:
                    break
                for envelope in page:
                    if envelope.seq <= self.position[stream]:
                        self.view.apply(envelope)
                cursor = page[-1].seq

    async def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        for connection in list(self.connections):
            connection.close_soon(code, reason)

    async def stop(self) -> None:
        await self.close_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            after = {**self.position, _CONTROL_STREAM: self._control_seq}
            try:
                async with self.bus.subscribe([*STREAMS, _CONTROL_STREAM], after=after) as events:
                    async for envelope in events:
                        await self._dispatch(envelope)
                return  # the bus closed
            except HistoryLostError as exc:
                # The hub itself fell behind the bus's history: every browser may have missed events.
                log.warning("live_hub_history_lost", stream=exc.stream)
                for stream in STREAMS:
                    self.position[stream] = await self.bus.last_seq(stream)
                self._control_seq = await self.bus.last_seq(_CONTROL_STREAM)
                await self.close_all(CLOSE_TOO_SLOW, "resync")
            except Exception:
                log.exception("live_hub_failed")
                await asyncio.sleep(1)

    # -- fan-out -----------------------------------------------------------------------------------------------

    async def _dispatch(self, envelope: Envelope) -> None:
        if envelope.stream == _CONTROL_STREAM:
            await self._control(envelope)
            self._control_seq = envelope.seq  # after: a failure retries this event on the next subscription
            return
        if envelope.stream not in self.position or envelope.seq <= self.position[envelope.stream]:
            return
        agent = self.view.agent_of(envelope)
        if agent is not None and not self.view.knows_user(agent):
            async with self.db.acquire() as conn:
                _exists, team = await LiveRepository(conn).team_of(agent)
            self.view.set_team(agent, team)  # no such user: remembered as teamless, not looked up again
        # From here to the end: no await, so attach() sees positions and queues that agree.
        self.view.apply(envelope)
        scope = self.view.scope(envelope)
        self.position[envelope.stream] = envelope.seq
        targets = self._targets(envelope.stream, scope)
        if targets:
            body = event_body(envelope)
            for connection in targets:
                connection.offer(envelope.stream, envelope.seq, body)

    def _targets(self, stream: str, scope: Scope) -> set[Connection]:
        if scope.shared == "all":
            return set(self.connections)  # those not yet greeted are not attached: they skip the offer
        targets = set(self._everyone)
        if scope.agent_id is not None:
            targets |= self._by_user.get(scope.agent_id, set())
        if scope.team_id is not None:
            targets |= self._by_team.get(scope.team_id, set())
            if stream == "agents" or scope.shared == "team":
                targets |= self._by_board.get(scope.team_id, set())
        return targets

    def attach(self, connection: Connection) -> tuple[dict[str, int], list[LiveCall]]:
        """Register ``connection`` (again); returns the hub's position and the live calls it sees, as of now."""
        self.detach(connection)
        audience = connection.audience
        connection._attached = True
        self.connections.add(connection)
        self._by_user.setdefault(connection.user_id, set()).add(connection)
        if audience.everything:
            self._everyone.add(connection)
        for team in audience.teams:
            self._by_team.setdefault(team, set()).add(connection)
        if audience.leaderboard_team is not None:
            self._by_board.setdefault(audience.leaderboard_team, set()).add(connection)
        return dict(self.position), self.view.calls_for(audience)

    def detach(self, connection: Connection) -> None:
        connection._attached = False
        self.connections.discard(connection)
        self._everyone.discard(connection)
        _remove(self._by_user, connection.user_id, connection)
        for team in connection.audience.teams:
            _remove(self._by_team, team, connection)
        if connection.audience.leaderboard_team is not None:
            _remove(self._by_board, connection.audience.leaderboard_team, connection)

    def watch(self, connection: Connection) -> None:
        """Know ``connection`` for sign-outs before its hello (it is attached for events only once greeted)."""
        self.connections.add(connection)
        self._by_user.setdefault(connection.user_id, set()).add(connection)

    # -- catch-up and snapshot ---------------------------------------------------------------------------------

    async def missed(
        self, audience: Audience, resume: Mapping[str, int], positions: Mapping[str, int]
    ) -> list[tuple[str, int, str]] | None:
        """The events after ``resume`` up to ``positions`` that ``audience`` sees, oldest first per stream; None
        when they cannot all be had (history gone, too many, or seqs this bus never gave)."""
        out: list[tuple[str, int, str]] = []
        budget = self.max_catch_up
        for stream in STREAMS:
            after = resume.get(stream)
            if after is None:
                return None
            target = positions[stream]
            if after > target:
                if after > await self.bus.last_seq(stream):
                    return None
                continue
            budget -= target - after
            if budget < 0:
                return None
            cursor = after
            while cursor < target:
                page = await self.bus.read(stream, after=cursor, limit=min(1000, target - cursor))
                if not page or page[0].seq != cursor + 1:
                    return None
                for envelope in page:
                    if envelope.seq > target:
                        break
                    if audience.sees(stream, self.view.scope(envelope)):
                        out.append((stream, envelope.seq, event_body(envelope)))
                cursor = page[-1].seq
        return out

    async def agent_states(self, audience: Audience) -> list[dict[str, Any]]:
        async with self.db.acquire() as conn:
            return await LiveRepository(conn).agent_states(audience)

    # -- sign-outs and rights ----------------------------------------------------------------------------------

    async def _control(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, UserCreated):
            self.view.set_team(event.user_id, event.team_id)
        elif isinstance(event, UserUpdated):
            self.view.forget_user(event.user_id)  # his team is read again when an event concerns him
            for connection in list(self._by_user.get(event.user_id, ())):
                await self.recheck(connection)
        elif isinstance(event, UserLoggedOut):
            for connection in list(self._by_user.get(event.user_id, ())):
                await self.check_session(connection)
        elif isinstance(event, TeamCreated | TeamUpdated):
            for connection in list(self.connections):
                if connection.session.user.role is Role.TEAM_LEADER:
                    await self.recheck(connection)

    async def check_session(self, connection: Connection) -> None:
        """Close ``connection`` when its session is over (4401), without prolonging the session."""
        async with self.db.acquire() as conn:
            alive = await LiveRepository(conn).session_alive(connection.session.token_hash)
        if not alive:
            connection.close_soon(CLOSE_UNAUTHENTICATED, "signed out")

    async def recheck(self, connection: Connection) -> None:
        """Close ``connection`` when its session is over (4401) or its user's audience changed (4409)."""
        session = await self.sessions.load(connection.token)
        if session is None:
            connection.close_soon(CLOSE_UNAUTHENTICATED, "signed out")
            return
        audience = await audience_for(session, self.db)
        if audience is None:
            connection.close_soon(CLOSE_FORBIDDEN, "not allowed")
        elif audience != connection.audience:
            connection.close_soon(CLOSE_RIGHTS_CHANGED, "rights changed: reconnect")
        else:
            connection.session = session


def _remove(index: dict[int, set[Connection]], key: int, connection: Connection) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(connection)
        if not members:
            del index[key]
