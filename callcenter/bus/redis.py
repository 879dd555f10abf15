"""The event bus on Redis Streams, shared by every process of a deployment.

Keys: ``{prefix}:seq:{stream}`` holds the last sequence number given out, ``{prefix}:stream:{stream}`` is the
Redis stream whose entry IDs are ``{seq}-0`` and whose one field, ``envelope``, is the JSON of
:meth:`Envelope.to_dict`. A Lua script takes the seq and appends the entry in one step, so publishers in
several processes can never interleave out of order, and seqs of a stream are contiguous (1, 2, 3, ...). That is
what lets a subscriber detect trimmed history: any jump in the seqs it reads means events it never saw are gone.

Each subscription owns one connection (named ``{prefix}:sub:{n}``, handy in ``CLIENT LIST``) because XREAD BLOCK
holds its connection; when that connection drops it reconnects with capped backoff and resumes after the last
seq it read, so nothing is lost or repeated.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import KeyT, StreamIdT

from callcenter.bus import Envelope, HistoryLostError
from callcenter.bus.events import Event, UnknownEventError

log = logging.getLogger(__name__)

# Errors after which a subscriber reconnects (a Redis restart, a killed connection, a network partition).
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, builtins.TimeoutError, OSError)
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 2.0
_READ_COUNT = 500

# KEYS: seq counter, stream. ARGV: envelope JSON without "seq" (an object with at least one key), MAXLEN.
# The seq is also kept above the stream's newest entry, so a lost counter key can never make XADD fail.
_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #top > 0 then
  local newest = tonumber(string.match(top[1][1], '^(%d+)-'))
  if newest >= seq then
    seq = newest + 1
    redis.call('SET', KEYS[1], string.format('%d', seq))
  end
end
local envelope = '{"seq":' .. string.format('%d', seq) .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq), 'envelope', envelope)
return seq
"""

# KEYS: seq counter, stream. Returns {last seq given out, seq of the oldest kept entry or 0}.
_BOUNDS_LUA = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local oldest = 0
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #top > 0 then
  last = math.max(last, tonumber(string.match(top[1][1], '^(%d+)-')))
  local bottom = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  oldest = tonumber(string.match(bottom[1][1], '^(%d+)-'))
end
return {string.format('%d', last), string.format('%d', oldest)}
"""


class BusUnavailableError(builtins.ConnectionError):
    """Redis could not be reached when the bus started."""


class _Script:
    """A Lua script run by EVALSHA, loaded on first use on each server (redis-py's Script is untyped)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: aioredis.Redis, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


_publish = _Script(_PUBLISH_LUA)
_bounds = _Script(_BOUNDS_LUA)


def _seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.partition("-")[0])


