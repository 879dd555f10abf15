"""The simulated world: who answers the phone, after how long, for how long; what an answered call does.

A world is a TOML file (``pbx_sim.world`` in the settings, or ``callcenter pbx-sim --world``); without one the
built-in ``default_world.toml`` beside this module is used, which also documents the format. Choices are drawn
from a random generator seeded per call (``seed`` and the call's number), so a run is repeatable whatever the
order in which calls interleave.
"""

from __future__ import annotations

import random
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

OUTCOMES = ("answer", "busy", "no_answer", "congestion", "machine")


class WorldError(ValueError):
    """The world file is wrong; the message names the entry."""


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (``_X.``, ``_555XXXX``, ``_[a-z5].``) or a literal extension, as a regex."""
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + r"\Z")
    out, i, body = [], 0, pattern[1:]
    while i < len(body):
        c = body[i]
        if c in "xX":
            out.append("[0-9]")
        elif c in "zZ":
            out.append("[1-9]")
        elif c in "nN":
            out.append("[2-9]")
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c == "[":
            end = body.find("]", i)
            if end < 0:
                raise WorldError(f"pattern {pattern!r}: [ without ]")
            out.append("[" + body[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class Dist:
    """Seconds: fixed, uniform between two values, or normal (mean, sd) cut at zero."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, value: Any, where: str) -> Dist:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls("fixed", float(value))
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
            low, high = sorted(float(v) for v in value)
            return cls("uniform", low, high)
        if isinstance(value, dict) and set(value) == {"mean", "sd"}:
            return cls("normal", float(value["mean"]), float(value["sd"]))
        raise WorldError(f"{where}: expected seconds, [min, max] or {{mean = , sd = }}, got {value!r}")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return max(0.0, rng.gauss(self.a, self.b))


@dataclass(frozen=True)
class Customer:
    match: str
    regex: re.Pattern[str]
    weights: tuple[float, ...]  # in OUTCOMES order
    ring: Dist
    talk: Dist
    talk_variable: str = ""
    playback: str = ""


@dataclass(frozen=True)
class Behaviour:
    """What one customer does on one call."""

    outcome: str
    ring: float
    talk: float
    playback: str = ""
    talk_variable: str = ""


@dataclass(frozen=True)
class Extension:
    context: str
    match: str
    regex: re.Pattern[str]
    steps: tuple[tuple[str, str], ...]
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class World:
    customers: tuple[Customer, ...]
    extensions: tuple[Extension, ...]
    sounds: dict[str, float]
    outbound_context: str = "outbound"
    customer_context: str = "sim"
    dial_timeout: float = 30.0
    default_sound: float = 1.5

    def customer(self, number: str) -> Customer | None:
        return next((c for c in self.customers if c.regex.match(number)), None)

    def behaviour(self, number: str, rng: random.Random) -> Behaviour | None:
        """The customer at ``number`` on this call, or None if nobody has that number."""
        cust = self.customer(number)
        if cust is None:
            return None
        outcome = rng.choices(OUTCOMES, weights=cust.weights)[0]
        return Behaviour(outcome, cust.ring.sample(rng), cust.talk.sample(rng), cust.playback, cust.talk_variable)

    def extension(self, context: str, exten: str) -> Extension | None:
        candidates = [e for e in self.extensions if e.context == context]
        exact = next((e for e in candidates if e.match == exten), None)
        return exact or next((e for e in candidates if e.regex.match(exten)), None)

    def sound_seconds(self, name: str) -> float:
        return self.sounds.get(name, self.default_sound)


STEP = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_step(text: str, where: str) -> tuple[str, str]:
    match = STEP.match(text)
    if match is None:
        raise WorldError(f"{where}: {text!r} is not App(data)")
    return match.group(1), match.group(2) or ""


def _customer(raw: dict[str, Any], where: str) -> Customer:
    known = {"match", "ring", "talk", "talk_variable", "playback", *OUTCOMES}
    unknown = set(raw) - known
    if unknown:
        raise WorldError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(raw.get("match"), str):
        raise WorldError(f'{where}: match must be an extension pattern such as "_X."')
    weights = tuple(float(raw.get(o, 0.0)) for o in OUTCOMES)
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise WorldError(f"{where}: give at least one of {', '.join(OUTCOMES)} a positive weight")
    return Customer(
        raw["match"],
        pattern_regex(raw["match"]),
        weights,
        Dist.parse(raw.get("ring", 3), f"{where}.ring"),
        Dist.parse(raw.get("talk", 30), f"{where}.talk"),
        str(raw.get("talk_variable", "")),
        str(raw.get("playback", "")),
    )


def _extension(raw: dict[str, Any], where: str) -> Extension:
    unknown = set(raw) - {"context", "exten", "steps", "defaults"}
    if unknown:
        raise WorldError(f"{where}: unknown keys {sorted(unknown)}")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise WorldError(f'{where}.steps: a list of "App(data)" strings')
    exten = str(raw.get("exten", ""))
    return Extension(
        str(raw.get("context", "")),
        exten,
        pattern_regex(exten),
        tuple(parse_step(s, f"{where}.steps[{i}]") for i, s in enumerate(steps)),
        {str(k): str(v) for k, v in dict(raw.get("defaults", {})).items()},
    )


def parse_world(data: dict[str, Any]) -> World:
    unknown = set(data) - {"customer", "dialplan", "sounds", "outbound"}
    if unknown:
        raise WorldError(f"unknown sections {sorted(unknown)}")
    outbound = dict(data.get("outbound", {}))
    customers = tuple(_customer(c, f"customer[{i}]") for i, c in enumerate(data.get("customer", [])))
    extensions = tuple(_extension(e, f"dialplan[{i}]") for i, e in enumerate(data.get("dialplan", [])))
    sounds = {str(k): float(v) for k, v in dict(data.get("sounds", {})).items()}
    return World(
        customers,
        extensions,
        sounds,
        outbound_context=str(outbound.get("context", "outbound")),
        customer_context=str(outbound.get("customer_context", "sim")),
        dial_timeout=float(outbound.get("dial_timeout", 30.0)),
    )


def load_world(path: str | Path | None = None) -> World:
    """The world in ``path``, or the built-in default world."""
    if path is None:
        text = resources.files("pbx_sim").joinpath("default_world.toml").read_text(encoding="utf-8")
        where = "default_world.toml"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    try:
        return parse_world(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, WorldError, TypeError, ValueError) as exc:
        raise WorldError(f"{where}: {exc}") from None


def call_rng(seed: int, call_number: int) -> random.Random:
    """The generator of one call: the same seed and call number always draw the same behaviour."""
    return random.Random(f"pbx-sim:{seed}:{call_number}")  # noqa: S311 - a simulation, not secrets
