"""DTMF on simulated channels: a key pressed reaches whoever reads the channel, with Asterisk's DTMF events.

In ami-agi-ivr-menu the customer's ``;2`` runs ``SendDTMF`` (no event on it) and its Local partner ``;1``, which
runs the AGI, reads the keys: ``DTMFBegin`` then, 100 ms later, ``DTMFEnd`` (``DurationMs: 100``), both with
``Direction: Received``. A key sent out of a channel travels the same way here:

* out of a Local channel it is received by the partner (a channel of another technology sends it to its phone);
* a channel receiving it announces it (``Received``); if bridged, the bridge writes it to the other parties, which
  announce it as ``ast_write`` does (``Sent``) and send it on; otherwise the application reading the channel gets it
  (:attr:`Channel.on_dtmf`, AGI). A key nobody reads is lost, as in Asterisk.

A key *queued as received* on a channel (AMI PlayDTMF with ``Receive``, Atxfer's feature code) is a bare DTMF end
frame: that channel announces only ``DTMFEnd`` with the duration given (ami-atxfer: ``DurationMs: 0``, no
``DTMFBegin``); Asterisk then emulates a key of at least 80 ms (100 ms when none was given) for its reader.

``SendDTMF(digits[,timeout_ms[,duration_ms]])`` is app_senddtmf: 100 ms of quiet, then each key (``w``: half a
second of pause, ``W``: a second) followed by ``timeout_ms`` (250) of pause, as in the capture's ``[sim]``.
"""

from __future__ import annotations

from collections import deque

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.pbx import Pbx

KEYS = "0123456789*#ABCDabcd"
TONE_MS = 100  # AST_DEFAULT_EMULATE_DTMF_DURATION: a key sent without a duration, and the shortest one sent
MIN_EMULATED_MS = 80  # dtmfminduration: the shortest key Asterisk emulates from a bare end frame
QUIET = 0.1  # ast_dtmf_stream's quiet time before the first key
BETWEEN_MS = 250  # SendDTMF's pause after each key
PAUSES = {"w": 0.5, "W": 1.0}

Hops = list[tuple[Channel, str]]


def _route(chan: Channel, *, received: bool) -> Hops:
    """The channels a key passes, each with the direction it announces: from ``chan`` sending it out (or, with
    ``received``, receiving it) until a channel that is not bridged."""
    hops: Hops = []
    todo: deque[tuple[Channel, str]] = deque([(chan, "Received" if received else "")])
    seen: set[Channel] = set()
    while todo:
        current, direction = todo.popleft()
        if current in seen or not current.alive:
            continue
        seen.add(current)
        if direction:
            hops.append((current, direction))
        if direction == "Received":
            if current.bridge is not None:
                todo.extend((other, "Sent") for other in current.bridge.members if other is not current)
        elif current.partner is not None:
            todo.append((current.partner, "Received"))
    return hops


def _announce(pbx: Pbx, event: str, hops: Hops, digit: str, duration_ms: int | None = None) -> None:
    for chan, direction in hops:
        if chan.alive:
            pbx.emit(event, ev.DTMF, ev.dtmf(chan, digit, direction, duration_ms))


def _deliver(hops: Hops, digit: str) -> None:
    """The key ends: the applications reading the channels it reached (unbridged) get it."""
    for chan, direction in hops:
        if direction == "Received" and chan.alive and chan.bridge is None and chan.on_dtmf is not None:
            chan.on_dtmf(digit)


async def send(pbx: Pbx, chan: Channel, digit: str, duration_ms: int = TONE_MS) -> None:
    """``chan`` sends one key out (SendDTMF, AMI PlayDTMF): ``DTMFBegin`` along the way, ``DTMFEnd`` after
    ``duration_ms`` (at least 100, as ``ast_senddigit``)."""
    duration_ms = max(duration_ms, TONE_MS)
    hops = _route(chan, received=False)
    _announce(pbx, "DTMFBegin", hops, digit)
    await pbx.clock.sleep(duration_ms / 1000)
    _announce(pbx, "DTMFEnd", hops, digit, duration_ms)
    _deliver(hops, digit)


async def receive(pbx: Pbx, chan: Channel, digit: str, duration_ms: int = 0) -> None:
    """A bare DTMF end frame queued on ``chan`` as if its far end had sent the key (PlayDTMF ``Receive``)."""
    pbx.emit("DTMFEnd", ev.DTMF, ev.dtmf(chan, digit, "Received", duration_ms))
    emulated = max(duration_ms, MIN_EMULATED_MS) if duration_ms else TONE_MS
    hops = _route(chan, received=True)
    onward = hops[1:]  # chan itself has announced its only event
    _announce(pbx, "DTMFBegin", onward, digit)
    await pbx.clock.sleep(emulated / 1000)
    _announce(pbx, "DTMFEnd", onward, digit, emulated)
    _deliver(hops, digit)


def _milliseconds(text: str, default: int) -> int:
    try:
        return int(float(text)) if text.strip() else default
    except ValueError:
        return default


async def app_senddtmf(pbx: Pbx, chan: Channel, data: str) -> bool:
    digits, _, rest = data.partition(",")
    between, _, duration = rest.partition(",")
    gap = _milliseconds(between, BETWEEN_MS)
    tone = _milliseconds(duration, TONE_MS)
    await pbx.clock.sleep(QUIET)
    for key in digits.strip():
        if key in PAUSES:
            await pbx.clock.sleep(PAUSES[key])
        elif key in KEYS:
            await send(pbx, chan, key, tone)
            await pbx.clock.sleep((gap if gap > 0 else BETWEEN_MS) / 1000)
    return True
