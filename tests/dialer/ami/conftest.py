"""Fixtures of the AMI engine tests: the real simulator over TCP, a raw fake Asterisk, an in-process bus."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from callcenter.bus.events import Event
from callcenter.bus.memory import InProcessBus
from callcenter.metrics import Metrics
from config.settings import AmiSettings, PbxSimSettings
from dialer.ami import AmiConnection, AmiEngine
from dialer.events import CallEnded, CallFailed
from pbx_sim.app import PbxSim, running_pbx_sim

SPEED = 20.0  # simulated seconds per real second: a 2 s ring takes 0.1 s

# Short timers so reconnects and keep-alive happen within a test.
FAST: dict[str, Any] = {"ping_interval": 0.5, "backoff_base": 0.05, "backoff_cap": 0.4, "auth_retry_delay": 0.3}


def ami_settings(port: int, *, secret: str = "dialer", timeout: float = 1.0) -> AmiSettings:
    return AmiSettings(host="127.0.0.1", port=port, username="dialer", secret=secret, action_timeout=timeout)


def gauge(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None
    return value


async def until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def call_events(bus: InProcessBus, linkedid: str | None = None) -> list[Event]:
    envelopes = await bus.read("calls", limit=100_000)
    return [e.event for e in envelopes if linkedid is None or getattr(e.event, "linkedid", None) == linkedid]


async def outcome(bus: InProcessBus, linkedid: str, timeout: float = 10.0) -> list[Event]:  # noqa: ASYNC109
    """The call's events once it ended or failed."""
    deadline = time.monotonic() + timeout
    while True:
        events = await call_events(bus, linkedid)
        if any(isinstance(e, CallEnded | CallFailed) for e in events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"call {linkedid} did not end: {names(events)}")
        await asyncio.sleep(0.01)


def names(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    memory = InProcessBus(history=100_000)
    await memory.start()
    yield memory
    await memory.close()


@pytest.fixture
async def sim() -> AsyncIterator[PbxSim]:
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED) as running:
        yield running


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """Exceptions that reached the event loop (a crashed callback or task)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


@contextlib.asynccontextmanager
async def running_engine(
    port: int, bus: InProcessBus, metrics: Metrics, *, connect: bool = True, **options: Any
) -> AsyncIterator[AmiEngine]:
    timeout = options.pop("timeout", 1.0)
    engine_options = {k: options.pop(k) for k in ("agents", "wrap_up_seconds", "roles") if k in options}
    connection = AmiConnection(ami_settings(port, timeout=timeout), metrics, **{**FAST, **options})
    engine = AmiEngine(connection, bus, metrics, **engine_options)
    await engine.start()
    try:
        if connect:
            await connection.wait_connected(5)
            await until(lambda: engine.resyncs >= 1, what="the first resync")
        yield engine
    finally:
        await engine.close()
