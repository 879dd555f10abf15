"""Building blocks of the world file: its error, Asterisk extension patterns, durations, outcome weights."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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
class Behaviour:
    """What one simulated phone (a customer's, an agent's) does on one call."""

    outcome: str
    ring: float
    talk: float
    playback: str = ""
    talk_variable: str = ""
    digits: tuple[str, ...] = ()  # a customer's answers to an IVR's prompts, each in SendDTMF's digits syntax
    think: tuple[float, ...] = ()  # seconds before each answer


def check_keys(raw: dict[str, Any], known: Iterable[str], where: str) -> None:
    unknown = set(raw) - set(known)
    if unknown:
        raise WorldError(f"{where}: unknown keys {sorted(unknown)}")


def outcome_weights(raw: dict[str, Any], outcomes: tuple[str, ...], where: str) -> tuple[float, ...]:
    weights = tuple(float(raw.get(o, 0.0)) for o in outcomes)
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise WorldError(f"{where}: give at least one of {', '.join(outcomes)} a positive weight")
    return weights
