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
   So is the same race of an originated PJSIP channel between its ``Newstate Ringing`` (the 180 handled by the
   PJSIP thread) and ``DialState RINGING``: ami-pjsip-originate-agent-customer has DialState first (Down) in
   part A and Newstate first (DialState Ringing) in part B.
4. Per instant: the capture is cut into bursts (events less than 0.25 s apart); the simulator's events, cut at
   the same counts, hold the same multiset (with Cdr and OriginateResponse), so nothing moves to another moment.
5. Queue durations (``HoldTime``, ``TalkTime``, ``RingTime``) are differences of whole epoch seconds
   (``time(NULL)``), so the same wait gives either its whole seconds or one more, depending on where the second
   boundaries fall: ami-queue-abandon reports HoldTime 7 for 6.52 s, ami-originate-answer-queue-agent TalkTime 5
   for 5.51 s. They are left out of 3 and 4 and compared on their own, event by event, within one second.

Noisy types (VarSet, Newexten, DeviceStateChange, NewCallerid, NewConnectedLine) are left out of 3 and 4, as in
the README's event sequences; the simulator sends only some of them (2 still checks their shape). So is
``RTCPSent`` (ami-pjsip-originate-agent-customer): RTP statistics (SSRC, packet and octet counts, jitter, NTP
time) that a timer sends every ~5 s per leg while media flows, their values different in every run; the
simulator carries no media and sends none.
Normalised values: Uniqueids ``<epoch>.<seq>`` keep only ``<seq>``, bridge ids (random UUIDs, also as ``To``/``From``/
``Orig``/``Second``/``DestBridgeUniqueid`` in BridgeMerge and AttendedTransfer) are numbered by first appearance,
times and durations only say whether they are empty. Queue members' epoch seconds (``LoginTime``, ``LastCall``,
``LastPause``: the wall clock, like ``Timestamp``) and a PJSIP contact's ``ExpirationTime`` only say whether
they are 0. ``MixMonitorID`` is the address
of Asterisk's recording structure (``0x7ff6f8003910``), different in every run: it only says whether it is empty
(the replay sends back the simulator's, see amiclient.LEARNED). ``CommandId`` of AGIExecStart/AGIExecEnd is
``ast_random()`` drawn for each AGI command (ami-agi-ivr-menu: 1229422869, 1759138052, ...): it only says whether it
is empty (test_agi checks that a command's End carries its Start's). Calls placed at the same moment can be compared
with ``renumber`` (see Normaliser).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from tests.pbx_sim.fixtures import Fields, Received, all_shapes

NOISY = frozenset({"VarSet", "Newexten", "DeviceStateChange", "NewCallerid", "NewConnectedLine", "RTCPSent"})
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
        "MixMonitorID",
        "CommandId",
    }
)
EPOCH_SECONDS = frozenset({"LoginTime", "LastCall", "LastPause", "ExpirationTime"})
WHOLE_SECONDS = frozenset({"HoldTime", "TalkTime", "RingTime"})
BRIDGE_KEYS = frozenset({"BridgeUniqueid", "BridgeId", "BridgeID"})
UNIQUEID = re.compile(r"^\d{9,}\.(\d+)$")
BURST_GAP = 0.25

Event = tuple[tuple[str, str], ...]


LOCAL_COUNTER = re.compile(r"(Local/[^;\s]+)-([0-9a-f]{8})(?=;[12])")
CHANNEL_UNIQUEIDS = (
    ("Channel", "Uniqueid"),
    ("DestChannel", "DestUniqueid"),
    ("LocalOneChannel", "LocalOneUniqueid"),
    ("LocalTwoChannel", "LocalTwoUniqueid"),
)


