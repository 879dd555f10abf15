"""The one place that touches panoramisk: a single TCP connection to the AMI, framed and parsed by panoramisk 1.4.

We use panoramisk for what it does well (the framing of ``data_received``, ``Message`` parsing, ActionID routing
of replies to the action that asked, ``dispatch`` of events) and replace what does not fit a dialer:

* ``Manager.connect`` / ``connection_made`` / ``connection_lost`` reconnect on a fixed 2 s timer forever (also
  after a refused login) and log in by themselves: :class:`~dialer.ami.connection.AmiConnection` does both, with
  backoff. ``Manager.ping`` only writes a Ping and never looks for the Pong: the connection does keep-alive.
* ``Manager.__init__`` registers the coroutine ``send_awaiting_actions`` on ``FullyBooted``; ``dispatch`` runs it as
  a dropped task, and it re-sends every action that was pending when the last connection died (an Originate
  twice). We remove that callback, never let panoramisk queue actions for a resend, and fail them instead.
* ``Action.multi`` / ``completed`` guess from the reply's text when a reply is complete: an Async Originate's
  future waits for the OriginateResponse event (panoramisk PR #88/#89), an Originate without ``Async`` raises
  ``KeyError: 'async'`` inside ``data_received`` (issue #90), and a list action answered ``Response: Error`` never
  completes with ``as_list=True``. :class:`_Reply` and :class:`_ListReply` decide completion explicitly.
* ``data_received`` decodes each TCP read on its own with ``errors="ignore"``, dropping a UTF-8 character split
  between two reads (Turkish names!), parses everything a read brought in one go (no backpressure possible),
  keeps an unbounded buffer for a message that never ends, and lets one odd message (a repeated ``Event:``
  header becomes a list) raise out of ``data_received``, which kills the transport. We decode incrementally,
  feed panoramisk one message at a time so it can be held between two, bound the buffer, and skip a message
  that panoramisk cannot handle.
* ``Action.__str__`` writes values as they are: a CR or LF in a value would inject headers; :meth:`Wire.request`
  refuses them.
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from dialer.ami.message import AmiConnectionLostError, AmiMessage, from_panoramisk

log = structlog.get_logger(__name__)

MAX_PARTIAL_BYTES = 1 << 20  # an unterminated message longer than this is garbage: drop the connection
Value = str | Sequence[str]


class _Reply(Action):  # type: ignore[misc]  # panoramisk is untyped
    """A single-response action: the first *response* carrying its ActionID completes it. An event with the same
    ActionID (the OriginateResponse of an Async Originate) is dispatched like any other event."""

    def add_message(self, message: Any) -> bool:
        if "event" in message:
            self.forward(message)
            return False
        self.responses.append(message)
        if not self.future.done():
            self.future.set_result(list(self.responses))
        return True


class _ListReply(Action):  # type: ignore[misc]
    """A list action: ``Response: Success`` + ``EventList: start``, items, then ``EventList: Complete``. Any other
    first reply (``Response: Error``: e.g. an action this PBX does not know) completes it at once."""

    def add_message(self, message: Any) -> bool:
        self.responses.append(message)
        if self.future.done():
            return True
        if len(self.responses) == 1 and "event" not in message:
            if str(message.get("response", "")).lower() != "success" or "eventlist" not in message:
                self.future.set_result(list(self.responses))
                return True
            return False
        if str(message.get("eventlist", "")).lower() == "complete":
            self.future.set_result(list(self.responses))
            return True
        return False


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager as event dispatcher and action sender only: no connect, login, ping or reconnect."""

    def __init__(self, wire: Wire) -> None:
        super().__init__(loop=asyncio.get_running_loop(), forgetable_actions=())
        # Drop the FullyBooted -> send_awaiting_actions callback (see the module docstring).
        self.callbacks.clear()
        self.patterns.clear()
        self._wire = wire
        # panoramisk's dispatch() would run a coroutine callback as a dropped task: ours is plain and only enqueues.
        self.register_event("*", self._on_event)

    def _on_event(self, _manager: Any, message: Any) -> None:
        wanted = self._wire.wanted
        if wanted is not None:
            name = message.get("event", "")
            if not isinstance(name, str) or name not in wanted:
                return  # most of a busy PBX's stream: dropped before it costs a conversion or a queue slot
        self._wire.on_event(from_panoramisk(message))

    def connection_lost(self, exc: Any) -> None:
        """Called by the protocol when the socket closed or an ``Event: Shutdown`` arrived; no reconnect here."""
        self.awaiting_actions.clear()
        self._wire.lost(exc)

    def ping(self) -> None:  # never scheduled (we never call connection_made); never write unchecked Pings
        return None


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, fed one whole message at a time so that it can stop between two (:attr:`held`):
    what a socket read brought beyond that waits here, decoded, until :meth:`feed` is called again."""

    def __init__(self, manager: _Manager) -> None:
        super().__init__()
        self._manager = manager
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._backlog = ""
        self.held = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # Wired here, not after create_connection returns, so no byte can arrive before the protocol is ready.
        self.factory = self._manager
        self.encoding = "utf-8"
        self.config = self._manager.config
        self._manager.protocol = self

    def data_received(self, data: bytes) -> None:
        self._backlog += self._decoder.decode(data)
        self.feed()
        if not self.held and len(self._backlog) > MAX_PARTIAL_BYTES:
            log.warning("ami_unterminated_message", chars=len(self._backlog))
            self._backlog = ""
            self.transport.abort()

    def feed(self) -> None:
        text, start = self._backlog, 0
        while not self.held and not self.closed:  # nothing more once the peer is gone (or shut down)
            end = text.find("\r\n\r\n", start)
            if end < 0:
                break
            super().data_received(text[start : end + 4].encode("utf-8"))
            start = end + 4
        if start:
            self._backlog = text[start:]

    def handle_message(self, message: Any) -> None:
        try:
            super().handle_message(message)
        except Exception as error:  # one odd message must not kill the connection
            log.warning("ami_message_skipped", error=repr(error))

    def close(self) -> None:
        # panoramisk would keep unanswered actions for a resend after the next FullyBooted: the Wire fails them.
        self.responses.clear()
        super().close()


class Wire:
    """One open AMI connection. ``on_event`` gets every event named in ``wanted`` (all when None), synchronously
    and in wire order: it must only enqueue; ``on_lost`` is told once when the connection is gone, and every
    pending request then fails."""

    _ids = itertools.count(1)

    def __init__(
        self,
        on_event: Callable[[AmiMessage], None],
        on_lost: Callable[[Wire, str], None],
        *,
        id_prefix: str,
        wanted: frozenset[str] | None = None,
    ) -> None:
        self.on_event = on_event
        self.wanted = wanted
        self._on_lost = on_lost
        self._id_prefix = id_prefix
        self._manager = _Manager(self)
        self._protocol: _Protocol | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._closed = False

    async def open(self, host: str, port: int) -> None:
        """Connect (the caller bounds it with a timeout). The banner is not awaited: Login is."""
        loop = asyncio.get_running_loop()
        _transport, protocol = await loop.create_connection(lambda: _Protocol(self._manager), host, port)
        self._protocol = protocol

    @property
    def is_open(self) -> bool:
        protocol = self._protocol
        return protocol is not None and not self._closed and not protocol.transport.is_closing()

    @property
    def version(self) -> str:
        """The protocol version of the banner (``Asterisk Call Manager/11.0.0`` -> "11.0.0"), once read."""
        return str(self._protocol.version or "") if self._protocol is not None else ""

    def new_action_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    async def request(
        self, fields: Mapping[str, Value], *, listing: bool, action_id: str | None = None
    ) -> list[AmiMessage]:
        """Send one action and wait for its reply (one message, or the whole list). No timeout here: the caller
        wraps it in one; when it gives up, the action is forgotten so a late reply cannot leak memory."""
        _check(fields)
        if not self.is_open:
            raise AmiConnectionLostError("the AMI connection is closed")
        assert self._protocol is not None
        action_id = action_id or self.new_action_id()
        action = (_ListReply if listing else _Reply)({**fields, "ActionID": action_id})
        action.forward = self._manager.dispatch
        future: asyncio.Future[Any] = action.future
        self._pending[action_id] = future
        try:
            self._protocol.send(action, as_list=None)
            replies = await future
        finally:
            self._pending.pop(action_id, None)
            if self._protocol is not None:
                self._protocol.responses.pop(action_id, None)
        return [from_panoramisk(reply) for reply in replies]

    def hold(self) -> None:
        """Stop handing on messages after the current one, and stop reading the socket (TCP pushes back)."""
        protocol = self._protocol
        if protocol is not None and not protocol.held:
            protocol.held = True
            if self.is_open:
                protocol.transport.pause_reading()

    def release(self) -> None:
        """Hand on what waits (this may hold again), then read the socket again."""
        protocol = self._protocol
        if protocol is None or not protocol.held:
            return
        protocol.held = False
        protocol.feed()
        if not protocol.held and self.is_open:
            protocol.transport.resume_reading()

    def abort(self) -> None:
        """Drop the connection now (a dead peer, garbage, an overflow); ``on_lost`` follows."""
        if self._protocol is not None and not self._closed:
            self._protocol.transport.abort()

    def close(self) -> None:
        """Our own close: nothing is reported to ``on_lost``; pending requests fail."""
        if self._closed:
            return
        self._closed = True
        if self._protocol is not None:
            self._protocol.close()
        self._fail_pending("the AMI connection was closed")

    def lost(self, exc: Any) -> None:
        if self._closed:
            return
        self._closed = True
        reason = _reason(exc)
        self._fail_pending(f"the AMI connection was lost: {reason}")
        self._on_lost(self, reason)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AmiConnectionLostError(why))
        self._pending.clear()


def _reason(exc: Any) -> str:
    if exc is None:
        return "closed by the peer"
    if isinstance(exc, BaseException):
        return repr(exc)
    if "event" in exc and str(exc.get("event", "")).lower() == "shutdown":
        return f"Asterisk shut down ({exc.get('shutdown', '')}, restart: {exc.get('restart', '')})"
    return str(exc)


def _check(fields: Mapping[str, Value]) -> None:
    for name, value in fields.items():
        values = [value] if isinstance(value, str) else list(value)
        for text in (name, *values):
            if "\r" in text or "\n" in text:
                raise ValueError(f"AMI header {name!r}: CR/LF in a value would inject headers")
        if not name or ":" in name:
            raise ValueError(f"invalid AMI header name {name!r}")
