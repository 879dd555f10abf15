"""Fixtures for the bus contract tests: each bus implementation, and a plain Redis client for poking at Redis.

Redis tests use the real server at ``CALLCENTER_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``) with
a unique key prefix per test; the test's keys are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from callcenter.bus import EventBus
from callcenter.bus.memory import InProcessBus
from callcenter.bus.redis import RedisBus

REDIS_URL = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

BusFactory = Callable[..., Awaitable[EventBus]]


@pytest.fixture
def key_prefix() -> str:
    return f"test-bus-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_admin() -> AsyncIterator[aioredis.Redis]:
    """A Redis client of its own (not part of any bus). It connects on first use only."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_timeout=5)
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_bus(
    request: pytest.FixtureRequest, key_prefix: str, redis_admin: aioredis.Redis
) -> AsyncIterator[BusFactory]:
    """Builds started buses of the parametrised kind: ``await make_bus(history=5)``. All are closed afterwards.

    Redis buses built by one test share its key prefix, so two of them behave like two processes."""
    buses: list[EventBus] = []
    kind = request.param

    async def make(*, history: int = 10_000) -> EventBus:
        bus: EventBus
        if kind == "memory":
            bus = InProcessBus(history=history)
        else:
            # block_ms well above what any test waits, so a test that passes did not wait for a BLOCK to expire.
            bus = RedisBus(REDIS_URL, key_prefix=key_prefix, history=history, block_ms=3000, timeout=2.0)
        buses.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in buses:
        await bus.close()
    if kind == "redis":
        keys = [key async for key in redis_admin.scan_iter(match=f"{key_prefix}:*", count=1000)]
        if keys:
            await redis_admin.delete(*keys)


@pytest.fixture
async def bus(make_bus: BusFactory) -> EventBus:
    return await make_bus()