class Normaliser:
    """``renumber`` (with every message of the run in ``received``): name Local channel counters and Uniqueids
    after the call they belong to rather than by number, for calls placed at the same moment, whose order in
    taking the next number is a race in Asterisk (ami-core-show-channels: the second Originate's Dial took the
    lower counter). A counter becomes ``#k``, the k-th counter of that ``Local/<exten>@<context>``; a Uniqueid
    becomes ``<uid of (its channel so renamed)>``. The same race orders the bridges of such calls (ami-event-flood:
    5551002's bridge was created before 5551000's), so a bridge id becomes ``<bridge of (the channels that
    entered it, so renamed)>``."""

    def __init__(self, *, renumber: bool = False, received: Iterable[Received] = ()) -> None:
        self.bridges: dict[str, str] = {}
        self.renumber = renumber
        self.locals: dict[tuple[str, str], str] = {}
        self.uids: dict[str, str] = {}
        if renumber:
            self._prescan(list(received))

    def _prescan(self, received: list[Received]) -> None:
        counters: dict[str, set[str]] = {}
        for msg in received:
            for _, value in msg.fields:
                for m in LOCAL_COUNTER.finditer(value):
                    counters.setdefault(m.group(1), set()).add(m.group(2))
        for prefix, found in counters.items():
            for k, counter in enumerate(sorted(found, key=lambda c: int(c, 16)), start=1):
                self.locals[(prefix, counter)] = f"#{k}"
        for msg in received:
            fields = dict(msg.fields)
            for chan_key, uid_key in CHANNEL_UNIQUEIDS:
                if fields.get(chan_key) and fields.get(uid_key):
                    self.uids.setdefault(fields[uid_key], f"<uid of {self._rename(fields[chan_key])}>")
        members: dict[str, set[str]] = {}
        for msg in received:
            if msg.event == "BridgeEnter":
                members.setdefault(msg.get("BridgeUniqueid"), set()).add(self._rename(msg.get("Channel")))
        for bridge, chans in members.items():
            self.bridges[bridge] = f"<bridge of {' + '.join(sorted(chans))}>"

    def _rename(self, value: str) -> str:
        return LOCAL_COUNTER.sub(lambda m: f"{m.group(1)}-{self.locals.get((m.group(1), m.group(2)), '?')}", value)

    def __call__(self, fields: Fields) -> Event:
        out: list[tuple[str, str]] = []
        name = dict(fields).get("Event", "")
        for key, value in fields:
            if key in VOLATILE:
                value = "*" if value else ""
            elif key in EPOCH_SECONDS:
                value = "0" if value == "0" else "<epoch>"
            elif key in WHOLE_SECONDS:
                value = "<seconds>"
            elif (key in BRIDGE_KEYS or key.endswith("BridgeUniqueid")) and value:
                value = self.bridges.setdefault(value, f"bridge-{len(self.bridges) + 1}")
            elif name in RACING and key in ("DestChannelState", "DestChannelStateDesc") and value in RACY:
                value = "Down|Ringing"
            elif self.renumber and value in self.uids:
                value = self.uids[value]
            else:
                m = UNIQUEID.match(value)
                if m:
                    value = f"<epoch>.{m.group(1)}"
                elif self.renumber and "Local/" in value:
                    value = self._rename(value)
            out.append((key, value))
        return tuple(out)


RACY = frozenset({"0", "5", "Down", "Ringing"})
RACING = frozenset({"DialBegin", "DialState"})  # with the Newstate Ringing of their DestChannel (see 3.)


def events(received: Iterable[Received], keep: object = None, *, renumber: bool = False) -> list[tuple[float, Event]]:
    """(t, normalised event) for every non-noisy event; ``keep(event_fields)`` may narrow them."""
    received = list(received)
    norm = Normaliser(renumber=renumber, received=received)
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
            and name_of(e2) in RACING
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


def check_whole_seconds(want: Iterable[Received], got: Iterable[Received]) -> list[str]:
    """Tolerance 5: each event's HoldTime / TalkTime / RingTime within one second of the capture's, matched by
    event name and channel in order of appearance."""

    def table(received: Iterable[Received]) -> dict[tuple[str, str], list[dict[str, str]]]:
        out: dict[tuple[str, str], list[dict[str, str]]] = {}
        for msg in received:
            fields = dict(msg.fields)
            if msg.event and WHOLE_SECONDS & set(fields):
                out.setdefault((msg.event, fields.get("Channel", "")), []).append(fields)
        return out

    a, b = table(want), table(got)
    problems = []
    for key in sorted(set(a) | set(b)):
        wants, gots = a.get(key, []), b.get(key, [])
        if len(wants) != len(gots):
            problems.append(f"{key}: {len(wants)} in the capture, {len(gots)} from the simulator")
            continue
        for i, (w, g) in enumerate(zip(wants, gots, strict=True)):
            for field in sorted(WHOLE_SECONDS & set(w)):
                if abs(int(w[field]) - int(g.get(field, "-99"))) > 1:
                    problems.append(f"{key} #{i} {field}: capture {w[field]}, simulator {g.get(field)}")
    return problems
