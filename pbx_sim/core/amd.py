"""``AMD()``: answering machine detection on an answered call, and ``UserEvent`` to report it.

app_amd listens to what the far end says after answering, with amd.conf's defaults: 2.5 s of silence before
anyone speaks is a machine (``INITIALSILENCE-2500-2500``), 1.5 s of speaking is a machine's long greeting
(``LONGGREETING-1500-1500``), a short greeting followed by 0.8 s of silence is a person (``HUMAN-800-800``). It
sets ``AMDSTATUS`` (HUMAN, MACHINE) and ``AMDCAUSE`` and the dialplan goes on; ami-amd reports them with
``UserEvent(AMDResult,AMDStatus: ${AMDSTATUS},AMDCause: ${AMDCAUSE})``.

What the far end says comes from the world: AMD follows the call (Local pairs, bridges) to the customer who
answered, and the customer's ``answer`` and ``machine`` weights say whether a person or a machine answered
(drawn when AMD listens: until then the two sound alike), ``greeting`` how long a person's hello lasts,
``machine_greeting`` how long the machine's message is (0: a machine that says nothing). A far end that is not
a customer (an agent's phone, an extension) is taken for a person saying a one-second hello. The far end starts
to speak half a second after it answered (Answer() waits that long for audio), as in the capture.
"""

from __future__ import annotations

import random

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.pbx import Pbx
from pbx_sim.world import OUTCOMES

INITIAL_SILENCE = 2.5  # amd.conf initial_silence
GREETING = 1.5  # amd.conf greeting: a longer one is a machine's
AFTER_GREETING_SILENCE = 0.8  # amd.conf after_greeting_silence: a person waits for an answer
ANSWER_MEDIA_WAIT = 0.5  # the far end's Answer() waiting for audio before it speaks


def far_end(chan: Channel) -> Channel:
    """The channel at the other end of ``chan``'s call: through its Local pair, its bridge, the next pair..."""
    seen = {id(chan)}
    current = chan
    while current.partner is not None and id(current.partner) not in seen:
        other = current.partner
        seen.add(id(other))
        mates = [m for m in other.bridge.members if m is not other] if other.bridge is not None else []
        if not mates:
            return other
        current = mates[0]
        seen.add(id(current))
    return current


def verdict(pbx: Pbx, chan: Channel) -> tuple[float, str, str]:
    """(seconds of listening, AMDSTATUS, AMDCAUSE) for the call on ``chan``."""
    world, far = pbx.world, far_end(chan)
    customer = world.customer(far.exten) if far.context == world.customer_context else None
    greeting = 1.0
    if customer is not None:
        rng = random.Random(f"pbx-sim-amd:{pbx.seed}:{chan.uniqueid}")  # noqa: S311 - a simulation
        person, machine = (customer.weights[OUTCOMES.index(o)] for o in ("answer", "machine"))
        is_machine = machine > 0 and rng.random() * (person + machine) >= person
        greeting = (customer.machine_greeting if is_machine else customer.greeting).sample(rng)
    waited = 0.0 if far.answered_at is None else pbx.clock.now() - far.answered_at
    silent = max(0.0, ANSWER_MEDIA_WAIT - waited)
    if greeting <= 0:
        return silent + INITIAL_SILENCE, "MACHINE", "INITIALSILENCE-2500-2500"
    if greeting >= GREETING:
        return silent + GREETING, "MACHINE", "LONGGREETING-1500-1500"
    return silent + greeting + AFTER_GREETING_SILENCE, "HUMAN", "HUMAN-800-800"


async def app_amd(pbx: Pbx, chan: Channel, data: str) -> bool:
    listening, status, cause = verdict(pbx, chan)
    await pbx.clock.sleep(listening)
    pbx.set_var(chan, "AMDSTATUS", status)
    pbx.set_var(chan, "AMDCAUSE", cause)
    return True


async def app_userevent(pbx: Pbx, chan: Channel, data: str) -> bool:
    """``UserEvent(eventname[,key: value[,...]])``: ``Event: UserEvent`` with ``UserEvent: eventname`` and the
    pairs as fields."""
    name, *pairs = data.split(",")
    fields = [(key.strip(), value.strip()) for key, _, value in (pair.partition(":") for pair in pairs)]
    pbx.emit("UserEvent", ev.USER, [*ev.channel_fields(chan), ("UserEvent", name.strip()), *fields])
    return True
