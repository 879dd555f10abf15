"""Speech-like audio for the simulated recordings: two parties taking turns, with pauses and some talk-over.

Pure Python (no numpy): each voice has a bank of pre-computed syllables (a few voiced harmonics with a gliding
pitch, or band-limited noise, under a raised-cosine envelope, so the level rises and falls at syllable rate);
a talk spurt is syllables copied into place with array slices; silence is a faint noise floor (about -60 dBFS).
Everything is drawn from a seeded generator, so the same seed and call give the same file.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from functools import cache

RATE = 8000
NOISE_FLOOR = 24  # peak of the background noise (of 32767)
SPEECH_PEAK = 9000


@dataclass(frozen=True)
class Voice:
    pitch: float  # Hz
    brightness: float  # how slowly the harmonics fall off (0..1)


CUSTOMER_VOICES = (Voice(205.0, 0.55), Voice(180.0, 0.45), Voice(225.0, 0.6), Voice(165.0, 0.5))
AGENT_VOICES = (Voice(118.0, 0.5), Voice(132.0, 0.6), Voice(110.0, 0.45), Voice(145.0, 0.55))


@cache
def _noise_block() -> array[int]:
    rng = random.Random("pbx-sim-noise")  # noqa: S311 - audio, not secrets
    return array("h", (rng.randint(-NOISE_FLOOR, NOISE_FLOOR) for _ in range(RATE)))


TABLE = 256  # samples in one cycle of a voiced sound


@cache
def _cycle(brightness: float) -> tuple[float, ...]:
    """One period of a voiced sound: five harmonics falling off by ``brightness``, peak 1."""
    amps = [brightness**k / (k + 1) for k in range(5)]
    wave = [sum(a * math.sin(2 * math.pi * (k + 1) * i / TABLE) for k, a in enumerate(amps)) for i in range(TABLE)]
    peak = max(abs(v) for v in wave)
    return tuple(v / peak for v in wave)


@cache
def syllables(voice: Voice) -> tuple[array[int], ...]:
    """24 syllables of 110-290 ms: three quarters voiced (gliding pitch), the rest fricative noise; each under a
    raised-cosine envelope. Wavetable synthesis keeps this to a few milliseconds per voice."""
    rng = random.Random(f"pbx-sim-voice:{voice}")  # noqa: S311 - audio, not secrets
    cycle = _cycle(voice.brightness)
    bank = []
    for index in range(24):
        length = int(RATE * rng.uniform(0.11, 0.29))
        level = SPEECH_PEAK * rng.uniform(0.55, 1.0)
        env = [level * math.sin(math.pi * i / length) ** 2 for i in range(length)]
        if index % 4 == 3:
            low, noise = 0.0, []
            for _ in range(length):
                low = 0.6 * low + 0.4 * rng.uniform(-1.0, 1.0)  # band-limited (low-passed) noise
                noise.append(low)
            samples = array("h", (int(0.5 * e * n) for e, n in zip(env, noise, strict=True)))
        else:
            start, end = voice.pitch * rng.uniform(0.9, 1.15), voice.pitch * rng.uniform(0.85, 1.1)
            step, slope = start * TABLE / RATE, (end - start) * TABLE / RATE / length
            phases, phase = [], 0.0
            for i in range(length):
                phases.append(int(phase) % TABLE)
                phase += step + slope * i
            samples = array("h", (int(e * cycle[p]) for e, p in zip(env, phases, strict=True)))
        bank.append(samples)
    return tuple(bank)


Spurt = tuple[float, float]  # seconds from the start of the conversation


def conversation(rng: random.Random, seconds: float) -> tuple[list[Spurt], list[Spurt]]:
    """Talk spurts of party A (the caller) and party B (the agent, who speaks first): turns of one to three
    spurts, pauses between them, now and then a long silence or the next speaker starting too early."""
    spurts: tuple[list[Spurt], list[Spurt]] = ([], [])
    t, speaker = rng.uniform(0.4, 1.2), 1
    while t < seconds:
        for _ in range(rng.randint(1, 3)):
            length = rng.uniform(0.6, 2.8)
            if t < seconds:
                spurts[speaker].append((t, min(seconds, t + length)))
            t += length + rng.uniform(0.15, 0.5)
        t -= rng.uniform(0.15, 0.5)
        draw = rng.random()
        if draw < 0.18:
            t -= rng.uniform(0.25, 0.9)  # the other party talks over the end of this turn
        elif draw < 0.3:
            t += rng.uniform(2.5, 5.0)  # a long silence (looking something up)
        else:
            t += rng.uniform(0.3, 1.3)
        speaker = 1 - speaker
    return spurts


def silence(seconds: float) -> array[int]:
    """The noise floor alone: a channel where nobody talks."""
    total = int(seconds * RATE)
    noise = _noise_block()
    track = array("h", bytes(2 * total))
    for start in range(0, total, len(noise)):
        chunk = min(len(noise), total - start)
        track[start : start + chunk] = noise[:chunk]
    return track


def render(spurts: list[Spurt], seconds: float, voice: Voice, rng: random.Random) -> array[int]:
    """One party's track: noise floor, and syllables with short gaps inside each spurt."""
    total = int(seconds * RATE)
    track = silence(seconds)
    bank = syllables(voice)
    for begin, end in spurts:
        pos, stop = int(begin * RATE), min(total, int(end * RATE))
        while pos < stop:
            syllable = bank[rng.randrange(len(bank))]
            length = min(len(syllable), stop - pos)
            track[pos : pos + length] = syllable[:length]
            pos += length + int(RATE * rng.uniform(0.0, 0.04))
    return track


