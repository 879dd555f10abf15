-- Scheduled call-backs (seed 001 "Randevu sistemi") and missed-call capture (seed 001 "Çağrı yakalama").
-- dialer.callbacks reads and writes these tables; the campaign dialer's record pick (DialRecords.claim) reads
-- callbacks so that a due call-back is offered to its owner first.

-- A call-back: the record is to be called again at due_at, by its owner first. visibility says who else sees it
-- (and may change it, and may take it when the owner is away): only the owner, his team, or everyone.
-- open: waiting (or due, not yet alerted); offered: due, the owner was alerted; done: a call reached the customer
-- (fulfilled_call_id); cancelled: by a person; missed: the record left dialing before anyone called back.
CREATE TABLE callbacks (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_record_id     bigint REFERENCES pool_records (id) ON DELETE CASCADE,
    customer_id        bigint REFERENCES customers (id) ON DELETE SET NULL,
    phone              text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    campaign_id        bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    owner_id           bigint NOT NULL REFERENCES users (id),
    team_id            bigint REFERENCES teams (id) ON DELETE SET NULL,
    due_at             timestamptz NOT NULL,
    note               text NOT NULL DEFAULT '',
    visibility         text NOT NULL DEFAULT 'team' CHECK (visibility IN ('own', 'team', 'all')),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'offered', 'done', 'cancelled', 'missed')),
    created_by         bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    source_call_id     text,           -- the call whose disposition scheduled it
    offered_at         timestamptz,    -- the owner was alerted
    escalated_at       timestamptz,    -- the owner was away past the grace period: his team was alerted
    done_at            timestamptz,
    done_by            bigint REFERENCES users (id) ON DELETE SET NULL,
    fulfilled_call_id  text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((status IN ('done', 'cancelled', 'missed')) = (done_at IS NOT NULL))
);
-- At most one live call-back per record: a new one replaces (reschedules) it.
CREATE UNIQUE INDEX callbacks_live_record_key ON callbacks (pool_record_id)
    WHERE status IN ('open', 'offered') AND pool_record_id IS NOT NULL;
CREATE INDEX callbacks_due_idx ON callbacks (due_at) WHERE status IN ('open', 'offered');
CREATE INDEX callbacks_owner_idx ON callbacks (owner_id, due_at);
CREATE INDEX callbacks_team_idx ON callbacks (team_id, due_at) WHERE status IN ('open', 'offered');
CREATE INDEX callbacks_customer_idx ON callbacks (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX callbacks_phone_idx ON callbacks (phone) WHERE status IN ('open', 'offered');

-- Missed calls: one live entry per number, whatever how many times it was missed (misses), since when it waits
-- (first_missed_at) and its latest miss. open: waiting for a call-back; taken: an agent is calling it back; closed:
-- reached (answered) or dismissed.
CREATE TABLE missed_calls (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone            text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    caller_name      text NOT NULL DEFAULT '',
    customer_id      bigint REFERENCES customers (id) ON DELETE SET NULL,
    pool_record_id   bigint REFERENCES pool_records (id) ON DELETE SET NULL,
    campaign_id      bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    queue            text,
    source           text NOT NULL CHECK (source IN ('queue_abandon', 'campaign_abandon')),  -- of the latest miss
    first_missed_at  timestamptz NOT NULL,
    last_missed_at   timestamptz NOT NULL,
    misses           integer NOT NULL DEFAULT 1 CHECK (misses > 0),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'taken', 'closed')),
    taken_by         bigint,           -- no key: checked by the take, and kept if the user goes
    taken_at         timestamptz,
    closed_at        timestamptz,
    closed_by        bigint REFERENCES users (id) ON DELETE SET NULL,
    closed_call_id   text,
    close_reason     text CHECK (close_reason IN ('answered', 'dismissed')),
    CHECK ((status = 'taken') = (taken_by IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL AND close_reason IS NOT NULL)),
    CHECK (first_missed_at <= last_missed_at)
);
-- Deduplication: a number has at most one entry not yet closed; a new miss updates it.
CREATE UNIQUE INDEX missed_calls_live_phone_key ON missed_calls (phone) WHERE status <> 'closed';
CREATE INDEX missed_calls_open_idx ON missed_calls (first_missed_at, id) WHERE status = 'open';
CREATE INDEX missed_calls_closed_idx ON missed_calls (closed_at) WHERE status = 'closed';

-- Each miss, once per call (its Linkedid) whoever reports it (the queue's abandon and the dialer's end of call).
CREATE TABLE missed_call_events (
    call_id         text PRIMARY KEY,
    missed_call_id  bigint NOT NULL REFERENCES missed_calls (id) ON DELETE CASCADE,
    phone           text NOT NULL,
    source          text NOT NULL CHECK (source IN ('queue_abandon', 'campaign_abandon')),
    queue           text,
    hold_seconds    integer CHECK (hold_seconds IS NULL OR hold_seconds >= 0),
    missed_at       timestamptz NOT NULL
);
CREATE INDEX missed_call_events_entry_idx ON missed_call_events (missed_call_id, missed_at);
