"""Calling a Local channel from a channel, as app_dial and app_queue do, and the ``Dial`` application.

:class:`LocalDial` is one outgoing call: it creates the callee's Local pair (Linkedid of the caller, inherited
variables, ``LocalBridge``), sends ``DialBegin`` / ``DialState`` / ``DialEnd`` with the caller's fields, starts
what the callee's ``;2`` runs (:mod:`pbx_sim.core.phones`) and reports what the callee does. The caller's
side (bridge on answer, what to do otherwise) is up to the application using it.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, Indication, State
from pbx_sim.core.dialplan import run_steps, seconds
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.phones import reachable, script
from pbx_sim.core.pjsip_calls import dial_pjsip

LOCAL_TARGET = re.compile(r"^Local/([^@/]+)@([^/]+?)(/[a-zA-Z]+)?$")
Cid = tuple[str, str]  # (number, name)


def phone_rng(pbx: Pbx, key: str) -> random.Random:
    """The generator of the next call to ``key`` (a phone): repeatable whatever other calls do meanwhile."""
    count = pbx.dial_counts.get(key, 0) + 1
    pbx.dial_counts[key] = count
    return random.Random(f"pbx-sim-dial:{pbx.seed}:{key}:{count}")  # noqa: S311 - a simulation, not secrets


class LocalDial:
    """One call from ``caller`` to ``Local/<exten>@<context>[/options]``; the listener of the callee's ``;1``."""

    def __init__(
        self,
        pbx: Pbx,
        caller: Channel,
        exten: str,
        context: str,
        options: str = "",
        *,
        app: str = "Dial",
        rng: random.Random | None = None,
    ) -> None:
        self.pbx = pbx
        self.caller = caller
        self.exten = exten
        self.context = context
        self.options = options
        self.app = app
        self.rng = rng
        self.one: Channel | None = None
        self.two: Channel | None = None
        self.started = 0.0
        self.ended = False
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @property
    def reachable(self) -> bool:
        return reachable(self.pbx.world, self.exten, self.context)

    def create(
        self, one_cid: Cid, one_connected: Cid, two_cid: Cid, two_connected: Cid, *, one_exten: str | None = None
    ) -> Channel:
        """The callee's Local pair (Newchannel, inherited variables, caller ids, LocalBridge); returns ``;1``.
        ``one_exten``: the extension ``;1`` takes before its first Newexten (app_dial: the caller's)."""
        pbx, caller = self.pbx, self.caller
        one, two = pbx.table.local_pair(self.exten, self.context, pbx.clock.now(), linkedid=caller.linkedid)
        self.one, self.two = one, two
        pbx.register(one, two)
        for name, value in caller.inheritable():
            one.set_var(name, value)
            two.set_var(name, value)
        if one_exten is not None:
            one.exten = one_exten
        one.caller_num, one.caller_name = one_cid
        pbx.newexten(one, 1, f"App{self.app}", "(Outgoing Line)")
        one.connected_num, one.connected_name = one_connected
        two.caller_num, two.caller_name = two_cid
        two.connected_num, two.connected_name = two_connected
        optimize = "n" not in self.options
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, self.context, self.exten, optimize))
        one.listener = self
        return one

    def begin(self, dial_string: str) -> None:
        """``DialBegin`` and the callee's ``;2`` starts its dialplan."""
        pbx, one, two = self.pbx, self.one, self.two
        assert one is not None and two is not None
        self.started = pbx.clock.now()
        pbx.emit("DialBegin", ev.CALL, ev.dial(self.caller, one, [("DialString", dial_string)]))
        rng = self.rng or phone_rng(pbx, f"{self.exten}@{self.context}")
        plan = script(pbx.world, two, self.exten, self.context, rng)
        if plan is None:  # the world changed under us: nothing answers
            plan_steps: list[tuple[str, str]] = [("Wait", "3600")]
            defaults: dict[str, str] = {}
            disposition = "NO ANSWER"
        else:
            plan_steps, defaults, disposition = plan.steps, plan.defaults, plan.disposition
        two.cdrs.append(ev.Cdr(two, two.created, disposition=disposition))
        two.runner = pbx.spawn(
            run_steps(pbx, two, self.context, self.exten, plan_steps, defaults), f"{self.app} {two.name}"
        )

    # ------------------------------------------------------------ listener of ;1
    def on_indication(self, chan: Channel, what: str) -> None:
        if what == Indication.RINGING:
            if self.app == "Dial" and self.caller.state != State.UP:
                self.pbx.indicate(self.caller, Indication.RINGING)  # app_dial passes ringing back to its caller
            if chan.alive and not self.ended:
                self.pbx.emit("DialState", ev.CALL, ev.dial(self.caller, chan, [("DialStatus", "RINGING")]))
        elif not self._result.done():
            self._result.set_result(what)

    def on_gone(self, chan: Channel, cause: int) -> None:
        if not self._result.done():
            self._result.set_result("gone")

    # --------------------------------------------------------------- outcome
    async def wait(self, limit: float | None) -> str:
        """``answer`` / ``busy`` / ``congestion`` / ``gone`` / ``timeout`` after ``limit`` simulated seconds
        (None: no limit)."""
        try:
            real = None if limit is None else self.pbx.clock.real(limit)
            return await asyncio.wait_for(asyncio.shield(self._result), real)
        except TimeoutError:
            return "timeout"

    @property
    def result(self) -> asyncio.Future[str]:
        return self._result

    def end(self, status: str) -> None:
        """``DialEnd`` with ``status`` (ANSWER, BUSY, CONGESTION, NOANSWER, CANCEL) unless already ended."""
        if self.ended or self.one is None:
            return
        self.ended = True
        self.one.listener = None
        self.pbx.emit("DialEnd", ev.CALL, ev.dial(self.caller, self.one, [("DialStatus", status)]))

    def drop(self, status: str, cause: int, *, settle: bool = True) -> None:
        """End the dial with ``status`` and hang the callee up."""
        self.end(status)
        if self.one is not None and self.one.alive:
            self.pbx.hangup(self.one, cause, soft=False, settle=settle)

    # Dialing protocol of the caller: it hung up while the callee rang
    def cancel(self, cause: int) -> None:
        self.caller.dialing = None
        self.drop("CANCEL", cause, settle=False)


