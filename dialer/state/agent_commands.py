"""Commands to the agent state machine (:mod:`dialer.state.agent`): imperative, frozen, validated on creation.

They come from the agent's screen (LogIn, GoReady, Pause, GoOnlineNotTaking, FinishWrapUp, LogOut), from a
supervisor (a forced LogOut) and from the dialer as it reads the PBX (Reserve, Ring, Answer, RingNoAnswer,
Withdraw, EndCall). ``call_id`` is the call's Linkedid.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AgentCommand:
    pass


@dataclasses.dataclass(frozen=True)
class AgentCallCommand(AgentCommand):
    call_id: str

    def __post_init__(self) -> None:
        if not self.call_id:
            raise ValueError(f"{type(self).__name__} needs a call_id")


@dataclasses.dataclass(frozen=True)
class LogIn(AgentCommand):
    """Log in; lands in "online, not taking calls" unless ``ready`` (the agent first puts his headset on)."""

    ready: bool = False


@dataclasses.dataclass(frozen=True)
class GoReady(AgentCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Pause(AgentCommand):
    reason: str


@dataclasses.dataclass(frozen=True)
class GoOnlineNotTaking(AgentCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Reserve(AgentCallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Ring(AgentCallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Answer(AgentCallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class RingNoAnswer(AgentCallCommand):
    pass


@dataclasses.dataclass(frozen=True)
class Withdraw(AgentCallCommand):
    """Take back a call offered to the agent (reserved or ringing) that went away before he answered."""


@dataclasses.dataclass(frozen=True)
class EndCall(AgentCallCommand):
    """The agent's call ended. ``wrap_up_seconds``: 0 = no wrap-up, None = until the agent finishes it."""

    wrap_up_seconds: int | None = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.wrap_up_seconds is not None and self.wrap_up_seconds < 0:
            raise ValueError("wrap_up_seconds must not be negative")


@dataclasses.dataclass(frozen=True)
class FinishWrapUp(AgentCommand):
    """End wrap-up. With ``call_id`` (from a wrap-up timer) it is ignored unless that call is being wrapped up."""

    call_id: str | None = None


@dataclasses.dataclass(frozen=True)
class LogOut(AgentCommand):
    force: bool = False
