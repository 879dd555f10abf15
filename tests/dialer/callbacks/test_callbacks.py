"""Scheduled call-backs (seed 001 "Randevu sistemi"): what the agents get in their picks, what they see, the alerts
and the warnings, through the real campaign services and record pick on the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.callbacks.events import CallbackDue
from dialer.callbacks.model import OWNER_GRACE, CallbackStatus, Visibility
from dialer.callbacks.service import CallbackRefusedError, due_callbacks_for
from dialer.campaigns.model import Outcome, by_outcome
from dialer.campaigns.repository import CallOutcome, CallRecordRepository, CampaignRepository, DialRecords
from dialer.campaigns.service import settle_attempt
from tests.dialer.callbacks.conftest import T0, Desk

DUE = T0 + timedelta(hours=1)


async def _callback_by_disposition(desk: Desk, visibility: str = "team") -> tuple[int, str]:
    """Ayşe talks to the third record and asks to be called back in an hour; returns (record id, call id)."""
    await desk.log_in("ayse", T0)
    held = [await desk.claim("ayse", T0) for _ in range(3)]
    assert [r.id for r in held if r] == [r.id for r in desk.records]
    first, second, third = held
    assert first and second and third
    call_id = await desk.talk("ayse", third, T0)
    event = await desk.campaigns.dispose(
        desk.users["ayse"],
        call_id,
        "call_back",
        note="Akşam müsaitmiş, fatura sorusu var.",
        callback_at=DUE,
        now=T0 + timedelta(minutes=2),
        callback_visibility=visibility,
    )
    assert event.status == "assigned" and event.next_attempt_at == DUE.isoformat()
    await desk.give_back(first)
    await desk.give_back(second)
    return third.id, call_id


async def test_a_due_call_back_goes_to_its_owner_first_then_to_his_team_after_the_grace(desk: Desk) -> None:
    r0, r1, r2 = (r.id for r in desk.records)
    record, call_id = await _callback_by_disposition(desk)
    assert record == r2
    [callback] = await desk.callbacks.list_for(desk.users["ayse"])
    assert (callback.pool_record_id, callback.owner_id, callback.team_id) == (r2, desk.users["ayse"], desk.team)
    assert (callback.due_at, callback.status, callback.visibility) == (DUE, CallbackStatus.OPEN, Visibility.TEAM)
    assert callback.note == "Akşam müsaitmiş, fatura sorusu var." and callback.source_call_id == call_id
    assert callback.phone == "+905321110003" and callback.campaign_id == desk.campaign.id

    await desk.log_in("burak", T0)
    # Before it is due nobody gets the record.
    assert await desk.claim_all("ayse", DUE - timedelta(minutes=1)) == [r0, r1]
    # Due: first in the owner's picks; his team-mate does not get it while he is there.
    assert await desk.claim_all("burak", DUE) == [r0, r1]
    assert await desk.claim_all("ayse", DUE) == [r2, r0, r1]

    # The owner leaves: his team-mate gets it only once he has been away for the grace period, and then first;
    # an agent of another team never (visibility "team").
    left = DUE + timedelta(minutes=1)
    await desk.log_out("ayse", left)
    assert await desk.claim_all("burak", left + OWNER_GRACE - timedelta(seconds=1)) == [r0, r1]
    after_grace = left + OWNER_GRACE
    assert await desk.claim_all("burak", after_grace) == [r2, r0, r1]
    assert await desk.claim_all("cem", after_grace) == [r0, r1]
    async with desk.db.acquire() as conn:
        assert [c.id for c in await due_callbacks_for(conn, desk.users["burak"], after_grace)] == [callback.id]
        assert await due_callbacks_for(conn, desk.users["cem"], after_grace) == []

    # Burak calls the customer back: the call-back is done, by his call.
    taken = await desk.claim("burak", after_grace)
    assert taken is not None and taken.id == r2
    fulfilling = await desk.talk("burak", taken, after_grace)
    await desk.campaigns.dispose(desk.users["burak"], fulfilling, "sale", now=after_grace + timedelta(minutes=3))
    done = await desk.callbacks.get(callback.id)
    assert done is not None and done.status is CallbackStatus.DONE
    assert (done.fulfilled_call_id, done.done_by) == (fulfilling, desk.users["burak"])
    assert await desk.callbacks.list_for(desk.users["ayse"]) == []


async def test_visibility_says_who_sees_changes_and_takes_a_call_back(desk: Desk) -> None:
    r0, r1, r2 = (r.id for r in desk.records)
    desk.clock.at = T0
    own = await desk.callbacks.schedule(desk.actor("ayse"), r1, DUE, note="Sadece ben", visibility=Visibility.OWN)
    with pytest.raises(CallbackRefusedError) as refused:
        await desk.callbacks.schedule(desk.actor("burak"), r1, DUE + timedelta(hours=1))
    assert refused.value.code == "error.callback_exists"
    with pytest.raises(CallbackRefusedError):
        await desk.callbacks.schedule(desk.actor("burak"), r0, T0 - timedelta(minutes=1))

    assert [c.id for c in await desk.callbacks.list_for(desk.users["ayse"])] == [own.id]
    assert await desk.callbacks.list_for(desk.users["burak"]) == []
    with pytest.raises(CallbackRefusedError) as refused:
        await desk.callbacks.cancel(desk.actor("burak"), own.id)
    assert refused.value.code == "error.callback_not_yours"

    # Ayşe never logged in: long after it is due, an "only me" call-back still waits for her.
    late = DUE + OWNER_GRACE * 3
    await desk.log_in("burak", T0)
    await desk.log_in("cem", T0)
    assert await desk.claim_all("burak", late) == [r0, r2]
    assert await desk.claim_all("cem", late) == [r0, r2]

    # Made public, it goes to whoever asks first, before his other records; others may now change it.
    desk.clock.at = T0 + timedelta(minutes=5)
    public = await desk.callbacks.reschedule(desk.actor("ayse"), own.id, DUE, visibility=Visibility.ALL)
    assert public.visibility is Visibility.ALL
    assert [c.id for c in await desk.callbacks.list_for(desk.users["cem"])] == [own.id]
    assert await desk.claim_all("cem", late) == [r1, r0, r2]
    with pytest.raises(CallbackRefusedError):
        await desk.callbacks.reschedule(desk.actor("cem"), own.id, DUE, visibility=Visibility.OWN)
    moved = await desk.callbacks.reschedule(desk.actor("cem"), own.id, late + timedelta(days=1), note="Yarın")
    assert moved.note == "Yarın" and moved.visibility is Visibility.ALL
    assert await desk.claim_all("cem", late) == [r0, r2]  # the record waits for the new time
    cancelled = await desk.callbacks.cancel(desk.actor("burak"), own.id)
    assert cancelled.status is CallbackStatus.CANCELLED and cancelled.done_by == desk.users["burak"]
    assert await desk.callbacks.list_for(desk.users["ayse"]) == []


async def test_a_due_call_back_alerts_its_owner_once_then_his_team_once(desk: Desk) -> None:
    await _callback_by_disposition(desk)
    [callback] = await desk.callbacks.list_for(desk.users["ayse"])
    assert await desk.callbacks.alert_due(DUE - timedelta(seconds=1)) == []

    [alert] = await desk.callbacks.alert_due(DUE)
    assert (alert.callback_id, alert.owner_id, alert.escalated) == (callback.id, desk.users["ayse"], False)
    assert alert.phone == "+905321110003" and alert.note == "Akşam müsaitmiş, fatura sorusu var."
    assert await desk.callbacks.alert_due(DUE + timedelta(seconds=5)) == []  # once
    offered = await desk.callbacks.get(callback.id)
    assert offered is not None and offered.status is CallbackStatus.OFFERED and offered.offered_at == DUE

    # She stays at her desk: no alert to the team, however late.
    assert await desk.callbacks.alert_due(DUE + OWNER_GRACE * 2) == []
    await desk.log_out("ayse", DUE + OWNER_GRACE * 2)
    assert await desk.callbacks.alert_due(DUE + OWNER_GRACE * 3 - timedelta(seconds=1)) == []
    [team_alert] = await desk.callbacks.alert_due(DUE + OWNER_GRACE * 3)
    assert (team_alert.callback_id, team_alert.team_id, team_alert.escalated) == (callback.id, desk.team, True)
    assert await desk.callbacks.alert_due(DUE + OWNER_GRACE * 4) == []

    published = [e.event for e in await desk.bus.read("callbacks")]
    assert [(type(e), getattr(e, "escalated", None)) for e in published] == [
        (CallbackDue, False),
        (CallbackDue, True),
    ]


async def test_the_agent_is_warned_of_live_call_backs_and_past_notes(desk: Desk) -> None:
    r0, r1, _ = desk.records
    async with desk.db.acquire() as conn:
        customer = await conn.fetchval("INSERT INTO customers (kind, name) VALUES ('lead', 'Deniz Ak') RETURNING id")
        await conn.execute("UPDATE pool_records SET customer_id = $2 WHERE id = $1", r0.id, customer)
        # A note written on the customer card earlier, outside any call.
        await conn.execute(
            "INSERT INTO call_notes (customer_id, author_id, noted_at, body) VALUES ($1, $2, $3, 'Eski müşteri')",
            customer,
            desk.users["cem"],
            T0 - timedelta(days=3),
        )
    warning, hidden = await desk.callbacks.warning(r0.id, desk.users["burak"])
    assert (warning.open_callbacks, warning.notes, hidden) == (0, 1, 0)
    assert warning.last_note_at == T0 - timedelta(days=3)

    await desk.log_in("ayse", T0)
    taken = await desk.claim("ayse", T0)
    assert taken is not None and taken.id == r0.id and taken.customer_id == customer
    call_id = await desk.talk("ayse", taken, T0)
    await desk.campaigns.dispose(
        desk.users["ayse"],
        call_id,
        "interested",
        note="Teklif istedi",
        callback_at=DUE,
        now=T0 + timedelta(minutes=2),
        callback_visibility="own",
    )
    # Her note is one note (on the call and on the customer card); her call-back is hers alone.
    mine, hidden = await desk.callbacks.warning(r0.id, desk.users["ayse"])
    assert (mine.open_callbacks, mine.notes, hidden) == (1, 2, 0) and mine.any
    assert mine.callbacks[0].note == "Teklif istedi"
    assert mine.last_note_at == T0 + timedelta(minutes=2)
    theirs, hidden = await desk.callbacks.warning(r0.id, desk.users["burak"])
    assert (theirs.open_callbacks, theirs.notes, hidden) == (0, 2, 1)

    # A record without a customer: its notes are on its calls.
    other = await desk.claim("ayse", T0 + timedelta(minutes=3))
    assert other is not None and other.id == r1.id
    clean, hidden = await desk.callbacks.warning(r1.id, desk.users["ayse"])
    assert not clean.any and hidden == 0
    second = await desk.talk("ayse", other, T0 + timedelta(minutes=3))
    await desk.campaigns.dispose(
        desk.users["ayse"], second, "not_interested", note="Aramayın dedi", now=T0 + timedelta(minutes=5)
    )
    noted, _ = await desk.callbacks.warning(r1.id, desk.users["burak"])
    assert (noted.open_callbacks, noted.notes) == (0, 1)


async def test_a_call_back_whose_record_leaves_dialing_unreached_is_missed(desk: Desk) -> None:
    r0 = desk.record(0)
    desk.clock.at = T0
    callback = await desk.callbacks.schedule(desk.actor("ayse"), r0.id, DUE, note="Öğleden sonra")
    await desk.log_in("ayse", T0)
    async with desk.db.acquire() as conn:
        dispositions = await CampaignRepository(conn).dispositions(desk.campaign.id)
        failed = by_outcome(dispositions, Outcome.FAILED)
        assert failed is not None and failed.max_attempts == 3
        for n in range(3):  # the number cannot be reached, three times: the record is finished
            at = DUE + timedelta(hours=n)
            taken = await DialRecords(conn).claim(
                desk.campaign, at, agent_id=desk.users["ayse"], team_id=desk.team, for_preview=True
            )
            assert taken is not None and taken.id == r0.id
            attempt = await DialRecords(conn).count_attempt(r0.id, at)
            await CallRecordRepository(conn).start(
                f"fail-{n}",
                phone=r0.phone,
                dialed_at=at,
                campaign_id=desk.campaign.id,
                pool_record_id=r0.id,
                customer_id=None,
                agent_id=desk.users["ayse"],
                attempt=attempt,
            )
            call = await CallRecordRepository(conn).finish(
                f"fail-{n}", CallOutcome("failed", None, None, None, at, None, "congestion", 34, "", None)
            )
            assert call is not None
            event = await settle_attempt(conn, desk.campaign.id, call, failed, at, by=None)
            still = await desk.callbacks.get(callback.id)
            assert still is not None
            assert still.status is (CallbackStatus.OPEN if n < 2 else CallbackStatus.MISSED), (n, event.status)
    assert await desk.callbacks.list_for(desk.users["ayse"]) == []


async def test_a_call_back_set_from_the_console_during_a_call_outlives_the_calls_disposition(desk: Desk) -> None:
    r0, r1, _ = desk.records
    await desk.log_in("ayse", T0)
    taken = await desk.claim("ayse", T0)
    assert taken is not None and taken.id == r0.id
    call_id = await desk.talk("ayse", taken, T0)
    desk.clock.at = T0 + timedelta(seconds=30)  # during the call
    during = await desk.callbacks.schedule(desk.actor("ayse"), r0.id, DUE, note="Eşi karar verecek")
    # The call ends with "not interested" (final): the record still waits for the call-back.
    await desk.campaigns.dispose(desk.users["ayse"], call_id, "not_interested", now=T0 + timedelta(minutes=2))
    kept = await desk.callbacks.get(during.id)
    assert kept is not None and kept.status is CallbackStatus.OPEN
    assert await desk.claim_all("ayse", DUE) == [r0.id, r1.id, desk.record(2).id]

    # The next call reaches the customer: that call-back is done; her call-back disposition sets a new one.
    again = await desk.claim("ayse", DUE)
    assert again is not None and again.id == r0.id
    second = await desk.talk("ayse", again, DUE)
    later = DUE + timedelta(days=2)
    await desk.campaigns.dispose(
        desk.users["ayse"], second, "call_back", callback_at=later, now=DUE + timedelta(minutes=2)
    )
    fulfilled = await desk.callbacks.get(during.id)
    assert fulfilled is not None and fulfilled.status is CallbackStatus.DONE
    assert fulfilled.fulfilled_call_id == second
    [new] = await desk.callbacks.list_for(desk.users["ayse"])
    assert new.due_at == later and new.source_call_id == second

    # Set from the console during a call that ends with a call-back disposition: the one she set gets its time.
    other = await desk.claim("ayse", DUE + timedelta(minutes=5))
    assert other is not None and other.id == r1.id
    third = await desk.talk("ayse", other, DUE + timedelta(minutes=5))
    desk.clock.at = DUE + timedelta(minutes=5, seconds=30)
    console = await desk.callbacks.schedule(desk.actor("ayse"), r1.id, later, note="Konsoldan")
    await desk.campaigns.dispose(
        desk.users["ayse"], third, "call_back", callback_at=later + timedelta(hours=3), now=DUE + timedelta(minutes=7)
    )
    mine = await desk.callbacks.list_for(desk.users["ayse"])
    assert [(c.id, c.due_at) for c in mine] == [(new.id, later), (console.id, later + timedelta(hours=3))]
    assert mine[1].note == "Konsoldan" and mine[1].status is CallbackStatus.OPEN
