"""The agents' side of the world: their phones, the queues (as queues.conf has them) and inbound traffic.

See ``default_world.toml`` for the format of ``[agents]``, ``[[phone]]``, ``[[queue]]`` and ``[[inbound]]``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from pbx_sim.world_base import Behaviour, Dist, WorldError, check_keys, outcome_weights, pattern_regex

PHONE_OUTCOMES = ("answer", "no_answer", "refuse")
PATIENCE = Dist("uniform", 20.0, 120.0)
INBOUND_TALK = Dist("uniform", 30.0, 240.0)
STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "rrordered")


@dataclass(frozen=True)
class Phone:
    """An agent's phone: rings ``ring`` seconds, then answers, declines (refuse) or keeps ringing (no_answer);
    once answered the agent talks ``talk`` seconds and hangs up (unless the caller hangs up first)."""

    match: str
    regex: re.Pattern[str]
    weights: tuple[float, ...]  # in PHONE_OUTCOMES order
    ring: Dist
    talk: Dist
    talk_variable: str = ""
    playback: str = ""

    def behaviour(self, rng: random.Random) -> Behaviour:
        outcome = rng.choices(PHONE_OUTCOMES, weights=self.weights)[0]
        return Behaviour(outcome, self.ring.sample(rng), self.talk.sample(rng), self.playback, self.talk_variable)


@dataclass(frozen=True)
class MemberConfig:
    """A static member, as ``member => interface,penalty,membername,state_interface`` in queues.conf."""

    interface: str
    penalty: int = 0
    name: str = ""
    state_interface: str = ""


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str = "ringall"
    timeout: float = 15.0  # seconds a member rings before the attempt is given up
    retry: float = 5.0  # seconds between attempts
    wrapuptime: float = 0.0
    maxlen: int = 0
    servicelevel: int = 0
    weight: int = 0
    musicclass: str = "default"
    ringinuse: bool = False
    autofill: bool = True
    members: tuple[MemberConfig, ...] = ()


@dataclass(frozen=True)
class Inbound:
    """Calls arriving from outside into ``exten@context``: a Poisson process of ``rate`` calls per hour."""

    context: str
    exten: str
    rate: float
    number: str = "05XXXXXXXXX"  # caller numbers: each X becomes a random digit
    caller_name: str = ""
    patience: Dist = PATIENCE  # seconds a caller waits for an agent, then hangs up
    talk: Dist = INBOUND_TALK  # seconds a caller talks to the agent, then hangs up

    def caller_number(self, rng: random.Random) -> str:
        return "".join(str(rng.randrange(10)) if c in "xX" else c for c in self.number)


def parse_phone(raw: dict[str, Any], where: str) -> Phone:
    check_keys(raw, {"match", "ring", "talk", "talk_variable", "playback", *PHONE_OUTCOMES}, where)
    if not isinstance(raw.get("match"), str):
        raise WorldError(f'{where}: match must be an extension pattern such as "_[a][g][e][n][t]."')
    return Phone(
        raw["match"],
        pattern_regex(raw["match"]),
        outcome_weights(raw, PHONE_OUTCOMES, where),
        Dist.parse(raw.get("ring", 2), f"{where}.ring"),
        Dist.parse(raw.get("talk", 60), f"{where}.talk"),
        str(raw.get("talk_variable", "")),
        str(raw.get("playback", "")),
    )


def parse_member(value: Any, where: str) -> MemberConfig:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        value = dict(zip(("interface", "penalty", "name", "state_interface"), parts, strict=False))
    if not isinstance(value, dict):
        raise WorldError(f'{where}: "interface,penalty,name" or {{interface = , penalty = , name = }}')
    check_keys(value, {"interface", "penalty", "name", "state_interface"}, where)
    interface = str(value.get("interface", ""))
    if "/" not in interface:
        raise WorldError(f"{where}: interface {interface!r} is not Tech/resource")
    try:
        penalty = int(value.get("penalty") or 0)
    except ValueError:
        raise WorldError(f"{where}: penalty must be a number") from None
    name = str(value.get("name") or interface)
    return MemberConfig(interface, penalty, name, str(value.get("state_interface") or interface))


def parse_queue(raw: dict[str, Any], where: str) -> QueueConfig:
    known = {"name", "strategy", "timeout", "retry", "wrapuptime", "maxlen", "servicelevel", "weight"}
    check_keys(raw, {*known, "musicclass", "ringinuse", "autofill", "members"}, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise WorldError(f"{where}: a queue needs a name")
    strategy = str(raw.get("strategy", "ringall")).lower()
    if strategy not in STRATEGIES:
        raise WorldError(f"{where}.strategy: {strategy!r} is not one of {', '.join(STRATEGIES)}")
    members = raw.get("members", [])
    if not isinstance(members, list):
        raise WorldError(f"{where}.members: a list of members")
    return QueueConfig(
        name,
        strategy,
        timeout=float(raw.get("timeout", 15)),
        retry=float(raw.get("retry", 5)),
        wrapuptime=float(raw.get("wrapuptime", 0)),
        maxlen=int(raw.get("maxlen", 0)),
        servicelevel=int(raw.get("servicelevel", 0)),
        weight=int(raw.get("weight", 0)),
        musicclass=str(raw.get("musicclass", "default")),
        ringinuse=bool(raw.get("ringinuse", False)),
        autofill=bool(raw.get("autofill", True)),
        members=tuple(parse_member(m, f"{where}.members[{i}]") for i, m in enumerate(members)),
    )


def parse_inbound(raw: dict[str, Any], where: str) -> Inbound:
    check_keys(raw, {"context", "exten", "rate", "number", "caller_name", "patience", "talk"}, where)
    rate = raw.get("rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 0:
        raise WorldError(f"{where}.rate: calls per hour, a number >= 0")
    if not raw.get("exten"):
        raise WorldError(f'{where}: exten (and context) say where the calls go, e.g. exten = "support"')
    return Inbound(
        str(raw.get("context", "to-queue")),
        str(raw["exten"]),
        float(rate),
        str(raw.get("number", "05XXXXXXXXX")),
        str(raw.get("caller_name", "")),
        Dist.parse(raw.get("patience", [20, 120]), f"{where}.patience"),
        Dist.parse(raw.get("talk", [30, 240]), f"{where}.talk"),
    )
