"""The ``MusicOnHold(class[,duration])`` application: music for the channel, ``duration`` seconds or until it
hangs up.

As ``[sim-agents] moh`` in ami-chanspy-listen-whisper-barge (the agent's side plays music so that the spied call
carries audio): ``MusicOnHoldStart`` (``Class``) when it starts, ``MusicOnHoldStop`` when it ends, also when the
channel hangs up first; then the dialplan goes on.
"""

from __future__ import annotations

import asyncio

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.dialplan import seconds
from pbx_sim.core.pbx import Pbx


async def app_musiconhold(pbx: Pbx, chan: Channel, data: str) -> bool:
    music, _, duration = data.partition(",")
    pbx.emit("MusicOnHoldStart", ev.CALL, [*ev.channel_fields(chan), ("Class", music.strip() or "default")])

    def stop(_chan: Channel) -> None:
        pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(chan))

    chan.before_hangup.append(stop)
    try:
        length = seconds(duration)
        if length > 0:
            await pbx.clock.sleep(length)
        else:
            await asyncio.get_running_loop().create_future()  # until the channel hangs up (task cancelled)
    finally:
        chan.before_hangup.remove(stop)
    stop(chan)
    return True
