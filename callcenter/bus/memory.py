"""The event bus for one process: per-stream sequence numbers, bounded history, one queue per subscriber.

Everything that decides order (taking a seq, appending to the history, handing the envelope to the subscribers,
registering a new subscriber and taking its catch-up snapshot) runs without an ``await`` in between, so the event
loop makes it atomic: catch-up and live delivery meet with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Self

from callcenter.bus import Envelope, HistoryLostError
from callcenter.bus.events import Event


class _Stream:
    __slots__ = ("history", "seq")

    def __init__(self, history: int) -> None:
        self.seq = 0
        self.history: deque[Envelope] = deque(maxlen=history)

    def oldest_kept(self) -> int:
        """The seq of the oldest kept event, or the next seq when nothing is kept."""
        return self.history[0].seq if self.history else self.seq + 1

    def after(self, seq: int, limit: int | None = None) -> list[Envelope]:
        """Kept events with a seq greater than ``seq``, at most ``limit`` (seqs in the history are contiguous)."""
        start = max(0, seq - self.oldest_kept() + 1)
        stop = None if limit is None else start + max(limit, 0)
        return list(itertools.islice(self.history, start, stop))


class InProcessBus:
    """:class:`~callcenter.bus.EventBus` for a single process (tests, simulation, a one-process deployment).

    ``history`` is the number of events kept per stream for catch-up. It is also how far (in events, over all
    its streams) a subscriber may fall behind live delivery before it must catch up from the history again; when
    that history is gone too, its iteration raises :class:`HistoryLostError` instead of silently skipping.
    """

    def __init__(self, *, history: int = 10_000) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self._history = history
        self._streams: dict[str, _Stream] = {}
        self._subscriptions: set[_MemorySubscription] = set()
        self._closed = False

    async def start(self) -> None:
        """Nothing to open; present for the :class:`~callcenter.bus.EventBus` protocol."""

    async def close(self) -> None:
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()

    async def publish(self, event: Event) -> Envelope:
        if self._closed:
            raise RuntimeError("the bus is closed")
        if not event.STREAM:
            raise ValueError(f"{type(event).__name__} names no stream")
        stream = self._stream(event.STREAM)
        stream.seq += 1
        envelope = Envelope(stream=event.STREAM, seq=stream.seq, event=event)
        stream.history.append(envelope)
        for subscription in self._subscriptions:
            subscription._offer(envelope)
        return envelope

    def subscribe(self, streams: Sequence[str], *, after: Mapping[str, int] | None = None) -> _MemorySubscription:
        if self._closed:
            raise RuntimeError("the bus is closed")
        subscription = _MemorySubscription(self, streams, after or {})
        self._subscriptions.add(subscription)
        return subscription

    async def last_seq(self, stream: str) -> int:
        return self._stream(stream).seq

    async def read(self, stream: str, *, after: int = 0, limit: int = 1000) -> list[Envelope]:
        return self._stream(stream).after(after, limit)

    def _stream(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream(self._history)
        return stream

    def _forget(self, subscription: _MemorySubscription) -> None:
        self._subscriptions.discard(subscription)


class _MemorySubscription:
    """Catch-up envelopes first (``_pending``), then the live queue. ``None`` in the queue means closed."""

    def __init__(self, bus: InProcessBus, streams: Sequence[str], after: Mapping[str, int]) -> None:
        self._bus = bus
        self._streams = frozenset(streams)
        self._queue: asyncio.Queue[Envelope | None] = asyncio.Queue()
        self._pending: deque[Envelope] = deque()
        # The last seq delivered (or deliberately skipped) per stream: everything at or below it is not wanted.
        self._delivered: dict[str, int] = {}
        self._error: HistoryLostError | None = None
        self._overflowed = False
        self._closed = False
        for name in self._streams:
            stream = bus._stream(name)
            self._delivered[name] = after.get(name, stream.seq)
        self._catch_up()

    def _catch_up(self) -> None:
        """Fill ``_pending`` from the history, after what was delivered. Synchronous: no event can slip by."""
        self._pending.clear()
        for name in sorted(self._streams):
            stream = self._bus._stream(name)
            seen = self._delivered[name]
            if seen < stream.oldest_kept() - 1:
                self._error = HistoryLostError(name, seen, stream.oldest_kept())
                return
            self._pending.extend(stream.after(seen))

    def _offer(self, envelope: Envelope) -> None:
        if self._closed or self._overflowed or envelope.stream not in self._streams:
            return
        if self._queue.qsize() >= self._bus._history:
            # Too far behind: stop queueing and catch up from the history on the next read instead.
            self._overflowed = True
            return
        self._queue.put_nowait(envelope)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Envelope:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._overflowed:
                while not self._queue.empty():
                    self._queue.get_nowait()
                self._overflowed = False
                self._catch_up()
            if self._error is not None:
                error, self._error = self._error, None
                await self.close()
                raise error
            if self._pending:
                envelope: Envelope | None = self._pending.popleft()
            else:
                # No timeout: an in-process wait, woken by publish() or by close().
                envelope = await self._queue.get()
            if envelope is None:
                raise StopAsyncIteration
            if envelope.seq <= self._delivered[envelope.stream]:
                continue
            self._delivered[envelope.stream] = envelope.seq
            return envelope

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._forget(self)
        self._pending.clear()
        self._queue.put_nowait(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["InProcessBus"]