def _redact(url: str) -> str:
    """The URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


class RedisBus:
    """:class:`~callcenter.bus.EventBus` on Redis Streams.

    ``history`` is the approximate number of events kept per stream (``MAXLEN ~``: Redis trims whole stream
    nodes, so at least ``history`` and up to about a hundred more are kept). ``block_ms`` is how long one XREAD
    waits for live events; ``timeout`` bounds every other Redis command and connection attempt.
    """

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "callcenter",
        history: int = 100_000,
        block_ms: int = 1000,
        timeout: float = 5.0,
    ) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        if block_ms < 1:
            raise ValueError("block_ms must be at least 1 (0 would block forever)")
        self.url = url
        self.key_prefix = key_prefix
        self.history = history
        self.block_ms = block_ms
        self.timeout = timeout
        self._client: aioredis.Redis | None = None
        self._subscriptions: set[_RedisSubscription] = set()
        self._names = itertools.count(1)

    def _connect(self, name: str) -> aioredis.Redis:
        # No silent retries: a retried publish could be applied twice (when only the reply was lost), and
        # subscriptions do their own reconnecting with backoff. No socket_timeout either: every call is bounded
        # by asyncio.timeout here instead, because redis-py's socket timeout (5 s by default) would cut an
        # XREAD BLOCK longer than that, and on Python 3.11 the asyncio.wait_for it uses for writes can swallow
        # a cancellation (so close() could not interrupt a blocked read).
        return aioredis.Redis.from_url(
            self.url,
            client_name=name,
            socket_connect_timeout=self.timeout,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0),
        )

    async def start(self) -> None:
        if self._client is not None:
            return
        client = self._connect(f"{self.key_prefix}:pub")
        try:
            async with asyncio.timeout(self.timeout):
                await client.ping()
        except (*_TRANSIENT, AuthenticationError) as error:
            await client.aclose()
            raise BusUnavailableError(f"cannot reach Redis at {_redact(self.url)}: {error}") from error
        self._client = client

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        client, self._client = self._client, None
        if client is not None:
            async with asyncio.timeout(self.timeout):
                await client.aclose()

    def seq_key(self, stream: str) -> str:
        return f"{self.key_prefix}:seq:{stream}"

    def stream_key(self, stream: str) -> str:
        return f"{self.key_prefix}:stream:{stream}"

    async def publish(self, event: Event) -> Envelope:
        """Append ``event``. On a Redis error or timeout it may or may not have been published: it is not
        retried here, because retrying after a lost reply would publish it twice."""
        if not event.STREAM:
            raise ValueError(f"{type(event).__name__} names no stream")
        draft = Envelope(stream=event.STREAM, seq=0, event=event)
        body = draft.to_dict()
        del body["seq"]  # the script puts the seq it takes in front
        keys = [self.seq_key(event.STREAM), self.stream_key(event.STREAM)]
        async with asyncio.timeout(self.timeout):
            seq = await _publish(self._require_client(), keys, [json.dumps(body), self.history])
        return Envelope(stream=event.STREAM, seq=int(seq), event=event, published_at=draft.published_at)

    def subscribe(self, streams: Sequence[str], *, after: Mapping[str, int] | None = None) -> _RedisSubscription:
        """See :meth:`~callcenter.bus.EventBus.subscribe`. Without ``after``, "from now" means from when the
        subscription starts: on ``async with`` or on the first read, whichever comes first."""
        self._require_client()
        subscription = _RedisSubscription(self, streams, after, f"{self.key_prefix}:sub:{next(self._names)}")
        self._subscriptions.add(subscription)
        return subscription

    async def last_seq(self, stream: str) -> int:
        last, _ = await self._bounds(self._require_client(), stream)
        return last

    async def read(self, stream: str, *, after: int = 0, limit: int = 1000) -> list[Envelope]:
        async with asyncio.timeout(self.timeout):
            entries = await self._require_client().xrange(
                self.stream_key(stream), min=f"{after + 1}-0", max="+", count=limit
            )
        return [envelope for envelope in map(_decode_entry, entries or []) if envelope is not None]

    async def _bounds(self, client: aioredis.Redis, stream: str) -> tuple[int, int]:
        """(last seq given out, seq of the oldest kept event or 0 when none is kept)."""
        async with asyncio.timeout(self.timeout):
            last, oldest = await _bounds(client, [self.seq_key(stream), self.stream_key(stream)], [])
        return int(last), int(oldest)

    def _require_client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("RedisBus is not started (or already closed)")
        return self._client

    def _forget(self, subscription: _RedisSubscription) -> None:
        self._subscriptions.discard(subscription)


def _decode_entry(entry: Any) -> Envelope | None:
    """An envelope from an ``(id, {field: value})`` stream entry, or None (logged) when it cannot be decoded.

    Skipping is deliberate: no consumer can use such an entry, and raising would stop every subscriber of the
    stream at the same place, again after each restart."""
    entry_id, fields = entry
    try:
        return Envelope.from_dict(json.loads(fields[b"envelope"]))
    except UnknownEventError as error:
        # Published by a newer version of another process; this one does not know the type yet.
        log.warning("skipping bus entry %r: %s", entry_id, error)
    except (KeyError, ValueError, TypeError):
        log.exception("skipping undecodable bus entry %r", entry_id)
    return None


class _RedisSubscription:
    def __init__(self, bus: RedisBus, streams: Sequence[str], after: Mapping[str, int] | None, name: str) -> None:
        self._bus = bus
        self._streams = {bus.stream_key(stream): stream for stream in streams}
        self._after = dict(after or {})
        self.name = name
        # The last seq read per stream (set when the subscription starts); the next XREAD resumes after it.
        self._position: dict[str, int] = {}
        self._pending: deque[Envelope] = deque()
        self._error: HistoryLostError | None = None
        self._client: aioredis.Redis | None = None
        self._in_flight: asyncio.Timeout | None = None
        self._closing = asyncio.Event()
        self._idle = asyncio.Event()  # clear while a task is inside _attempt (and may hold the connection)
        self._idle.set()
        self._started = False
        self._backoff = _BACKOFF_FIRST

    @property
    def _closed(self) -> bool:
        return self._closing.is_set()

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        await self._ensure_started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def __anext__(self) -> Envelope:
        await self._ensure_started()
        while not self._pending:
            if self._error is not None:
                error, self._error = self._error, None
                await self.close()
                raise error
            if self._closed:
                raise StopAsyncIteration
            await self._attempt(self._read, self._bus.block_ms / 1000 + self._bus.timeout)
        if self._closed:
            raise StopAsyncIteration
        return self._pending.popleft()

    async def close(self) -> None:
        if self._closed:
            return
        self._closing.set()  # also ends a reconnect backoff
        self._bus._forget(self)
        self._pending.clear()
        in_flight = self._in_flight
        if in_flight is None:
            await self._drop_client()
        elif not in_flight.expired():
            # A read (or connect) is under way in another task: cut it short; that task drops the client.
            in_flight.reschedule(asyncio.get_running_loop().time())
        # Wait (bounded) for that task to let go of the connection, so it is closed when close() returns.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._bus.timeout):
                await self._idle.wait()

    async def _ensure_started(self) -> None:
        while not self._started and not self._closed:
            await self._attempt(self._start, self._bus.timeout * (1 + len(self._streams)))

    async def _start(self, client: aioredis.Redis) -> None:
        position = {}
        for stream in self._streams.values():
            last, oldest = await self._bus._bounds(client, stream)
            after = self._after.get(stream)
            if after is None:
                position[stream] = last
                continue
            position[stream] = after
            kept_from = oldest or last + 1
            if after < kept_from - 1 and self._error is None:
                self._error = HistoryLostError(stream, after, kept_from)
        self._position = position
        self._started = True

    async def _read(self, client: aioredis.Redis) -> None:
        keys: dict[KeyT, StreamIdT] = {
            self._bus.stream_key(stream): f"{seq}-0" for stream, seq in self._position.items()
        }
        response: Any = await client.xread(keys, count=_READ_COUNT, block=self._bus.block_ms)
        batches = response.items() if isinstance(response, dict) else response or []
        for key, entries in batches:
            stream = self._streams[key.decode() if isinstance(key, bytes) else key]
            for entry in entries:
                seq = _seq_of(entry[0])
                if seq != self._position[stream] + 1:
                    # Seqs are contiguous: a jump means the entries in between were trimmed before we read them.
                    self._error = HistoryLostError(stream, self._position[stream], seq)
                    return
                self._position[stream] = seq
                envelope = _decode_entry(entry)
                if envelope is not None:
                    self._pending.append(envelope)

    async def _attempt(self, step: Callable[[aioredis.Redis], Awaitable[None]], limit: float) -> None:
        """Run ``step(client)`` under a deadline; on a connection problem, drop the client and back off."""
        self._idle.clear()
        try:
            async with asyncio.timeout(limit) as self._in_flight:
                if self._client is None:
                    self._client = self._bus._connect(self.name)
                await step(self._client)
            self._backoff = _BACKOFF_FIRST
        except _TRANSIENT as error:
            self._in_flight = None
            await self._drop_client()
            if self._closed:
                return
            log.warning("bus subscription %s: %r; reconnecting in %.1f s", self.name, error, self._backoff)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._backoff):
                    await self._closing.wait()
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        finally:
            self._in_flight = None
            try:
                if self._closed:
                    await self._drop_client()
            finally:
                self._idle.set()

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(self._bus.timeout):
                    await client.aclose()
            except _TRANSIENT as error:  # it is being thrown away; nothing more to do
                log.debug("bus subscription %s: closing its connection failed: %r", self.name, error)


__all__ = ["BusUnavailableError", "RedisBus"]
