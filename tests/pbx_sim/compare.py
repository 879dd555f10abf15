"""Compare what the simulator sent with what Asterisk sent in a capture.

What must be equal, and the tolerances (each one is what the captures themselves show varies between runs):

1. Responses: the same sequence, same fields in the same order, same values (``Timestamp`` aside).
2. Every event the simulator sends has a field-name sequence that Asterisk used for that event type (any capture).
3. Per channel: the events naming that channel (as Channel, DestChannel, LocalOne/LocalTwoChannel), in order,
   with their field names and normalised values, equal the capture's. Left out of this order: ``Cdr`` (the CDR
   engine publishes on its own; ami-originate-channelid shows a Cdr even before its channel's Newchannel) and
   ``OriginateResponse`` (the originate thread; the README: its place relative to Newstate Up varies).
   One race is folded: the dialed Local ``;1`` gets its ``Newstate Ringing`` (from the ``;2`` running Ringing())
   and ``DialBegin`` (from app_dial) from two threads, so their order and DialBegin's DestChannelState
   (Down/Ringing) vary: 19 against 4 in the answered calls of ami-originate-answer/-channelid/-event-flood.
4. Per instant: the capture is cut into bursts (events less than 0.25 s apart); the simulator's events, cut at
   the same counts, hold the same multiset (with Cdr and OriginateResponse), so nothing moves to another moment.

Noisy types (VarSet, Newexten, DeviceStateChange, NewCallerid, NewConnectedLine) are left out of 3 and 4, as in
the README's event sequences; the simulator sends only some of them (2 still checks their shape).
Normalised values: Uniqueids ``<epoch>.<seq>`` keep only ``<seq>``, bridge ids are numbered by first appearance,
times and durations only say whether they are empty.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from tests.pbx_sim.fixtures import Fields, Received, all_shapes

NOISY = frozenset({"VarSet", "Newexten", "DeviceStateChange", "NewCallerid", "NewConnectedLine"})
OFF_CHANNEL_ORDER = frozenset({"Cdr", "OriginateResponse"})
CHANNEL_KEYS = ("Channel", "DestChannel", "LocalOneChannel", "LocalTwoChannel")
VOLATILE = frozenset(
    {
        "Timestamp",
        "EventTV",
        "SessionTV",
        "SessionID",
        "LocalAddress",
        "RemoteAddress",
        "StartTime",
        "AnswerTime",
        "EndTime",
        "Duration",
        "BillableSeconds",
        "Uptime",
        "LastReload",
        "Seconds",
    }
)
BRIDGE_KEYS = frozenset({"BridgeUniqueid", "BridgeId", "BridgeID"})
UNIQUEID = re.compile(r"^\d{9,}\.(\d+)$")
BURST_GAP = 0.25

Event = tuple[tuple[str, str], ...]


LOCAL_COUNTER = re.compile(r"(Local/[^;\s]+-)([0-9a-f]{8})(?=;[12])")


class Normaliser:
    """``renumber``: also number Local channel counters and Uniqueid sequence numbers by first appearance, for
    calls placed at the same moment, whose order in taking the next number is a race in Asterisk."""

    def __init__(self, *, renumber: bool = False) -> None:
        self.bridges: dict[str, str] = {}
        self.renumber = renumber
        self.locals: dict[str, str] = {}
        self.seqs: dict[str, str] = {}

    def _local(self, m: re.Match[str]) -> str:
        return m.group(1) + self.locals.setdefault(m.group(2), f"#{len(self.locals) + 1}")

    def __call__(self, fields: Fields) -> Event:
        out: list[tuple[str, str]] = []
        name = dict(fields).get("Event", "")
        for key, value in fields:
            if key in VOLATILE:
                value = "*" if value else ""
            elif key in BRIDGE_KEYS and value:
                value = self.bridges.setdefault(value, f"bridge-{len(self.bridges) + 1}")
            elif name == "DialBegin" and key in ("DestChannelState", "DestChannelStateDesc") and value in RACY:
                value = "Down|Ringing"
            else:
                m = UNIQUEID.match(value)
                if m:
                    seq = m.group(1)
                    if self.renumber:
                        seq = self.seqs.setdefault(seq, f"#{len(self.seqs) + 1}")
                    value = f"<epoch>.{seq}"
                elif self.renumber and "Local/" in value:
                    value = LOCAL_COUNTER.sub(self._local, value)
            out.append((key, value))
        return tuple(out)


RACY = frozenset({"0", "5", "Down", "Ringing"})


def events(received: Iterable[Received], keep: object = None, *, renumber: bool = False) -> list[tuple[float, Event]]:
    """(t, normalised event) for every non-noisy event; ``keep(event_fields)`` may narrow them."""
    norm = Normaliser(renumber=renumber)
    out: list[tuple[float, Event]] = []
    for msg in received:
        name = msg.event
        if name is None or name in NOISY:
            continue
        if keep is not None and callable(keep) and not keep(dict(msg.fields)):
            continue
        out.append((msg.t, norm(msg.fields)))
    return out


def responses(received: Iterable[Received]) -> list[Event]:
    norm = Normaliser()
    return [norm(m.fields) for m in received if m.event is None]


def name_of(event: Event) -> str:
    return dict(event).get("Event", "")


def per_channel(evs: list[tuple[float, Event]]) -> dict[str, list[tuple[str, Event]]]:
    seqs: dict[str, list[tuple[str, Event]]] = {}
    for _, event in evs:
        if name_of(event) in OFF_CHANNEL_ORDER:
            continue
        fields = dict(event)
        for key in CHANNEL_KEYS:
            if key in fields:
                seqs.setdefault(fields[key], []).append((key, event))
    for seq in seqs.values():
        _fold_race(seq)
    return seqs


def _fold_race(seq: list[tuple[str, Event]]) -> None:
    for i in range(len(seq) - 1):
        (k1, e1), (k2, e2) = seq[i], seq[i + 1]
        if (
            k1 == "Channel"
            and name_of(e1) == "Newstate"
            and dict(e1).get("ChannelStateDesc") == "Ringing"
            and k2 == "DestChannel"
            and name_of(e2) == "DialBegin"
        ):
            seq[i], seq[i + 1] = seq[i + 1], seq[i]


def bursts(evs: list[tuple[float, Event]]) -> list[list[Event]]:
    out: list[list[Event]] = []
    last = None
    for t, event in evs:
        if last is None or t - last > BURST_GAP:
            out.append([])
        out[-1].append(event)
        last = t
    return out


def _show(event: Event) -> str:
    fields = dict(event)
    chan = fields.get("Channel") or fields.get("DestChannel") or fields.get("LocalOneChannel") or ""
    return f"{fields.get('Event')} {chan}"


def _diff_events(label: str, want: Event, got: Event) -> str:
    if tuple(k for k, _ in want) != tuple(k for k, _ in got):
        return f"{label}: field names differ\n  capture:   {[k for k, _ in want]}\n  simulator: {[k for k, _ in got]}"
    diffs = [f"{k}: capture {v!r} simulator {w!r}" for (k, v), (_, w) in zip(want, got, strict=True) if v != w]
    return f"{label} {_show(want)}: " + "; ".join(diffs)


def check_shapes(received: Iterable[Received]) -> list[str]:
    shapes = all_shapes()
    problems = []
    for msg in received:
        name = msg.event
        if name is None:
            continue
        names = tuple(k for k, _ in msg.fields)
        if names not in shapes.get(name, set()):
            problems.append(f"{name}: no capture has the fields {list(names)}")
    return sorted(set(problems))


def check_per_channel(want: list[tuple[float, Event]], got: list[tuple[float, Event]]) -> list[str]:
    cw, cg = per_channel(want), per_channel(got)
    problems = []
    for chan in sorted(set(cw) | set(cg)):
        a, b = cw.get(chan, []), cg.get(chan, [])
        names_a = [f"{k}:{name_of(e)}" for k, e in a]
        names_b = [f"{k}:{name_of(e)}" for k, e in b]
        if names_a != names_b:
            problems.append(f"{chan}: events differ\n  capture:   {names_a}\n  simulator: {names_b}")
            continue
        for i, ((_, ea), (_, eb)) in enumerate(zip(a, b, strict=True)):
            if ea != eb:
                problems.append(_diff_events(f"{chan} #{i}", ea, eb))
    return problems


def check_bursts(want: list[tuple[float, Event]], got: list[tuple[float, Event]]) -> list[str]:
    got_events = [e for _, e in got]
    problems = []
    start = 0
    for n, burst in enumerate(bursts(want)):
        mine = got_events[start : start + len(burst)]
        start += len(burst)
        missing = Counter(burst) - Counter(mine)
        extra = Counter(mine) - Counter(burst)
        if missing or extra:
            problems.append(
                f"burst {n}: capture-only {[_show(e) for e in missing.elements()]}; "
                f"simulator-only {[_show(e) for e in extra.elements()]}"
            )
            for a, b in zip(sorted(missing.elements()), sorted(extra.elements()), strict=False):
                if name_of(a) == name_of(b):
                    problems.append(_diff_events(f"  burst {n}", a, b))
    if start != len(got_events):
        problems.append(
            f"simulator sent {len(got_events) - start} more events: {[_show(e) for e in got_events[start:]]}"
        )
    return problems


def check_responses(want: list[Event], got: list[Event]) -> list[str]:
    if len(want) != len(got):
        return [f"{len(want)} responses in the capture, {len(got)} from the simulator:\n  {want}\n  {got}"]
    return [_diff_events(f"response {i}", a, b) for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b]
