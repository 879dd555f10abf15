"""Connected line updates, passed on through Local pairs and bridges as Asterisk does (ami-atxfer).

When a transfer puts a channel with someone else, its connected line becomes that party's caller id
(``NewConnectedLine``). A Local half passes the update through its pair (core_unreal): the other half's *caller*
becomes that id, and, if that half is bridged, the bridge hands the update to the parties with it, whose connected
line changes in turn, and so on down the call.

The other half's caller changes without a snapshot being published, so its events keep showing the old caller
until its next snapshot: its next dialplan step (``Newexten``), its bridge reacting to a hangup request (a bridged
channel is pulled out of its bridge right after ``HangupRequest``), or its final ``Hangup`` (a channel in an
application still shows the old caller in ``HangupRequest`` and ``SoftHangupRequest``). ``NewCallerid`` then says
what changed. In ami-atxfer: the transferee's ``;2`` shows the new caller from its ``BridgeLeave`` on, the
customer's ``;2`` (in ``Wait``) only in its ``Hangup``.
"""

from __future__ import annotations

import weakref
from typing import ClassVar

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import UNKNOWN, Channel
from pbx_sim.core.pbx import Pbx

Cid = tuple[str, str]  # (number, name)


def presentation(num: str) -> str:
    return "0 (Presentation Allowed, Not Screened)" if num != UNKNOWN else "67 (Number Unavailable)"


def set_caller(pbx: Pbx, chan: Channel, cid: Cid) -> None:
    chan.caller_num, chan.caller_name = cid
    pbx.emit("NewCallerid", ev.CALL, [*ev.channel_fields(chan), ("CID-CallingPres", presentation(cid[0]))])


def update(pbx: Pbx, chan: Channel, cid: Cid) -> None:
    """``chan`` is now connected to the party ``cid``: ``NewConnectedLine``, passed on down the call."""
    if (chan.connected_num, chan.connected_name) == cid:
        return
    chan.connected_num, chan.connected_name = cid
    pbx.emit("NewConnectedLine", ev.CALL, ev.channel_fields(chan))
    other = chan.partner
    if other is None or not other.alive:
        return
    _Unpublished.caller(pbx, other, cid)
    if other.bridge is not None:
        for mate in [m for m in other.bridge.members if m is not other]:
            update(pbx, mate, cid)


class _Unpublished:
    """A caller id changed on ``chan`` that its events show only from its next snapshot on."""

    pending: ClassVar[weakref.WeakKeyDictionary[Channel, _Unpublished]] = weakref.WeakKeyDictionary()

    def __init__(self, pbx: Pbx, chan: Channel, cid: Cid) -> None:
        self.pbx = pbx
        self.chan = chan
        self.cid = cid
        self._listeners = {
            "Newexten": lambda body: self._heard(body, True),
            "HangupRequest": lambda body: self._heard(body, chan.bridge is not None),
            "SoftHangupRequest": lambda body: self._heard(body, chan.bridge is None),
        }
        for name, listener in self._listeners.items():
            pbx.listen(name, listener)
        chan.before_hangup.append(self._final)

    @classmethod
    def caller(cls, pbx: Pbx, chan: Channel, cid: Cid) -> None:
        waiting = cls.pending.get(chan)
        if waiting is not None:
            waiting.cid = cid
        elif (chan.caller_num, chan.caller_name) != cid:
            cls.pending[chan] = cls(pbx, chan, cid)

    def _heard(self, body: Fields, snapshot: bool) -> None:
        if snapshot and dict(body).get("Channel") == self.chan.name:
            self._publish()

    def _final(self, chan: Channel) -> None:
        self._publish()

    def _publish(self) -> None:
        for name, listener in self._listeners.items():
            self.pbx.unlisten(name, listener)
        if self._final in self.chan.before_hangup:
            self.chan.before_hangup.remove(self._final)
        self.pending.pop(self.chan, None)
        if (self.chan.caller_num, self.chan.caller_name) != self.cid:
            set_caller(self.pbx, self.chan, self.cid)
