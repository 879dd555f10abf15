"""``GotoIf(condition?[iftrue][:iffalse])`` with the jump: the dialplan goes on at the chosen priority.

The condition is what is left after ``${...}`` substitution: a value (true unless empty or 0) or an expression
comparing two strings, ``$[left = right]`` / ``$[left != right]`` (quotes dropped), as the captures'
``[sim-agents]`` ``GotoIf($["${AGENT_AUDIO}" = "moh"]?moh)``. A target is a priority of the same extension (the
world's steps have no labels: ``?9`` where the capture says ``?moh``), ``exten,priority`` or
``context,exten,priority``; a target the world does not have hangs the channel up, as an invalid extension does.
"""

from __future__ import annotations

import re

from pbx_sim.core.channels import Channel
from pbx_sim.core.dialplan import run_steps
from pbx_sim.core.pbx import Pbx

EXPRESSION = re.compile(r"^\$\[(.*?)(!=|=)(.*)\]$", re.S)


def truth(condition: str) -> bool:
    condition = condition.strip()
    match = EXPRESSION.match(condition)
    if match is None:
        return condition not in ("", "0")
    left, operator, right = (part.strip().strip('"') for part in match.groups())
    return (left == right) == (operator == "=")


async def app_gotoif(pbx: Pbx, chan: Channel, data: str) -> bool:
    condition, _, targets = data.partition("?")
    iftrue, _, iffalse = targets.partition(":")
    target = (iftrue if truth(condition) else iffalse).strip()
    if not target:
        return True
    parts = [p.strip() for p in target.split(",")]
    context, exten = chan.context, chan.exten
    if len(parts) == 3:
        context, exten = parts[0], parts[1]
    elif len(parts) == 2:
        exten = parts[0]
    ext = pbx.world.extension(context, exten)
    if ext is None or not parts[-1].isdigit() or not 1 <= int(parts[-1]) <= len(ext.steps):
        pbx.hangup(chan, 16)
        return False
    await run_steps(pbx, chan, context, exten, ext.steps, ext.defaults, start=int(parts[-1]))
    return False
