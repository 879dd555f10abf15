"""The AMI connection: login, keep-alive, reconnect with backoff, actions with timeouts, and one event queue.

:class:`AmiConnection` keeps one logged-in AMI session to Asterisk alive for as long as it runs:

* **Login** with ``ami.username`` / ``ami.secret``. A refused login raises nothing to the caller: it is logged
  (:class:`~dialer.ami.message.AmiAuthenticationError`, naming the settings to check), kept as ``last_error``
  and retried no sooner than ``auth_retry_delay``, so a wrong secret never becomes a tight loop.
* **Keep-alive**: a Ping every ``ping_interval`` seconds; no answer within ``action_timeout`` means the peer is
  dead (a half-open TCP connection gives no other sign), so the connection is dropped and made again.
* **Reconnect** after any loss (EOF, reset, ``Event: Shutdown``, a missed Pong) with exponential backoff from
  ``backoff_base`` up to ``backoff_cap``, jittered (each wait is 50-100 % of the nominal one). A session that
  lasted less than ``backoff_cap`` does not reset the backoff, so a PBX that drops us at once is not hammered.
* **Events** are put, in wire order, on one bounded :class:`asyncio.Queue` read by ONE consumer task, which
  hands them to the :class:`AmiHandler` (the engine) one at a time. :class:`Connected` / :class:`Disconnected`
  markers go through the same queue, so the handler sees a new session's events only after its ``Connected``
  (it resyncs there) and never an old session's events after its ``Disconnected``.
* **Backpressure**: when half the queue is full the wire holds (panoramisk is handed no further message and the
  socket is not read, so TCP pushes back on Asterisk) until the consumer has drained it to a quarter. Only while
  a resync waits for its list replies does reading go on, into the other half. Should the queue ever overflow,
  the session is dropped and the next one's resync repairs the state: events are never lost silently.
* ``events`` is the login's event mask: ``call,agent,system`` is all the engine reads, and leaves out the
  ``dialplan`` class (VarSet, Newexten: half of a busy PBX's traffic) and ``cdr``.
* ``ami_connected`` (metrics) is 1 exactly while a session is logged in.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import random
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

import structlog

from callcenter.metrics import Metrics
from config.settings import AmiSettings
from dialer.ami.message import (
    AmiActionError,
    AmiAuthenticationError,
    AmiConnectionLostError,
    AmiError,
    AmiList,
    AmiMessage,
    AmiNotConnectedError,
    AmiTimeoutError,
    Connected,
    Disconnected,
)
from dialer.ami.wire import Value, Wire

log = structlog.get_logger(__name__)


class AmiHandler(Protocol):
    """What the consumer task feeds, one call at a time, in order. An exception is logged and the next item
    follows; one from ``on_connected`` (a failed resync) also drops the session so it is tried again."""

    async def on_connected(self, connected: Connected) -> None: ...

    async def on_event(self, message: AmiMessage) -> None: ...

    async def on_disconnected(self, disconnected: Disconnected) -> None: ...


Item = AmiMessage | Connected | Disconnected


class AmiConnection:
    def __init__(
        self,
        settings: AmiSettings,
        metrics: Metrics,
        *,
        ping_interval: float | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float | None = None,
        auth_retry_delay: float | None = None,
        events: str | None = None,
        queue_size: int = 10_000,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        if queue_size < 1000:
            # Reading is held at half the queue; the other half takes what arrives during a resync, which must
            # go on reading to get its list replies (a burst beyond it drops the session: see _enqueue).
            raise ValueError("queue_size must be at least 1000")
        self.settings = settings
        self._metrics = metrics
        # Keyword arguments win over the settings (tests use short intervals).
        self._ping_interval = settings.ping_interval if ping_interval is None else ping_interval
        self._backoff_base = backoff_base
        self._backoff_cap = settings.reconnect_max if backoff_cap is None else backoff_cap
        self._auth_retry_delay = settings.auth_retry_delay if auth_retry_delay is None else auth_retry_delay
        self._events = settings.events if events is None else events
        self._timeout = settings.action_timeout
        self._queue: asyncio.Queue[Item] = asyncio.Queue(queue_size)
        self._high_water, self._low_water = queue_size // 2, queue_size // 4
        self._jitter = jitter or random.SystemRandom().random
        self._id_prefix = secrets.token_hex(3)
        self._action_ids = itertools.count(1)
        self._wire: Wire | None = None
        self._up = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._paused = False
        self._resyncing = False  # the consumer waits for a list reply: reading must go on
        self.read_pauses = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._only: frozenset[str] | None = None
        self.generation = 0
        self.connect_attempts = 0
        self.last_error: Exception | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------

    async def start(self, handler: AmiHandler, *, only: Collection[str] | None = None) -> None:
        """Start connecting (in the background, for ever) and feeding ``handler`` (with the events named in
        ``only``, or all). Returns at once."""
        if self._tasks:
            raise RuntimeError("the AMI connection is already started")
        self._only = frozenset(only) if only is not None else None
        self._metrics.ami_connected.set(0)
        self._tasks = [
            asyncio.create_task(self._consume(handler), name="ami-events"),
            asyncio.create_task(self._run(), name="ami-connection"),
        ]

    async def close(self) -> None:
        """Log off (briefly), stop reconnecting and stop the consumer; queued events are dropped."""
        wire = self._wire
        if wire is not None and self._up.is_set():
            with contextlib.suppress(AmiError, TimeoutError):
                await self._request(wire, "Logoff", {}, listing=False, timeout=min(self._timeout, 1.0))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._wire is not None:
            self._wire.close()
            self._wire = None
        self._up.clear()
        self._metrics.ami_connected.set(0)

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline, not a network call
        """Wait until a session is logged in. If not in time: the refused login
        (:class:`AmiAuthenticationError`) if that is why, else :class:`AmiTimeoutError` (from ``last_error``)."""
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError as error:
            if isinstance(self.last_error, AmiAuthenticationError):
                raise self.last_error from None
            raise AmiTimeoutError("Login", timeout) from (self.last_error or error)

    # -- actions --------------------------------------------------------------------------------------------------

    def new_action_id(self) -> str:
        """An ActionID of this process (the engine names an Originate before sending it)."""
        return f"{self._id_prefix}-o{next(self._action_ids)}"

    async def action(
        self,
        name: str,
        fields: Mapping[str, Value] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - bounds the wait for Asterisk's reply
        action_id: str | None = None,
        check: bool = True,
    ) -> AmiMessage:
        """Send a single-response action and return Asterisk's reply. Raises :class:`AmiNotConnectedError`,
        :class:`AmiTimeoutError` (default ``ami.action_timeout``), :class:`AmiConnectionLostError`, and with
        ``check`` :class:`AmiActionError` when the reply is not a success."""
        replies = await self._request(
            self._live(), name, fields or {}, listing=False, timeout=timeout, action_id=action_id
        )
        reply = replies[0]
        if check and not reply.is_success:
            raise AmiActionError(name, reply)
        return reply

    async def list_action(
        self,
        name: str,
        fields: Mapping[str, Value] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - bounds the whole list
    ) -> AmiList:
        """Send a list action (CoreShowChannels, QueueStatus, Status, ...) and collect its EventList until the
        ``...Complete`` event. Raises like :meth:`action`; a ``Response: Error`` is an :class:`AmiActionError`."""
        replies = await self._request(self._live(), name, fields or {}, listing=True, timeout=timeout)
        response = replies[0]
        if not response.is_success:
            raise AmiActionError(name, response)
        rest = replies[1:]
        complete = rest[-1] if rest and rest[-1].get("EventList").lower() == "complete" else None
        items = tuple(rest[:-1] if complete is not None else rest)
        return AmiList(response, items, complete)

    def _live(self) -> Wire:
        wire = self._wire
        if wire is None or not self._up.is_set():
            raise AmiNotConnectedError(f"not connected to the AMI at {self.where}")
        return wire

    async def _request(
        self,
        wire: Wire,
        name: str,
        fields: Mapping[str, Value],
        *,
        listing: bool,
        timeout: float | None,  # noqa: ASYNC109
        action_id: str | None = None,
    ) -> list[AmiMessage]:
        limit = self._timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await wire.request({"Action": name, **fields}, listing=listing, action_id=action_id)
        except TimeoutError as error:
            raise AmiTimeoutError(name, limit) from error

    # -- the connection task --------------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                wire, started = await self._connect(), time.monotonic()
            except AmiAuthenticationError as error:
                self.last_error = error
                delay = self._delay(attempt, floor=self._auth_retry_delay)
                log.error("ami_login_refused", error=str(error), retry_in=round(delay, 2))
            except Exception as error:  # refused, unreachable, no answer to Login in time (or a bug: keep trying)
                self.last_error = error
                delay = self._delay(attempt)
                log.warning("ami_connect_failed", where=self.where, error=repr(error), retry_in=round(delay, 2))
            else:
                try:
                    reason = await self._session(wire)
                except Exception as error:  # never let the connection task die
                    log.exception("ami_session_failed")
                    wire.abort()
                    self._on_lost(wire, repr(error))
                    reason = repr(error)
                await self._queue.put(Disconnected(self.generation, reason))
                lasted = time.monotonic() - started
                attempt = 0 if lasted >= self._backoff_cap else attempt
                delay = self._delay(attempt)
                log.warning("ami_disconnected", reason=reason, lasted=round(lasted, 3), retry_in=round(delay, 2))
            attempt += 1
            await asyncio.sleep(delay)

    def _delay(self, attempt: int, *, floor: float = 0.0) -> float:
        nominal = max(floor, min(self._backoff_cap, self._backoff_base * (1 << min(attempt, 30))))
        return nominal * (0.5 + 0.5 * self._jitter())

    async def _connect(self) -> Wire:
        """Open a socket and log in, each step bounded by ``action_timeout``; then announce the session."""
        self.connect_attempts += 1
        early: collections.deque[AmiMessage] = collections.deque()  # they wait for the Connected marker
        announced = False

        def hold(message: AmiMessage) -> None:
            early.append(message)
            if not announced and len(early) >= self._high_water:
                wire.hold()

        wire = Wire(hold, self._on_lost, id_prefix=self._id_prefix, wanted=self._only)
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    await wire.open(self.settings.host, self.settings.port)
            except TimeoutError as error:
                raise AmiTimeoutError("connect", self._timeout) from error
            login = {
                "Username": self.settings.username,
                "Secret": self.settings.secret.get_secret_value(),
                "Events": self._events,
            }
            # Asterisk answers a wrong secret after a 1 s pause: allow for it on top of the action timeout.
            reply = (await self._request(wire, "Login", login, listing=False, timeout=self._timeout + 1.0))[0]
        except BaseException:
            wire.close()
            raise
        if not reply.is_success:
            wire.close()
            raise AmiAuthenticationError(self.settings.username, self.where, reply.get("Message"))
        if not wire.is_open:  # lost in the very read that brought the login reply (an Event: Shutdown with it)
            raise AmiConnectionLostError(f"the AMI connection to {self.where} ended right after login")
        self._wire, self._paused = wire, False
        self._lost.clear()
        self.generation += 1
        self.last_error = None
        self._up.set()
        self._metrics.ami_connected.set(1)
        log.info("ami_connected", where=self.where, version=wire.version, generation=self.generation)
        await self._queue.put(Connected(self.generation))
        announced = True
        wire.release()  # the resync that starts now must be able to read its replies
        while early:  # what arrives meanwhile joins ``early``; the consumer may still be busy with the last session
            await self._queue.put(early.popleft())
        wire.on_event = self._enqueue
        if not self._resyncing:
            self._pause_if_full()
        return wire

    async def _session(self, wire: Wire) -> str:
        """Keep the session alive until it is lost; returns why it ended."""
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval):
                    await self._lost.wait()
                break
            if self._paused:
                continue  # we are not reading the socket: a missing Pong would prove nothing
            try:
                await self._request(wire, "Ping", {}, listing=False, timeout=None)
            except AmiTimeoutError:
                log.warning("ami_keepalive_missed", where=self.where, timeout=self._timeout)
                wire.abort()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._lost.wait()
                if not self._lost.is_set():  # the transport did not report its end: treat it as gone
                    self._on_lost(wire, "no Pong")
            except AmiConnectionLostError:
                pass  # _lost is set
        return self._lost_reason

    def _on_lost(self, wire: Wire, reason: str) -> None:
        if wire is not self._wire:
            return  # a socket that never got logged in
        self._wire = None
        self._up.clear()
        self._metrics.ami_connected.set(0)
        self._lost_reason = reason
        self._lost.set()

    # -- the event queue ------------------------------------------------------------------------------------------

    def _enqueue(self, message: AmiMessage) -> None:
        """Called inside the socket's data_received: never blocks, never raises."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.error("ami_event_queue_overflow", size=self._queue.qsize())
            if self._wire is not None:
                self._wire.abort()  # the next session's resync repairs what the lost events would have said
            return
        if not self._resyncing:
            self._pause_if_full()

    def _pause_if_full(self) -> None:
        if not self._paused and self._queue.qsize() >= self._high_water and self._wire is not None:
            self._paused = True
            self.read_pauses += 1
            self._wire.hold()

    def _resume_if_drained(self) -> None:
        if self._paused and self._queue.qsize() <= self._low_water:
            self._paused = False
            if self._wire is not None:
                self._wire.release()

    async def _consume(self, handler: AmiHandler) -> None:
        while True:
            item = await self._queue.get()
            self._resume_if_drained()
            try:
                if isinstance(item, AmiMessage):
                    await handler.on_event(item)
                elif isinstance(item, Connected):
                    # The resync waits for list replies: those would stay unread behind paused reading.
                    self._resyncing = True
                    try:
                        await handler.on_connected(item)
                    finally:
                        self._resyncing = False
                        self._pause_if_full()
                else:
                    await handler.on_disconnected(item)
            except Exception:
                log.exception("ami_handler_failed", item=repr(item))
                if isinstance(item, Connected) and item.generation == self.generation and self._wire is not None:
                    self._wire.abort()  # the resync failed: a new session resyncs again
