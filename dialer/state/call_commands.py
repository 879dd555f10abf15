"""Commands to the call state machine (:mod:`dialer.state.call`): one per kind of fact the AMI engine reads.

Every command names its call by ``linkedid`` so the engine can route it (``calls[command.linkedid]``) and a log
line shows which call it was about. Numbers are Asterisk's own (Q.850 causes, OriginateResponse reasons); the
machine interprets them through :mod:`dialer.state.causes`.
"""

from __future__ import annotations

import dataclasses

from dialer.state.causes import Party


@dataclasses.dataclass(frozen=True)
class CallCommand:
    linkedid: str


@dataclasses.dataclass(frozen=True)
class Dial(CallCommand):
    """The dialer sent an Originate (ChannelId = ``linkedid``; ``action_id`` its ActionID), or, ``inbound``, a
    caller's call arrived (``destination`` is then the caller's number)."""

    destination: str
    action_id: str | None = None
    inbound: bool = False


@dataclasses.dataclass(frozen=True)
class AddChannel(CallCommand):
    """A channel of this call appeared (``Newchannel`` with this Linkedid)."""

    uniqueid: str


@dataclasses.dataclass(frozen=True)
class Ring(CallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Answer(CallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class ConnectAgent(CallCommand):
    agent_id: int


@dataclasses.dataclass(frozen=True)
class Hold(CallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Resume(CallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Transfer(CallCommand):
    target: str


@dataclasses.dataclass(frozen=True)
class HangupChannel(CallCommand):
    """A channel of this call hung up (``Hangup``: Cause, Cause-txt); ``party`` as far as the engine knows."""

    uniqueid: str
    cause: int | None
    cause_text: str = ""
    party: Party = Party.UNKNOWN


@dataclasses.dataclass(frozen=True)
class OriginateFailed(CallCommand):
    """``OriginateResponse`` with ``Response: Failure`` and its ``Reason`` (0, 1, 3, 5, 8)."""

    reason: int
    action_id: str | None = None
