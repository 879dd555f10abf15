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
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pbx_sim.world_agents import Inbound, Phone, QueueConfig, parse_inbound, parse_phone, parse_queue
from pbx_sim.world_base import Behaviour, Dist, WorldError, check_keys, outcome_weights, pattern_regex
from pbx_sim.world_pjsip import Endpoint, parse_endpoints

OUTCOMES = ("answer", "busy", "no_answer", "congestion", "machine")

__all__ = [
    "Behaviour",
    "Customer",
    "Dist",
    "Extension",
    "Inbound",
    "Phone",
    "QueueConfig",
    "World",
    "WorldError",
    "call_rng",
    "load_world",
    "parse_step",
    "parse_world",
    "pattern_regex",
]


@dataclass(frozen=True)
class Customer:
    match: str
    regex: re.Pattern[str]
    weights: tuple[float, ...]  # in OUTCOMES order
    ring: Dist
    talk: Dist
    talk_variable: str = ""
    playback: str = ""
    digits: tuple[str, ...] = ()
    think: Dist = field(default_factory=lambda: Dist("fixed", 1.0))
    # What AMD() hears once answered: a person's hello, or an answering machine's message (0: silence).
    greeting: Dist = field(default_factory=lambda: Dist("fixed", 1.0))
    machine_greeting: Dist = field(default_factory=lambda: Dist("uniform", 5.0, 15.0))


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
    agent_context: str = "sim-agents"
    phones: tuple[Phone, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    inbound: tuple[Inbound, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()  # PJSIP endpoints (pbx_sim.world_pjsip)
    features: dict[str, str] = field(default_factory=dict)  # features.conf [featuremap]: {"atxfer": "*2"}

    def customer(self, number: str) -> Customer | None:
        return next((c for c in self.customers if c.regex.match(number)), None)

    def behaviour(self, number: str, rng: random.Random) -> Behaviour | None:
        """The customer at ``number`` on this call, or None if nobody has that number."""
        cust = self.customer(number)
        if cust is None:
            return None
        outcome = rng.choices(OUTCOMES, weights=cust.weights)[0]
        behaviour = Behaviour(outcome, cust.ring.sample(rng), cust.talk.sample(rng), cust.playback, cust.talk_variable)
        if not cust.digits:
            return behaviour
        return replace(behaviour, digits=cust.digits, think=tuple(cust.think.sample(rng) for _ in cust.digits))

    def extension(self, context: str, exten: str) -> Extension | None:
        candidates = [e for e in self.extensions if e.context == context]
        exact = next((e for e in candidates if e.match == exten), None)
        return exact or next((e for e in candidates if e.regex.match(exten)), None)

    def sound_seconds(self, name: str) -> float:
        return self.sounds.get(name, self.default_sound)

    def phone(self, exten: str) -> Phone | None:
        """The agent's phone at ``exten`` of the agents' context, or None."""
        return next((p for p in self.phones if p.regex.match(exten)), None)


DIGITS = re.compile(r"[0-9*#A-Da-dwW]+")
STEP = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_step(text: str, where: str) -> tuple[str, str]:
    match = STEP.match(text)
    if match is None:
        raise WorldError(f"{where}: {text!r} is not App(data)")
    return match.group(1), match.group(2) or ""


def _customer(raw: dict[str, Any], where: str) -> Customer:
    known = {"match", "ring", "talk", "talk_variable", "playback", "digits", "think", *OUTCOMES}
    check_keys(raw, known | {"greeting", "machine_greeting"}, where)
    if not isinstance(raw.get("match"), str):
        raise WorldError(f'{where}: match must be an extension pattern such as "_X."')
    weights = outcome_weights(raw, OUTCOMES, where)
    return Customer(
        raw["match"],
        pattern_regex(raw["match"]),
        weights,
        Dist.parse(raw.get("ring", 3), f"{where}.ring"),
        Dist.parse(raw.get("talk", 30), f"{where}.talk"),
        str(raw.get("talk_variable", "")),
        str(raw.get("playback", "")),
        _digits(raw.get("digits", []), f"{where}.digits"),
        Dist.parse(raw.get("think", 1), f"{where}.think"),
        greeting=Dist.parse(raw.get("greeting", 1), f"{where}.greeting"),
        machine_greeting=Dist.parse(raw.get("machine_greeting", [5, 15]), f"{where}.machine_greeting"),
    )


def _digits(value: Any, where: str) -> tuple[str, ...]:
    """``"1234#"`` (one answer) or ``["1", "w2", "34#"]`` (one per prompt), each in SendDTMF's digits syntax."""
    answers = [value] if isinstance(value, str) else value
    if not isinstance(answers, list) or not all(isinstance(a, str) and DIGITS.fullmatch(a) for a in answers):
        raise WorldError(f"{where}: keys 0-9 * # A-D, w (half a second's pause), W (a second), or a list: {value!r}")
    return tuple(answers)


def _extension(raw: dict[str, Any], where: str) -> Extension:
    check_keys(raw, {"context", "exten", "steps", "defaults"}, where)
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


def _entries(data: dict[str, Any], section: str) -> list[tuple[dict[str, Any], str]]:
    entries = data.get(section, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise WorldError(f"{section}: use [[{section}]] tables")
    return [(e, f"{section}[{i}]") for i, e in enumerate(entries)]


def parse_world(data: dict[str, Any]) -> World:
    sections = {
        "customer",
        "dialplan",
        "sounds",
        "outbound",
        "agents",
        "phone",
        "queue",
        "inbound",
        "endpoint",
        "features",
    }
    unknown = set(data) - sections
    if unknown:
        raise WorldError(f"unknown sections {sorted(unknown)}")
    outbound = dict(data.get("outbound", {}))
    agents = dict(data.get("agents", {}))
    check_keys(agents, {"context"}, "agents")
    features = {str(k): str(v) for k, v in dict(data.get("features", {})).items()}
    check_keys(features, {"atxfer"}, "features")
    customers = tuple(_customer(c, where) for c, where in _entries(data, "customer"))
    extensions = tuple(_extension(e, where) for e, where in _entries(data, "dialplan"))
    sounds = {str(k): float(v) for k, v in dict(data.get("sounds", {})).items()}
    queues = tuple(parse_queue(q, where) for q, where in _entries(data, "queue"))
    names = [q.name for q in queues]
    if len(set(names)) != len(names):
        raise WorldError(f"queue: a name is used twice in {names}")
    return World(
        customers,
        extensions,
        sounds,
        outbound_context=str(outbound.get("context", "outbound")),
        customer_context=str(outbound.get("customer_context", "sim")),
        dial_timeout=float(outbound.get("dial_timeout", 30.0)),
        agent_context=str(agents.get("context", "sim-agents")),
        phones=tuple(parse_phone(p, where) for p, where in _entries(data, "phone")),
        queues=queues,
        inbound=tuple(parse_inbound(i, where) for i, where in _entries(data, "inbound")),
        endpoints=parse_endpoints(_entries(data, "endpoint")),
        features=features,
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
