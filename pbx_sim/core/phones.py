"""What runs on the ``;2`` of a dialled Local channel: a simulated phone or an extension of the world's dialplan.

* ``Local/<number>@<customer context>`` is a customer (``[[customer]]``), modelled on the fixtures' ``[sim]``.
* ``Local/<exten>@<agents context>`` is an agent's phone (``[[phone]]``), modelled on ``[sim-agents]``:
  it rings, then answers (the agent talks, then hangs up), declines (Busy) or rings until the caller gives up.
* Any other ``Local/<exten>@<context>`` runs that extension of ``[[dialplan]]``.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field

from pbx_sim.core.channels import Channel
from pbx_sim.core.dialplan import fmt_seconds
from pbx_sim.world import Behaviour, World

Steps = list[tuple[str, str]]


@dataclass
class Script:
    steps: Steps
    defaults: dict[str, str] = field(default_factory=dict)
    disposition: str = "NO ANSWER"  # of the ;2 CDR if it never answers


def reachable(world: World, exten: str, context: str) -> bool:
    """Whether ``Local/<exten>@<context>`` can be created (Asterisk refuses a Local channel to nowhere)."""
    if context == world.customer_context:
        return world.customer(exten) is not None
    if context == world.agent_context and world.phone(exten) is not None:
        return True
    return world.extension(context, exten) is not None


def _talk(chan: Channel, behaviour: Behaviour) -> float:
    talk = behaviour.talk
    if behaviour.talk_variable:
        override = chan.get_var(behaviour.talk_variable)
        if override:
            with contextlib.suppress(ValueError):
                talk = float(override)
    return talk


def customer_steps(chan: Channel, number: str, behaviour: Behaviour) -> Steps:
    """The dialplan the customer's ``;2`` runs, modelled on the fixtures' ``[sim]`` context: one that answers at
    once (ring 0) does not ring first; one with ``digits`` answers an IVR's prompts once it has answered the call:
    Wait(think) and SendDTMF(keys) for each, as ``[sim] ivrcaller`` in agi-ivr-menu."""
    if behaviour.outcome == "busy":
        return [("Busy", "3")]
    if behaviour.outcome == "congestion":
        return [("Congestion", "3")]
    if behaviour.outcome == "no_answer":
        return [("Ringing", ""), ("Wait", "120")]
    steps = [("NoOp", f"sim customer {number}")]
    if behaviour.ring > 0:
        steps += [("Ringing", ""), ("Wait", fmt_seconds(behaviour.ring))]
    steps.append(("Answer", ""))
    if behaviour.playback:
        steps.append(("Playback", behaviour.playback))
    for keys, think in zip(behaviour.digits, behaviour.think, strict=True):
        steps += [("Wait", fmt_seconds(think)), ("SendDTMF", keys)]
    steps += [("Wait", fmt_seconds(_talk(chan, behaviour))), ("Hangup", "")]
    return steps


def customer_disposition(behaviour: Behaviour) -> str:
    return {"busy": "BUSY", "congestion": "FAILED"}.get(behaviour.outcome, "NO ANSWER")


def phone_steps(chan: Channel, exten: str, behaviour: Behaviour) -> Steps:
    """The dialplan an agent's phone runs, modelled on the fixtures' ``[sim-agents]`` context."""
    ring = fmt_seconds(behaviour.ring)
    if behaviour.outcome == "no_answer":
        return [("NoOp", f"sim agent {exten} does not answer"), ("Ringing", ""), ("Wait", "3600")]
    if behaviour.outcome == "refuse":
        return [("NoOp", f"sim agent {exten} declines after {ring}s"), ("Ringing", ""), ("Wait", ring), ("Busy", "")]
    steps = [("NoOp", f"sim agent {exten} rings {ring}s then answers"), ("Ringing", ""), ("Wait", ring)]
    steps.append(("Answer", ""))
    if behaviour.playback:
        steps.append(("Playback", behaviour.playback))
    steps += [("Wait", fmt_seconds(_talk(chan, behaviour))), ("Hangup", "")]
    return steps


def script(world: World, chan: Channel, exten: str, context: str, rng: random.Random) -> Script | None:
    """What the ``;2`` ``chan`` of ``Local/<exten>@<context>`` runs (it already has its inherited variables)."""
    if context == world.customer_context:
        behaviour = world.behaviour(exten, rng)
        if behaviour is None:
            return None
        return Script(customer_steps(chan, exten, behaviour), disposition=customer_disposition(behaviour))
    phone = world.phone(exten) if context == world.agent_context else None
    if phone is not None:
        behaviour = phone.behaviour(rng)
        disposition = "BUSY" if behaviour.outcome == "refuse" else "NO ANSWER"
        return Script(phone_steps(chan, exten, behaviour), disposition=disposition)
    ext = world.extension(context, exten)
    if ext is None:
        return None
    return Script(list(ext.steps), dict(ext.defaults))
