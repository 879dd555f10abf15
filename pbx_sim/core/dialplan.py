"""Runs the applications of a dialplan extension on a channel, one priority after another.

Each step sends ``Newexten`` (the channel's Context/Exten/Priority/Application/AppData, as Status and
CoreShowChannels later report them) and then does what the application does in Asterisk, with simulated time.
Running off the end of the extension hangs the channel up (cause 16), as the PBX does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import structlog

from pbx_sim.core.channels import Channel, Indication, State
from pbx_sim.core.pbx import App, Pbx

log = structlog.get_logger("pbx_sim")

VAR = re.compile(r"\$\{([A-Za-z0-9_()]+)\}")

# Channel values a dialplan reads like variables (unless a variable of that name is set).
BUILTIN: dict[str, Callable[[Channel], str]] = {
    "CHANNEL": lambda c: c.name,
    "UNIQUEID": lambda c: c.uniqueid,
    "CONTEXT": lambda c: c.context,
    "EXTEN": lambda c: c.exten,
    "PRIORITY": lambda c: str(c.priority),
    "CALLERID(NUM)": lambda c: c.caller_num,
    "CALLERID(NAME)": lambda c: c.caller_name,
}


def substitute(pbx: Pbx, chan: Channel, text: str, defaults: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = pbx.get_var(chan, name)
        if found:
            return found
        builtin = BUILTIN.get(name.upper())
        if builtin is not None and chan.get_var(name) is None:
            return builtin(chan)
        return defaults.get(name, "")

    return VAR.sub(value, text)


def seconds(text: str, default: float = 0.0) -> float:
    try:
        return max(0.0, float(text.split(",")[0]))
    except ValueError:
        return default


def fmt_seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


async def app_noop(pbx: Pbx, chan: Channel, data: str) -> bool:
    return True


async def app_answer(pbx: Pbx, chan: Channel, data: str) -> bool:
    if chan.state != State.UP:
        pbx.new_state(chan, State.UP)
        pbx.indicate(chan, Indication.ANSWER)
    return True


async def app_ringing(pbx: Pbx, chan: Channel, data: str) -> bool:
    pbx.indicate(chan, Indication.RINGING)
    return True


async def app_wait(pbx: Pbx, chan: Channel, data: str) -> bool:
    await pbx.clock.sleep(seconds(data))
    return True


async def app_playback(pbx: Pbx, chan: Channel, data: str) -> bool:
    await pbx.clock.sleep(pbx.world.sound_seconds(data.split(",")[0]))
    pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS")
    return True


async def app_set(pbx: Pbx, chan: Channel, data: str) -> bool:
    name, _, value = data.partition("=")
    pbx.set_var(chan, name.strip(), value)
    return True


async def app_hangup(pbx: Pbx, chan: Channel, data: str) -> bool:
    pbx.hangup(chan, int(data) if data.isdigit() else 16)
    return False


def _refuse(state_cause: int, what: str) -> App:
    async def app(pbx: Pbx, chan: Channel, data: str) -> bool:
        pbx.new_state(chan, State.BUSY)
        chan.hangup_cause = state_cause
        pbx.indicate(chan, what)
        await pbx.clock.sleep(seconds(data, 0.0) or 10.0)
        pbx.hangup(chan, state_cause)
        return False

    return app


APPS: dict[str, App] = {
    "noop": app_noop,
    "answer": app_answer,
    "ringing": app_ringing,
    "wait": app_wait,
    "playback": app_playback,
    "set": app_set,
    "hangup": app_hangup,
    "busy": _refuse(17, Indication.BUSY),
    "congestion": _refuse(34, Indication.CONGESTION),
}


async def run_steps(
    pbx: Pbx,
    chan: Channel,
    context: str,
    exten: str,
    steps: Sequence[tuple[str, str]],
    defaults: dict[str, str] | None = None,
    *,
    start: int = 1,
) -> None:
    """Run ``steps`` from priority ``start`` as extension ``exten`` of ``context`` on ``chan`` until its
    dialplan ends."""
    chan.runs_pbx = True
    chan.context, chan.exten = context, exten
    for priority, (app, raw) in enumerate(steps[start - 1 :], start=start):
        if not chan.alive:
            return
        data = substitute(pbx, chan, raw, defaults or {})
        pbx.newexten(chan, priority, app, data)
        impl = pbx.apps.get(app.lower()) or APPS.get(app.lower())
        if impl is None:
            log.warning("pbx_sim_unsupported_application", channel=chan.name, application=app)
            pbx.hangup(chan, 16)
            return
        if not await impl(pbx, chan, data):
            return
    if chan.alive:
        pbx.hangup(chan, 16)
