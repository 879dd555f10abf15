"""Reconcile the calls we track with what Asterisk says is live (CoreShowChannels): pure, no I/O.

Run on every (re)connect, because whatever happened while we were not connected was never reported to us:

* a call we track whose Linkedid has **no channel left** ended while we could not see it: each of its channels
  "hangs up" with :data:`LOST_CAUSE_TEXT` (no Q.850 cause, party ``system``), so the machine ends it (CallEnded,
  or CallFailed ``cancelled`` if it was never answered) and every call is accounted for;
* a tracked call that is still there gets the channels it gained (:class:`AddChannel`), an answer it missed
  (its originated channel is Up), and loses the channels that are gone (lost, as above);
* a live call we do not track whose originated channel (Uniqueid = Linkedid) went through the outbound context
  (our own process restarted, or another dialer placed it), or a caller's call whose first channel is in an
  inbound context, is **adopted**: rebuilt with Dial / AddChannel / Ring / Answer. Its events are not published
  again: they were when it started.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from dialer.ami.translate import UNKNOWN_IDS, ChannelRoles, ChannelSnapshot
from dialer.state.call import OVER, Call
from dialer.state.call_commands import AddChannel, Answer, CallCommand, Dial, HangupChannel, Ring
from dialer.state.causes import Party

LOST_CAUSE_TEXT = "lost during PBX restart/AMI drop"
RINGING_STATE = 5


@dataclasses.dataclass(frozen=True)
class Adoption:
    dial: Dial
    age_seconds: int  # how long the originated channel has existed: the call was dialled that long ago
    commands: tuple[CallCommand, ...]


@dataclasses.dataclass(frozen=True)
class ResyncPlan:
    commands: tuple[CallCommand, ...]  # for tracked calls, in this order
    adoptions: tuple[Adoption, ...]
    lost: tuple[str, ...]  # Linkedids of tracked calls of which nothing is left


def lost(linkedid: str, uniqueid: str) -> HangupChannel:
    return HangupChannel(linkedid, uniqueid, None, LOST_CAUSE_TEXT, Party.SYSTEM)


def _progress(linkedid: str, origin: ChannelSnapshot | None) -> tuple[CallCommand, ...]:
    if origin is None:
        return ()
    if origin.is_up:
        return (Answer(linkedid),)
    return (Ring(linkedid),) if origin.state == RINGING_STATE else ()


def plan(
    calls: Mapping[str, Call],
    snapshot: Iterable[ChannelSnapshot],
    roles: ChannelRoles,
    *,
    keep: Collection[str] = (),
) -> ResyncPlan:
    """What to tell the machines. ``keep``: Linkedids not to judge (dialled on this very session, whose first
    channel may not exist yet when the snapshot was taken)."""
    groups: dict[str, list[ChannelSnapshot]] = defaultdict(list)
    for channel in snapshot:
        groups[channel.linkedid].append(channel)
    commands: list[CallCommand] = []
    gone_calls: list[str] = []
    for linkedid, call in calls.items():
        if call.phase in OVER or linkedid in keep:
            continue
        group = groups.get(linkedid)
        if not group:
            gone_calls.append(linkedid)
            commands += [lost(linkedid, uniqueid) for uniqueid in sorted(call.channels) or [linkedid]]
            continue
        present = {channel.uniqueid for channel in group}
        known = call.channels | call.gone
        commands += [AddChannel(linkedid, c.uniqueid) for c in group if c.uniqueid not in known]
        commands += _progress(linkedid, next((c for c in group if c.uniqueid == linkedid), None))
        commands += [lost(linkedid, uniqueid) for uniqueid in sorted(call.channels - present)]
    adoptions: list[Adoption] = []
    for linkedid, group in groups.items():
        if linkedid in calls:
            continue
        origin = next((c for c in group if c.uniqueid == linkedid), None)
        if origin is None:
            continue
        number = roles.dialed_number(origin.channel)
        if number is not None:
            dial = Dial(linkedid, number)
        elif origin.context in roles.inbound_contexts:
            dial = Dial(linkedid, "" if origin.caller in UNKNOWN_IDS else origin.caller, inbound=True)
        else:
            continue  # another application's call
        adds = tuple(AddChannel(linkedid, c.uniqueid) for c in group)
        adoptions.append(Adoption(dial, origin.seconds, adds + _progress(linkedid, origin)))
    return ResyncPlan(tuple(commands), tuple(adoptions), tuple(gone_calls))
