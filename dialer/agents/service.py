"""Agent state use cases: load the agent's state, run the pure machine, store the result, publish the events.

Each command runs in one transaction holding the agent's lock, so two commands for one agent (the AMI engine
reporting a ring while the agent clicks "pause") are decided one after the other on fresh state, never on the
same stale one. The machine's whole state goes to ``agent_states``; a new period goes to ``agent_state_log``
only when the status, the pause reason or the call changes. Events are published once the transaction has
committed, as in ``crm_core.users.service``: a subscriber never sees a state the database does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Database
from dialer.agents.repository import AgentStateRepository
from dialer.state.agent import Agent, AgentRules, IllegalAgentTransitionError, apply_all, decide
from dialer.state.agent_commands import AgentCommand, FinishWrapUp
from dialer.state.reasons import PauseReasons

log = structlog.get_logger(__name__)


class UnknownAgentError(LookupError):
    """No user with this id."""


def _period(agent: Agent) -> tuple[object, ...]:
    return (agent.status, agent.reason, agent.call_id)


class AgentStateService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        reasons: PauseReasons | None = None,
        *,
        max_missed_rings: int | None = 2,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self.rules = AgentRules(reasons or PauseReasons(), max_missed_rings)

    async def state(self, user_id: int) -> Agent:
        async with self._db.acquire() as conn:
            agent = await AgentStateRepository(conn).load(user_id)
        if agent is None:
            raise UnknownAgentError(user_id)
        return agent

    async def execute(self, user_id: int, command: AgentCommand, now: datetime | None = None) -> Agent:
        """Run ``command`` for the agent; returns his new state. Raises :class:`IllegalAgentTransitionError`
        (nothing stored, nothing published), :class:`UnknownAgentError`, or
        :class:`~dialer.state.reasons.UnknownPauseReasonError`."""
        at = now or self._clock()
        async with self._db.acquire() as conn, conn.transaction():
            repo = AgentStateRepository(conn)
            await repo.lock(user_id)
            before = await repo.load(user_id)
            if before is None:
                raise UnknownAgentError(user_id)
            events = decide(before, command, at, self.rules)
            if not events:
                return before
            after = apply_all(before, events)
            await repo.save(after)
            if _period(after) != _period(before):
                await repo.record_transition(user_id, after.status, after.reason, at, after.call_id)
        await self._publish(events)
        return after

    async def finish_due_wrap_ups(self, now: datetime | None = None) -> list[Agent]:
        """End every timed wrap-up that is over (run by the dialer's timer, every second or so)."""
        at = now or self._clock()
        async with self._db.acquire() as conn:
            due = await AgentStateRepository(conn).due_wrap_ups(at)
        finished: list[Agent] = []
        for user_id, call_id in due:
            try:
                finished.append(await self.execute(user_id, FinishWrapUp(call_id), at))
            except IllegalAgentTransitionError as error:  # cannot happen with a call id; keep the timer alive
                log.warning("wrap_up_finish_refused", user_id=user_id, error=str(error))
        return finished

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self._bus.publish(event)
