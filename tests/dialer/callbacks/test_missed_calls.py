"""Missed-call capture (seed 001 "Çağrı yakalama"): one entry per number with its misses and the time it has
waited, the agents' call-back list (missed calls and busy / unanswered records), and taking entries."""

from __future__ import annotations

from datetime import timedelta

from dialer.callbacks.model import EntryKind, MissedStatus, MissSource
from dialer.campaigns.model import Outcome, by_outcome
from dialer.campaigns.repository import CallOutcome, CallRecordRepository, CampaignRepository, DialRecords
from dialer.campaigns.service import settle_attempt
from tests.dialer.callbacks.conftest import T0, Desk


async def test_misses_of_one_number_make_one_entry_that_keeps_its_first_time(desk: Desk) -> None:
    missed = desk.missed
    desk.clock.at = T0
    await missed.capture_queue_abandon("05321112233", "destek", "1795431718.0", 12)
    desk.clock.at = T0 + timedelta(minutes=5)
    await missed.capture_queue_abandon("0532 111 22 33", "destek", "1795431900.4", 40)
    await missed.capture_queue_abandon("05321112233", "destek", "1795431900.4", 40)  # the same call, told twice
    desk.clock.at = T0 + timedelta(minutes=7)
    await missed.capture_queue_abandon("02124445566", "satis", "1795432000.9", 3)
    await missed.capture_queue_abandon("anonymous", "destek", "1795432100.1", 8)  # nobody to call back

    first, second = await missed.live()
    assert (first.phone, first.misses, first.queue, first.source) == (
        "+905321112233",
        2,
        "destek",
        MissSource.QUEUE_ABANDON,
    )
    assert (first.first_missed_at, first.last_missed_at) == (T0, T0 + timedelta(minutes=5))
    assert first.waited(T0 + timedelta(minutes=10)) == timedelta(minutes=10)
    assert (second.phone, second.misses) == ("+902124445566", 1)

    lines = await missed.list_for(desk.users["ayse"])
    assert [(e.kind, e.phone, e.misses) for e in lines] == [
        (EntryKind.MISSED, "+905321112233", 2),
        (EntryKind.MISSED, "+902124445566", 1),
    ]
    assert [e.waited(T0 + timedelta(minutes=10)) for e in lines] == [timedelta(minutes=10), timedelta(minutes=3)]
    async with desk.db.acquire() as conn:
        events = await conn.fetch("SELECT call_id, hold_seconds FROM missed_call_events ORDER BY missed_at, call_id")
    assert [(e["call_id"], e["hold_seconds"]) for e in events] == [
        ("1795431718.0", 12),
        ("1795431900.4", 40),
        ("1795432000.9", 3),
    ]


async def test_agents_take_entries_one_each_and_a_reached_number_starts_afresh(desk: Desk) -> None:
    missed = desk.missed
    for minute, (number, call) in enumerate((("05321112233", "a"), ("05329998877", "b")), 1):
        desk.clock.at = T0 + timedelta(minutes=minute)
        await missed.capture_queue_abandon(number, "destek", call, 5)
    ayse, burak, cem = (desk.users[n] for n in ("ayse", "burak", "cem"))
    first = await missed.take(ayse)
    second = await missed.take(burak)
    assert first is not None and second is not None
    assert (first.phone, first.status, first.taken_by) == ("+905321112233", MissedStatus.TAKEN, ayse)
    assert (second.phone, second.taken_by) == ("+905329998877", burak)
    assert await missed.take(cem) is None
    assert await missed.take(cem, first.id) is None
    # Taken by someone else, it is not in the others' list; a new miss still counts on it.
    assert [e.phone for e in await missed.list_for(cem)] == []
    assert [e.phone for e in await missed.list_for(ayse)] == ["+905321112233"]
    desk.clock.at = T0 + timedelta(minutes=9)
    await missed.capture_queue_abandon("05321112233", "destek", "c", 5)
    again = await missed.get(first.id)
    assert again is not None and (again.misses, again.status) == (2, MissedStatus.TAKEN)

    # Ayşe could not reach the number: it goes back, at its place (it has waited longest).
    assert await missed.release(burak, first.id) is None  # not his
    released = await missed.release(ayse, first.id)
    assert released is not None and released.status is MissedStatus.OPEN
    assert [e.phone for e in await missed.list_for(cem)] == ["+905321112233"]
    retaken = await missed.take(cem)
    assert retaken is not None and retaken.id == first.id

    dismissed = await missed.dismiss(cem, first.id)
    assert dismissed is not None and (dismissed.status, dismissed.close_reason) == (MissedStatus.CLOSED, "dismissed")
    desk.clock.at = T0 + timedelta(minutes=20)
    await missed.capture_queue_abandon("05321112233", "destek", "d", 5)
    fresh = [m for m in await missed.live() if m.phone == "+905321112233"]
    assert [(m.misses, m.first_missed_at) for m in fresh] == [(1, T0 + timedelta(minutes=20))]
    assert fresh[0].id != first.id


async def test_busy_and_unanswered_records_are_in_the_list_once_per_number(desk: Desk) -> None:
    r0, r1, _ = desk.records
    await desk.log_in("ayse", T0)
    async with desk.db.acquire() as conn:
        dispositions = await CampaignRepository(conn).dispositions(desk.campaign.id)
        for record, outcome, minute in ((r0, Outcome.BUSY, 1), (r1, Outcome.NO_ANSWER, 2)):
            at = T0 + timedelta(minutes=minute)
            claimed = await DialRecords(conn).claim(
                desk.campaign, at, agent_id=desk.users["ayse"], team_id=desk.team, for_preview=True
            )
            assert claimed is not None and claimed.id == record.id
            attempt = await DialRecords(conn).count_attempt(record.id, at)
            call_id = f"retry-{record.id}"
            await CallRecordRepository(conn).start(
                call_id,
                phone=record.phone,
                dialed_at=at,
                campaign_id=desk.campaign.id,
                pool_record_id=record.id,
                customer_id=None,
                agent_id=desk.users["ayse"],
                attempt=attempt,
            )
            reason = "busy" if outcome is Outcome.BUSY else "no_answer"
            call = await CallRecordRepository(conn).finish(
                call_id, CallOutcome("failed", at, None, None, at, None, reason, 17, "", None)
            )
            disposition = by_outcome(dispositions, outcome)
            assert call is not None and disposition is not None
            await settle_attempt(conn, desk.campaign.id, call, disposition, at, by=None)
    # The second number also called in and hung up in the queue.
    desk.clock.at = T0 + timedelta(minutes=4)
    await desk.missed.capture_queue_abandon(r1.phone, "destek", "in-1", 9)

    lines = await desk.missed.list_for(desk.users["burak"])
    assert [(e.kind, e.phone, e.reason, e.waiting_since) for e in lines] == [
        (EntryKind.RETRY, r0.phone, "busy", T0 + timedelta(minutes=1)),
        (EntryKind.MISSED, r1.phone, "queue_abandon", T0 + timedelta(minutes=2)),
    ]
    assert lines[0].next_attempt_at == T0 + timedelta(minutes=16) and lines[0].pool_record_id == r0.id
    assert lines[1].pool_record_id == r1.id  # the missed number is known: its record
    # An agent of a team the campaign does not have sees only the missed call.
    async with desk.db.acquire() as conn:
        await conn.execute("DELETE FROM campaign_teams WHERE team_id = $1", desk.other_team)
    assert [e.kind for e in await desk.missed.list_for(desk.users["cem"])] == [EntryKind.MISSED]