def _add_where(out: array[int], b: array[int], spans: list[Spurt]) -> array[int]:
    for begin, end in spans:
        lo, hi = int(begin * RATE), min(len(out), int(end * RATE))
        out[lo:hi] = array("h", (max(-32768, min(32767, x + y)) for x, y in zip(out[lo:hi], b[lo:hi], strict=True)))
    return out


def overlap(a: list[Spurt], b: list[Spurt]) -> list[Spurt]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if lo < hi:
                out.append((lo, hi))
    return out


def only(spurts: list[Spurt], others: list[Spurt]) -> list[Spurt]:
    """``spurts`` minus the parts where ``others`` talk."""
    out = []
    for begin, end in spurts:
        pieces = [(begin, end)]
        for o0, o1 in others:
            pieces = [p for lo, hi in pieces for p in ((lo, min(hi, o0)), (max(lo, o1), hi)) if p[0] < p[1]]
        out += pieces
    return out


@dataclass
class Tracks:
    """A conversation rendered: party A's and party B's tracks and the mono mix, 8 kHz signed 16-bit."""

    a: array[int]
    b: array[int]

    def mono(self, spurts: tuple[list[Spurt], list[Spurt]]) -> array[int]:
        out = array("h", self.a)
        for begin, end in only(spurts[1], spurts[0]):
            lo, hi = int(begin * RATE), min(len(out), int(end * RATE))
            out[lo:hi] = self.b[lo:hi]
        return _add_where(out, self.b, overlap(spurts[0], spurts[1]))

    def stereo(self) -> array[int]:
        out = array("h", bytes(4 * len(self.a)))
        out[0::2] = self.a
        out[1::2] = self.b
        return out


def synthesize(seed: str, seconds: float) -> tuple[Tracks, tuple[list[Spurt], list[Spurt]]]:
    rng = random.Random(f"pbx-sim-talk:{seed}")  # noqa: S311 - audio, not secrets
    spurts = conversation(rng, seconds)
    voice_a = CUSTOMER_VOICES[rng.randrange(len(CUSTOMER_VOICES))]
    voice_b = AGENT_VOICES[rng.randrange(len(AGENT_VOICES))]
    return Tracks(render(spurts[0], seconds, voice_a, rng), render(spurts[1], seconds, voice_b, rng)), spurts
