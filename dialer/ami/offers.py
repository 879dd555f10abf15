"""Which agents each call is offered to or taken by: what Asterisk leaves unsaid to the agent machine.

Asterisk reports a ring (``AgentCalled``), a ring that timed out (``AgentRingNoAnswer``), an answer
(``AgentConnect``) and the end of a queue call (``AgentComplete``), but not that a ringing agent's offer went away
because another member answered (``ringall``) or the caller hung up (``QueueCallerAbandon``), nor that an agent's
call vanished in a PBX restart. :class:`AgentOffers` remembers offers and answers per call and returns the
:class:`Withdraw` / :class:`EndCall` commands those facts mean. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from dialer.state.agent_commands import AgentCallCommand, Answer, EndCall, Ring, RingNoAnswer, Withdraw

AgentOrder = tuple[int, AgentCallCommand]


class AgentOffers:
    def __init__(self, *, wrap_up_seconds: int | None = 0) -> None:
        self.wrap_up_seconds = wrap_up_seconds
        self._offered: dict[str, set[int]] = {}
        self._taken: dict[str, set[int]] = {}
        self._wrap_up: dict[str, int | None] = {}  # calls whose wrap-up is not the default (a campaign's)

    def set_wrap_up(self, call: str, seconds: int | None) -> None:
        """The wrap-up of ``call``'s agent when it is over, instead of the default."""
        self._wrap_up[call] = seconds

    def note(self, agent: int, command: AgentCallCommand) -> list[AgentOrder]:
        """Record what Asterisk said about ``agent``; returns the commands it implies for *other* agents."""
        call = command.call_id
        if isinstance(command, Ring):
            self._offered.setdefault(call, set()).add(agent)
        elif isinstance(command, RingNoAnswer):
            self._discard(self._offered, call, agent)
        elif isinstance(command, Answer):
            others = self._offered.pop(call, set()) - {agent}
            self._taken.setdefault(call, set()).add(agent)
            return [(other, Withdraw(call)) for other in sorted(others)]
        elif isinstance(command, EndCall):
            self._discard(self._taken, call, agent)
        return []

    def reserve(self, agent: int, call: str) -> None:
        """The dialer reserved ``agent`` for ``call``: withdraw him if the call goes away before he answers."""
        self._offered.setdefault(call, set()).add(agent)

    def abandoned(self, call: str) -> list[AgentOrder]:
        """The caller left the queue before anyone answered: withdraw every offer."""
        return [(agent, Withdraw(call)) for agent in sorted(self._offered.pop(call, set()))]

    def call_over(self, call: str) -> list[AgentOrder]:
        """The call is gone: withdraw its offers and end it for agents who took it and were not told yet."""
        orders = self.abandoned(call)
        taken = self._taken.pop(call, set())
        wrap_up = self._wrap_up.pop(call, self.wrap_up_seconds)
        return orders + [(agent, EndCall(call, wrap_up)) for agent in sorted(taken)]

    def keep_only(self, live_calls: Iterable[str]) -> list[AgentOrder]:
        """After a resync: every call not in ``live_calls`` is over."""
        live = set(live_calls)
        gone = (set(self._offered) | set(self._taken)) - live
        return [order for call in sorted(gone) for order in self.call_over(call)]

    @property
    def calls(self) -> set[str]:
        return set(self._offered) | set(self._taken)

    @staticmethod
    def _discard(table: dict[str, set[int]], call: str, agent: int) -> None:
        agents = table.get(call)
        if agents is not None:
            agents.discard(agent)
            if not agents:
                del table[call]