# ------------------------------------------------------------------- Dial()
def parse_target(target: str) -> tuple[str, str, str] | None:
    match = LOCAL_TARGET.match(target.strip())
    if match is None:
        return None
    return match.group(1), match.group(2), (match.group(3) or "").lstrip("/")


async def dial(
    pbx: Pbx,
    chan: Channel,
    target: str,
    ring_for: float | None,
    *,
    rng: random.Random | None = None,
    created: Callable[[Channel], None] | None = None,
) -> str:
    """Dial ``target`` (a Local channel) from ``chan`` as app_dial does; on answer the two are bridged.
    Returns DIALSTATUS: ANSWER, BUSY, CONGESTION, NOANSWER, CANCEL or CHANUNAVAIL. ``ring_for``: the Dial
    timeout (None: none); ``created`` is told the callee's ``;1`` as soon as it exists. A ``PJSIP/...`` target
    is dialled by :func:`pbx_sim.core.pjsip_calls.dial_pjsip`."""
    if target.strip().upper().startswith("PJSIP/"):
        return await dial_pjsip(pbx, chan, target, ring_for, rng=rng or phone_rng(pbx, target), created=created)
    parsed = parse_target(target)
    if parsed is None:
        return "CHANUNAVAIL"
    exten, context, options = parsed
    call = LocalDial(pbx, chan, exten, context, options, rng=rng)
    if not call.reachable:
        return "CHANUNAVAIL"
    # app_dial: the callee's ;1 takes the caller's extension, also as its caller id number (in the captures'
    # outbound calls that is the dialled number; after a Redirect to transfer-target it is "transfer-target"),
    # and the caller's connected name (ami-atxfer: the transfer target's, unknown, dials agent3 as "801" <unknown>).
    caller, dialled = (chan.caller_num, chan.caller_name), (chan.exten, chan.connected_name)
    one = call.create(dialled, caller, caller, dialled, one_exten=chan.exten)
    for record in chan.cdrs:
        if record.follow:
            record.dest_channel = one.name
    if created is not None:
        created(one)
    chan.dialing = call
    call.begin(f"{exten}@{context}" + (f"/{options}" if options else ""))
    what = await call.wait(ring_for)
    chan.dialing = None
    if not one.alive:
        return "CANCEL" if what == "gone" else "NOANSWER"
    if what == Indication.ANSWER:
        one.exten = ""
        call.end("ANSWER")
        pbx.newexten(one, 1, "AppDial", "(Outgoing Line)")
        if chan.state != State.UP:
            pbx.new_state(chan, State.UP)
            pbx.indicate(chan, Indication.ANSWER)
        pbx.bridge(one, chan)
        return "ANSWER"
    status = {Indication.BUSY: "BUSY", Indication.CONGESTION: "CONGESTION"}.get(what, "NOANSWER")
    call.drop(status, 19 if status == "NOANSWER" else 0)
    return status


async def app_dial(pbx: Pbx, chan: Channel, data: str) -> bool:
    target, _, rest = data.partition(",")
    timeout = seconds(rest, 0.0) or None
    pbx.set_var(chan, "DIALSTATUS", "")
    status = await dial(pbx, chan, target, timeout)
    pbx.set_var(chan, "DIALSTATUS", status)
    if status == "ANSWER":
        await asyncio.get_running_loop().create_future()  # bridged: the call ends by a hangup (this task is cancelled)
    return chan.alive
