"""One contract, two buses: every test here runs on InProcessBus and on RedisBus (real Redis)."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from callcenter.bus import Envelope, EventBus, HistoryLostError, Subscription
from callcenter.bus.events import Event
from callcenter.bus.redis import BusUnavailableError, RedisBus

from .conftest import BusFactory

redis_only = pytest.mark.parametrize("make_bus", ["redis"], indirect=True)


class ContractMood(enum.Enum):
    CALM = "calm"
    BUSY = "busy"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContractAgentPaused(Event):
    STREAM = "agents"
    agent_id: str
    reason: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContractCallAnswered(Event):
    STREAM = "calls"
    call_id: uuid.UUID
    by: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContractEverythingHappened(Event):
    STREAM = "kinds"
    when: datetime
    day: date
    call_id: uuid.UUID
    mood: ContractMood
    tags: tuple[str, ...]
    pair: tuple[int, str]
    note: str | None
    missing: int | None
    counts: dict[str, int]
    ratio: float
    flag: bool


async def take(sub: Subscription, count: int, within: float = 5.0) -> list[Envelope]:
    async with asyncio.timeout(within):
        return [await anext(sub) for _ in range(count)]


async def assert_nothing_more(sub: Subscription, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(wait):
            extra = await anext(sub)
            pytest.fail(f"unexpected {extra}")


async def publish_agents(bus: EventBus, count: int, start: int = 0) -> list[Envelope]:
    return [await bus.publish(ContractAgentPaused(agent_id=f"agent-{start + i}")) for i in range(count)]


async def test_seq_starts_at_one_and_counts_per_stream(bus: EventBus) -> None:
    first = await bus.publish(ContractAgentPaused(agent_id="a"))
    call = ContractCallAnswered(call_id=uuid.uuid4())
    answered = await bus.publish(call)
    second = await bus.publish(ContractAgentPaused(agent_id="b"))
    third = await bus.publish(ContractAgentPaused(agent_id="c"))
    answered_again = await bus.publish(ContractCallAnswered(call_id=uuid.uuid4()))

    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert [answered.seq, answered_again.seq] == [1, 2]
    assert answered.stream == "calls"
    assert answered.event is call
    assert await bus.last_seq("agents") == 3
    assert await bus.last_seq("calls") == 2
    assert await bus.last_seq("never-used") == 0


async def test_live_events_reach_every_subscriber_in_order(bus: EventBus) -> None:
    async with bus.subscribe(["agents", "calls"]) as both, bus.subscribe(["agents"]) as agents_only:
        published = await publish_agents(bus, 3)
        published.append(await bus.publish(ContractCallAnswered(call_id=uuid.uuid4())))
        published += await publish_agents(bus, 2, start=3)

        got_both = await take(both, 6)
        got_agents = await take(agents_only, 5)

    def by_stream(envelopes: list[Envelope], stream: str) -> list[Envelope]:
        return [e for e in envelopes if e.stream == stream]

    for stream in ("agents", "calls"):
        assert by_stream(got_both, stream) == by_stream(published, stream)
    assert got_agents == by_stream(published, "agents")
    assert [e.seq for e in got_agents] == [1, 2, 3, 4, 5]


async def test_subscribe_without_after_gets_only_new_events(bus: EventBus) -> None:
    await publish_agents(bus, 2)
    async with bus.subscribe(["agents"]) as sub:
        new = await bus.publish(ContractAgentPaused(agent_id="new"))
        assert await take(sub, 1) == [new]
        await assert_nothing_more(sub)


async def test_after_is_per_stream(bus: EventBus) -> None:
    old_agents = await publish_agents(bus, 3)
    await bus.publish(ContractCallAnswered(call_id=uuid.uuid4()))
    async with bus.subscribe(["agents", "calls"], after={"agents": 1}) as sub:
        assert await take(sub, 2) == old_agents[1:]
        new_call = await bus.publish(ContractCallAnswered(call_id=uuid.uuid4()))
        assert await take(sub, 1) == [new_call]  # calls: only new ones, the old call is not replayed


async def test_catch_up_meets_live_without_gap_or_duplicate_while_publishing(bus: EventBus) -> None:
    await publish_agents(bus, 50)

    async def keep_publishing() -> None:
        for i in range(200):
            await bus.publish(ContractAgentPaused(agent_id=f"late-{i}"))
            if i % 5 == 0:
                await asyncio.sleep(0.001)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(keep_publishing())
        await asyncio.sleep(0.005)
        async with bus.subscribe(["agents"], after={"agents": 10}) as sub:
            assert 50 < await bus.last_seq("agents") < 250, "the publisher must still be running"
            received = await take(sub, 240, within=10)
            await assert_nothing_more(sub)

    assert [e.seq for e in received] == list(range(11, 251))
    assert [e.event.agent_id for e in received[-200:]] == [f"late-{i}" for i in range(200)]  # type: ignore[attr-defined]


async def test_typed_event_round_trips_with_every_field_type(bus: EventBus) -> None:
    event = ContractEverythingHappened(
        occurred_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        when=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        day=date(2024, 2, 29),
        call_id=uuid.uuid4(),
        mood=ContractMood.BUSY,
        tags=("vip", "callback"),
        pair=(7, "seven"),
        note=None,
        missing=None,
        counts={"attempts": 3, "answered": 1},
        ratio=0.1 + 0.2,
        flag=True,
    )
    async with bus.subscribe(["kinds"]) as sub:
        published = await bus.publish(event)
        (received,) = await take(sub, 1)
    (read_back,) = await bus.read("kinds")

    for envelope in (received, read_back):
        assert envelope == published
        got = envelope.event
        assert isinstance(got, ContractEverythingHappened)
        assert got == event
        assert got.mood is ContractMood.BUSY
        assert isinstance(got.call_id, uuid.UUID)
        assert got.tags == ("vip", "callback")
        assert got.when.utcoffset() == timedelta(hours=2)
        assert got.ratio == 0.1 + 0.2


async def test_read_and_last_seq(bus: EventBus) -> None:
    published = await publish_agents(bus, 7)
    assert await bus.read("agents") == published
    assert await bus.read("agents", after=4) == published[4:]
    assert await bus.read("agents", after=2, limit=3) == published[2:5]
    assert await bus.read("agents", after=7) == []
    assert await bus.read("nothing-here") == []
    assert await bus.last_seq("agents") == 7


async def test_catching_up_from_lost_history_raises(make_bus: BusFactory) -> None:
    bus = await make_bus(history=5)
    await publish_agents(bus, 250)  # Redis trims whole stream nodes (~100 entries): publish well past that
    oldest = (await bus.read("agents", limit=1))[0].seq
    assert 1 < oldest <= 246

    async with bus.subscribe(["agents"], after={"agents": oldest - 2}) as sub:
        with pytest.raises(HistoryLostError) as lost:
            await take(sub, 1)
    assert (lost.value.stream, lost.value.after, lost.value.oldest) == ("agents", oldest - 2, oldest)

    async with bus.subscribe(["agents"], after={"agents": oldest - 1}) as sub:
        received = await take(sub, 251 - oldest)
    assert [e.seq for e in received] == list(range(oldest, 251))


async def test_subscriber_left_behind_past_history_raises_instead_of_skipping(make_bus: BusFactory) -> None:
    bus = await make_bus(history=5)
    async with bus.subscribe(["agents"]) as sub:
        await publish_agents(bus, 250)  # nobody reads meanwhile
        received: list[int] = []
        with pytest.raises(HistoryLostError):
            async with asyncio.timeout(5):
                async for envelope in sub:
                    received.append(envelope.seq)
        assert received == list(range(1, len(received) + 1))  # whatever came before the error had no gap
        with pytest.raises(StopAsyncIteration):
            await anext(sub)


async def test_close_ends_iteration(bus: EventBus) -> None:
    seen: dict[str, list[int]] = {"one": [], "two": [], "three": []}
    first_seen = {"one": asyncio.Event(), "two": asyncio.Event()}

    async def drain(sub: Subscription, name: str) -> None:
        async for envelope in sub:
            seen[name].append(envelope.seq)
            first_seen[name].set()

    loop = asyncio.get_running_loop()
    one, two, three = bus.subscribe(["agents"]), bus.subscribe(["agents"]), bus.subscribe(["calls"])
    async with one, two, three, asyncio.TaskGroup() as tasks:
        first = tasks.create_task(drain(one, "one"))
        second = tasks.create_task(drain(two, "two"))
        tasks.create_task(drain(three, "three"))
        await publish_agents(bus, 1)
        async with asyncio.timeout(5):
            await first_seen["one"].wait()
            await first_seen["two"].wait()

        await one.close()  # ends only its own iteration
        async with asyncio.timeout(1):
            await first
        assert not second.done()

        closing_started = loop.time()
        await bus.close()  # ends every subscription, even those blocked waiting for events
    assert loop.time() - closing_started < 1
    assert seen == {"one": [1], "two": [1], "three": []}
    with pytest.raises(StopAsyncIteration):
        await anext(two)
    with pytest.raises(RuntimeError):
        await bus.publish(ContractAgentPaused(agent_id="too late"))


async def test_a_cancelled_wait_loses_nothing(bus: EventBus) -> None:
    async with bus.subscribe(["agents"]) as sub:
        await assert_nothing_more(sub, wait=0.1)  # a caller's timeout cancels the read
        published = await publish_agents(bus, 3)
        assert await take(sub, 3) == published


async def test_resubscribing_after_last_seen_gets_exactly_the_missed_events(bus: EventBus) -> None:
    async with bus.subscribe(["agents"]) as sub:
        await publish_agents(bus, 3)
        last_seen = (await take(sub, 3))[-1].seq

    missed = await publish_agents(bus, 5, start=3)  # nobody is listening

    async with bus.subscribe(["agents"], after={"agents": last_seen}) as sub:
        assert await take(sub, 5) == missed
        live = await bus.publish(ContractAgentPaused(agent_id="live"))
        assert await take(sub, 1) == [live]
        await assert_nothing_more(sub)


async def kill_subscriber_connections(admin: aioredis.Redis, key_prefix: str) -> int:
    killed = 0
    for client in await admin.client_list():
        if client["name"].startswith(f"{key_prefix}:sub:"):
            killed += int(await admin.client_kill_filter(_id=client["id"]))
    return killed


@redis_only
async def test_redis_subscriber_survives_its_connection_being_killed(
    make_bus: BusFactory, redis_admin: aioredis.Redis, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    total = 150
    received: list[int] = []
    kills: list[int] = []
    kill_at = {total // 3: asyncio.Event(), 2 * total // 3: asyncio.Event()}

    async with subscriber.subscribe(["agents"]) as sub:

        async def consume() -> None:
            async for envelope in sub:
                received.append(envelope.seq)
                if len(received) in kill_at:
                    kill_at[len(received)].set()
                if envelope.seq == total:
                    return

        async def publish() -> None:
            for i in range(total):
                await publisher.publish(ContractAgentPaused(agent_id=f"agent-{i}"))
                await asyncio.sleep(0.003)

        async def kill() -> None:
            for reached in kill_at.values():
                await reached.wait()  # mid-stream: the publisher is still going
                kills.append(await kill_subscriber_connections(redis_admin, key_prefix))

        async with asyncio.timeout(15), asyncio.TaskGroup() as tasks:
            for job in (consume, publish, kill):
                tasks.create_task(job())

    assert kills == [1, 1]
    assert [r.getMessage() for r in caplog.records if "reconnecting" in r.getMessage()] != []
    assert received == list(range(1, total + 1))


@redis_only
async def test_redis_two_publishing_processes_get_unique_gapless_seqs(make_bus: BusFactory) -> None:
    first, second, watcher = await make_bus(), await make_bus(), await make_bus()
    workers, each = 10, 20
    total = 2 * workers * each

    async def worker(bus: EventBus, name: str) -> list[Envelope]:
        return [await bus.publish(ContractCallAnswered(call_id=uuid.uuid4(), by=name)) for _ in range(each)]

    async with watcher.subscribe(["calls"]) as sub:
        batches = await asyncio.gather(
            *(worker(bus, f"{label}{w}") for w in range(workers) for bus, label in ((first, "a"), (second, "b")))
        )
        received = await take(sub, total, within=10)

    published = {envelope.seq: envelope for batch in batches for envelope in batch}
    assert sorted(published) == list(range(1, total + 1))  # unique and gap-free
    assert [e.seq for e in received] == list(range(1, total + 1))
    assert all(e.event == published[e.seq].event for e in received)
    for batch in batches:  # each publisher's own events got increasing seqs
        assert [e.seq for e in batch] == sorted(e.seq for e in batch)


@redis_only
async def test_redis_seq_survives_a_lost_counter_key(
    bus: EventBus, redis_admin: aioredis.Redis, key_prefix: str
) -> None:
    await publish_agents(bus, 3)
    await redis_admin.delete(f"{key_prefix}:seq:agents")  # e.g. evicted under memory pressure
    assert (await bus.publish(ContractAgentPaused(agent_id="after eviction"))).seq == 4
    assert await bus.last_seq("agents") == 4


async def test_redis_start_names_the_unreachable_url_without_its_password() -> None:
    bus = RedisBus("redis://:s3cret@127.0.0.1:1/0", timeout=1.0)
    with pytest.raises(BusUnavailableError, match=r"redis://:\*\*\*@127\.0\.0\.1:1/0") as error:
        await bus.start()
    assert "s3cret" not in str(error.value)


@redis_only
async def test_redis_skips_an_entry_no_process_can_decode(
    bus: EventBus, redis_admin: aioredis.Redis, key_prefix: str
) -> None:
    first = await bus.publish(ContractAgentPaused(agent_id="before"))
    # What a newer version of another process could publish: a type this process does not know.
    await redis_admin.incr(f"{key_prefix}:seq:agents")
    future = {"type": "ContractFromTheFuture", "version": 1, "data": {}}
    envelope = {"seq": 2, "stream": "agents", "published_at": first.published_at.isoformat(), "event": future}
    await redis_admin.xadd(f"{key_prefix}:stream:agents", {"envelope": json.dumps(envelope)}, id="2-0")
    third = await bus.publish(ContractAgentPaused(agent_id="after"))

    async with bus.subscribe(["agents"], after={"agents": 0}) as sub:
        assert await take(sub, 2) == [first, third]
    assert await bus.read("agents") == [first, third]
