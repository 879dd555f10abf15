"""MixMonitor: recording a channel to a real WAV file (8 kHz, signed 16-bit PCM, as Asterisk writes ``.wav``).

``MixMonitor(file[,options[,command]])`` as an application or the AMI action. A relative file name is put in
the recordings directory (settings ``pbx_sim.recordings_dir``); ``MIXMONITOR_FILENAME`` gets the full path.
Options as in app_mixmonitor: ``b`` records only while the channel is bridged; ``D`` writes a stereo file,
the channel's own side (what it receives: the caller) left and the other party (what is sent to it: the agent)
right; ``r(file)`` / ``t(file)`` also write those two sides to their own mono files; ``i(var)`` puts the
recording's id in ``var`` (and the AMI reply carries ``MixMonitorID`` only then). Otherwise the file is the
mono mix of both parties.

The content is the world's simulated conversation (:mod:`pbx_sim.core.audio`) over the time the channel was
bridged, a faint noise floor while it was not; nothing is written while ``b`` waits for a bridge, so a call
that never reaches one leaves a header-only (44-byte) file, as Asterisk does. The file is created (header
only) when recording starts and filled when it stops (StopMixMonitor or hangup), in a worker thread.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import wave
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from pbx_sim.core import audio
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.pbx import Pbx

log = structlog.get_logger("pbx_sim")

OPTION = re.compile(r"([A-Za-z])(?:\(([^)]*)\))?")
SPOOL = Path("/var/spool/asterisk/monitor")  # where Asterisk puts relative names (no recordings_dir)


def parse_options(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) or "" for m in OPTION.finditer(text)}


@dataclass(eq=False)
class Recording:
    pbx: Pbx
    chan: Channel
    path: Path
    options: dict[str, str]
    ident: str
    seed: str
    spans: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, bridged)
    since: float | None = None
    bridged: bool = False
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def bridged_only(self) -> bool:
        return "b" in self.options

    def side_path(self, option: str) -> Path | None:
        name = self.options.get(option)
        return resolve(self.pbx, name) if name else None

    def on_bridge(self, chan: Channel, entered: bool) -> None:
        self._close()
        self.bridged = entered
        if entered or not self.bridged_only:
            self.since = self.pbx.clock.now()

    def _close(self) -> None:
        if self.since is not None:
            self.spans.append((self.since, self.pbx.clock.now(), self.bridged))
            self.since = None

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self._close()
        if self.on_bridge in self.chan.on_bridge:
            self.chan.on_bridge.remove(self.on_bridge)
        self.stopped.set()
        active = self.pbx.recordings.get(self.chan)
        if active and self in active:
            active.remove(self)
            if not active:
                del self.pbx.recordings[self.chan]

    async def write(self) -> None:
        """Header now, frames when the recording stops; file work in a thread (never on the event loop)."""
        files = [(self.path, 2 if "D" in self.options else 1)]
        files += [(p, 1) for p in (self.side_path("r"), self.side_path("t")) if p is not None]
        try:
            await asyncio.to_thread(_create, files)
            await self.stopped.wait()
            await asyncio.to_thread(_fill, files, self.spans, self.seed, "r" in self.options)
        except OSError as exc:  # Asterisk logs that it cannot open the file; the call goes on
            log.warning("pbx_sim_mixmonitor_write_failed", file=str(self.path), error=str(exc))


def resolve(pbx: Pbx, name: str) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    return (pbx.recordings_dir or SPOOL) / path


def _create(files: list[tuple[Path, int]]) -> None:
    for path, channels in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(audio.RATE)


def _pieces(spans: list[tuple[float, float, bool]], seed: str) -> tuple[array[int], array[int], array[int]]:
    """Party A, party B and the mono mix over the recorded spans (the conversation only while bridged)."""
    talk = sum(end - start for start, end, bridged in spans if bridged)
    tracks, spurts = audio.synthesize(seed, talk)
    mono = tracks.mono(spurts)
    quiet = audio.silence(max((end - start for start, end, _ in spans), default=0.0))
    parts: tuple[array[int], array[int], array[int]] = (array("h"), array("h"), array("h"))
    pos = 0
    for start, end, bridged in spans:
        count = int((end - start) * audio.RATE)
        if bridged:
            for part, track in zip(parts, (tracks.a, tracks.b, mono), strict=True):
                part.extend(track[pos : pos + count])
            pos += count
        else:
            for part in parts:
                part.extend(quiet[:count])
    return parts


def _fill(files: list[tuple[Path, int]], spans: list[tuple[float, float, bool]], seed: str, has_r: bool) -> None:
    a, b, mono = _pieces(spans, seed)
    contents = []
    for index, (path, channels) in enumerate(files):
        if index == 0:
            data = audio.Tracks(a, b).stereo() if channels == 2 else mono
        else:
            data = a if index == 1 and has_r else b
        contents.append((path, channels, data))
    for path, channels, data in contents:
        if sys.byteorder == "big":
            data = array("h", data)
            data.byteswap()
        with wave.open(str(path), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(audio.RATE)
            step = audio.RATE * channels  # one second per write
            for start in range(0, len(data), step):
                out.writeframes(data[start : start + step].tobytes())


def start(pbx: Pbx, chan: Channel, filename: str, options: str) -> Recording | None:
    """Start recording ``chan``; None if there is nothing to write to."""
    opts = parse_options(options)
    if not filename and not (opts.get("r") or opts.get("t")):
        return None
    pbx.recordings_started += 1
    rng = random.Random(f"pbx-sim-mixmon:{pbx.seed}:{pbx.recordings_started}")  # noqa: S311 - an id, not a secret
    ident = f"0x7f{rng.getrandbits(40):010x}"  # looks like the heap address Asterisk gives
    path = resolve(pbx, filename or f"{chan.uniqueid}-mix.wav")
    rec = Recording(pbx, chan, path, opts, ident, f"{pbx.seed}:{chan.name}")  # a channel's calls sound the same
    pbx.set_var(chan, "MIXMONITOR_FILENAME", str(path))
    if opts.get("i"):
        pbx.set_var(chan, opts["i"], ident)
    pbx.recordings.setdefault(chan, []).append(rec)
    chan.on_bridge.append(rec.on_bridge)
    chan.on_hangup.append(lambda _chan: rec.stop())
    if chan.bridge is not None or not rec.bridged_only:
        rec.bridged = chan.bridge is not None
        rec.since = pbx.clock.now()
    pbx.emit("MixMonitorStart", ev.CALL, ev.channel_fields(chan))
    if pbx.recordings_dir is not None or Path(filename).is_absolute():  # no directory: events only
        pbx.spawn(rec.write(), f"mixmonitor {path.name}")
    return rec


def stop(pbx: Pbx, chan: Channel, ident: str = "") -> bool:
    """StopMixMonitor: the recording with ``ident``, or the first one on ``chan``; False if none runs."""
    active = pbx.recordings.get(chan, [])
    rec = next((r for r in active if not ident or r.ident == ident), None)
    if rec is None:
        return False
    rec.stop()
    pbx.emit("MixMonitorStop", ev.CALL, ev.channel_fields(chan))
    return True


async def app_mixmonitor(pbx: Pbx, chan: Channel, data: str) -> bool:
    filename, _, rest = data.partition(",")
    options, _, _command = rest.partition(",")
    start(pbx, chan, filename.strip(), options)
    return True


async def app_stopmixmonitor(pbx: Pbx, chan: Channel, data: str) -> bool:
    stop(pbx, chan, pbx.get_var(chan, data) if data else "")
    return True
