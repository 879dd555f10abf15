-- Agent states: the log of every agent's periods (login, ready, calls, breaks, logout) and his current state.
-- Seed 001 "Mola, login ve logout kayıtları": the login/logout/break reports are computed from agent_state_log.

-- One row per period: the agent was in `state` from started_at until ended_at. The current period has
-- ended_at NULL; after the first login an agent always has exactly one open period (logged_out included).
CREATE TABLE agent_state_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    state       text NOT NULL CHECK (state IN ('logged_out', 'ready', 'reserved', 'ringing', 'on_call', 'wrap_up',
                                               'paused', 'online_not_taking')),
    reason      text,
    call_id     text,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    CONSTRAINT agent_state_log_reason_check CHECK ((state = 'paused') = (reason IS NOT NULL)),
    CONSTRAINT agent_state_log_call_check
        CHECK ((state IN ('reserved', 'ringing', 'on_call', 'wrap_up')) = (call_id IS NOT NULL)),
    CONSTRAINT agent_state_log_order_check CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- At most one open period per agent, whatever the races between writers.
CREATE UNIQUE INDEX agent_state_log_open_key ON agent_state_log (user_id) WHERE ended_at IS NULL;
CREATE INDEX agent_state_log_user_idx ON agent_state_log (user_id, started_at);
CREATE INDEX agent_state_log_started_idx ON agent_state_log (started_at);

-- The state machine's whole state per agent, including what the log does not show: a pause scheduled for
-- after the current call, the wrap-up deadline, the count of calls he let ring unanswered.
CREATE TABLE agent_states (
    user_id        bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    state          text NOT NULL CHECK (state IN ('logged_out', 'ready', 'reserved', 'ringing', 'on_call', 'wrap_up',
                                                  'paused', 'online_not_taking')),
    since          timestamptz,
    reason         text,
    call_id        text,
    wrap_up_until  timestamptz,
    next_state     text CHECK (next_state IN ('paused', 'online_not_taking', 'logged_out')),
    next_reason    text,
    missed_rings   integer NOT NULL DEFAULT 0 CHECK (missed_rings >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- The wrap-up timer: agents whose timed wrap-up is over.
CREATE INDEX agent_states_wrap_up_idx ON agent_states (wrap_up_until) WHERE state = 'wrap_up';
