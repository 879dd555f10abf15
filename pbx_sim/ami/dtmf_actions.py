"""AMI PlayDTMF (app_senddtmf's manager_play_dtmf), worded as Asterisk 22: how a test or a trainer presses keys.

``Channel`` is looked up first (a missing or unknown one: ``Channel not found``), then ``Digit`` (``No digit
specified``; only its first character counts) and ``Duration`` in milliseconds (``Could not convert Duration
parameter``). Without ``Receive`` the key is sent out of the channel as ``ast_senddigit_external`` does, and the
answer comes once it has been played (at least 100 ms): to press a key for a caller whose ``;1`` runs an AGI, play
it on the caller's ``;2``. With ``Receive: true`` it is queued on the channel as if its far end had sent it (a bare
end frame: only ``DTMFEnd``), so it reaches the AGI running on that very channel. See :mod:`pbx_sim.core.dtmf`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Message
from pbx_sim.core import dtmf

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession

TRUE = ("yes", "true", "y", "t", "1", "on")
UNSIGNED = re.compile(r"\s*[+-]?\d+")  # sscanf("%u") takes a sign too, and wraps a negative number


async def action_playdtmf(s: AmiSession, msg: Message) -> bool:
    chan = s.pbx.find(msg.get("Channel"))
    if chan is None:
        s.error(msg, "Channel not found")
        return True
    digit = msg.get("Digit")[:1]
    if not digit:
        s.error(msg, "No digit specified")
        return True
    duration = msg.get("Duration")
    match = UNSIGNED.match(duration)
    if duration and match is None:
        s.error(msg, "Could not convert Duration parameter")
        return True
    duration_ms = int(match.group()) % 2**32 if match else 0
    if msg.get("Receive").lower() in TRUE:
        s.pbx.spawn(dtmf.receive(s.pbx, chan, digit, duration_ms), f"dtmf {chan.name}")
    else:
        await dtmf.send(s.pbx, chan, digit, duration_ms)
    s.ack(msg, "DTMF successfully queued")
    return True
