-- Customers (the card the console pops up) and data pools (seed 001 "Data havuzu"): pools, their records, the
-- imports that filled them (the uploaded file kept as it was) and each import's report of refused rows.

-- Customer card ---------------------------------------------------------------------------------------------------

CREATE TABLE customers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('prospect', 'lead', 'customer')),
    name           text NOT NULL CHECK (length(btrim(name)) > 0),
    city           text,
    region         text,
    custom_fields  jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(custom_fields) = 'object'),
    owner_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_owner_idx ON customers (owner_id);
CREATE INDEX customers_name_idx ON customers (lower(name));

-- Numbers are E.164 (normalised by crm_core.customers.phones); position 0 is the main number.
CREATE TABLE customer_phones (
    customer_id  bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    number       text NOT NULL CHECK (number ~ '^\+[1-9][0-9]+$' AND length(number) BETWEEN 8 AND 16),
    kind         text NOT NULL CHECK (kind IN ('mobile', 'fixed', 'other')),
    position     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, number)
);
CREATE INDEX customer_phones_number_idx ON customer_phones (number);

CREATE TABLE customer_contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(btrim(name)) > 0),
    title        text,
    phone        text CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    phone_kind   text CHECK (phone_kind IN ('mobile', 'fixed', 'other')),
    email        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_contacts_customer_idx ON customer_contacts (customer_id);
CREATE INDEX customer_contacts_phone_idx ON customer_contacts (phone) WHERE phone IS NOT NULL;

-- Call history: one row per call with the customer, written by the call-record writer.
CREATE TABLE customer_calls (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    call_id      text NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    phone        text NOT NULL,
    agent_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    outcome      text,
    UNIQUE (customer_id, call_id)
);
CREATE INDEX customer_calls_customer_idx ON customer_calls (customer_id, started_at DESC);

-- Data pools ------------------------------------------------------------------------------------------------------

CREATE TABLE pools (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(btrim(name)) > 0),
    description     text NOT NULL DEFAULT '',
    active          boolean NOT NULL DEFAULT true,
    dial_priority   integer NOT NULL DEFAULT 0,
    -- What an imported number already present in another pool does: skip it, allow it, or move it here.
    duplicate_rule  text NOT NULL DEFAULT 'skip' CHECK (duplicate_rule IN ('skip', 'allow', 'move')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pools_name_key ON pools (lower(name));

-- One upload. The file itself is in pool_import_files, in the same transaction as the rows it produced.
CREATE TABLE pool_imports (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id             bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    filename            text NOT NULL,
    file_format         text NOT NULL CHECK (file_format IN ('csv', 'xlsx')),
    file_size           bigint NOT NULL,
    file_sha256         bytea NOT NULL,
    encoding            text,
    delimiter           text,
    mapping             jsonb NOT NULL,
    duplicate_rule      text NOT NULL CHECK (duplicate_rule IN ('skip', 'allow', 'move')),
    uploaded_at         timestamptz NOT NULL DEFAULT now(),
    uploaded_by         bigint REFERENCES users (id) ON DELETE SET NULL,
    total_rows          integer NOT NULL DEFAULT 0,
    stored_rows         integer NOT NULL DEFAULT 0,
    rejected_rows       integer NOT NULL DEFAULT 0,
    blank_lines         integer NOT NULL DEFAULT 0,
    moved_rows          integer NOT NULL DEFAULT 0,
    allowed_duplicates  integer NOT NULL DEFAULT 0,
    CHECK (total_rows = stored_rows + rejected_rows)
);
CREATE INDEX pool_imports_pool_idx ON pool_imports (pool_id, uploaded_at DESC);

CREATE TABLE pool_import_files (
    import_id  bigint PRIMARY KEY REFERENCES pool_imports (id) ON DELETE CASCADE,
    content    bytea NOT NULL
);

-- The import report: one row per refused line, and one per stored line a duplicate rule acted on.
CREATE TABLE pool_import_issues (
    import_id  bigint NOT NULL REFERENCES pool_imports (id) ON DELETE CASCADE,
    line_no    integer NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('rejected', 'stored')),
    reason     text NOT NULL,
    detail     text,
    raw        text[] NOT NULL,
    PRIMARY KEY (import_id, line_no)
);

CREATE TABLE pool_records (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id          bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    -- No foreign key: imports are never deleted on their own (only with their pool, which takes its records along),
    -- and a second per-row check would add a quarter to the time of a big import.
    import_id        bigint,
    line_no          integer,
    customer_id      bigint REFERENCES customers (id) ON DELETE SET NULL,
    -- E.164; written so that it costs little per row of a million-row import (a bounded {6,14} costs three times more)
    phone            text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    name             text NOT NULL DEFAULT '',
    city             text,
    region           text,
    custom_fields    jsonb NOT NULL DEFAULT '{}'::jsonb,
    priority         integer NOT NULL DEFAULT 0,
    -- Assigned to one agent, or to a team (any of its agents may take it), or to nobody yet.
    agent_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    team_id          bigint REFERENCES teams (id) ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'new'
                     CHECK (status IN ('new', 'assigned', 'in_progress', 'done', 'archived')),
    disposition      text,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz,
    -- The agent who took it. No foreign key: pool_claim_next checks the agent in the same statement, and a key
    -- check would lock his users row on every pick (and cost every imported row a trigger call).
    claimed_by       bigint,
    claimed_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pool_records_assignee_check CHECK (agent_id IS NULL OR team_id IS NULL),
    CONSTRAINT pool_records_claim_check CHECK ((status = 'in_progress') = (claimed_by IS NOT NULL))
) WITH (fillfactor = 90);  -- room on each page for the new version a claim or an attempt writes
-- A number is live at most once per pool; the same index finds a number across pools (duplicate rule, screen-pop).
CREATE UNIQUE INDEX pool_records_phone_key ON pool_records (phone, pool_id) WHERE status <> 'archived';
-- Distribution takes a pool's unassigned records by priority, then age.
CREATE INDEX pool_records_new_idx ON pool_records (pool_id, priority DESC, id) WHERE status = 'new';
-- Preview dialing: an agent's own records, then his team's, per pool, by priority then age.
CREATE INDEX pool_records_agent_pick_idx ON pool_records (agent_id, pool_id, priority DESC, id)
    WHERE status = 'assigned' AND agent_id IS NOT NULL;
CREATE INDEX pool_records_team_pick_idx ON pool_records (team_id, pool_id, priority DESC, id)
    WHERE status = 'assigned' AND team_id IS NOT NULL;
CREATE INDEX pool_records_import_idx ON pool_records (import_id, line_no);
CREATE INDEX pool_records_customer_idx ON pool_records (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX pool_records_claimed_idx ON pool_records (claimed_at) WHERE status = 'in_progress';

-- Call notes may be written on a pool record's call; they belong to the customer.
CREATE TABLE call_notes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    author_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    noted_at        timestamptz NOT NULL DEFAULT now(),
    body            text NOT NULL CHECK (length(btrim(body)) > 0),
    call_id         text,
    pool_record_id  bigint REFERENCES pool_records (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_notes_customer_idx ON call_notes (customer_id, noted_at DESC);

-- Preview dialing: the agent's next record, taken for him alone, in one round trip (dialer.pools.repository).
-- His own records first, then his team's; within each, active pools by dial priority, then record priority, then
-- age; records whose next attempt is ahead are left alone. Each probe is one descent of a partial pick index and
-- takes its row with FOR UPDATE SKIP LOCKED, so agents asking at once never get the same record nor wait for each
-- other. The claim commits without waiting for the disk: a claim lost in a database crash only leaves the record
-- 'assigned', as if the agent had not asked yet.
CREATE FUNCTION pool_claim_next(p_agent bigint, p_now timestamptz) RETURNS SETOF pool_records
LANGUAGE plpgsql AS $$
DECLARE
    v_team bigint;
    v_pool bigint;
    v_id   bigint;
BEGIN
    SELECT team_id INTO v_team FROM users WHERE id = p_agent AND active;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR v_pool IN SELECT id FROM pools WHERE active ORDER BY dial_priority DESC, id LOOP
        SELECT r.id INTO v_id FROM pool_records r
         WHERE r.agent_id = p_agent AND r.pool_id = v_pool AND r.status = 'assigned'
           AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= p_now)
         ORDER BY r.priority DESC, r.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    IF v_id IS NULL AND v_team IS NOT NULL THEN
        FOR v_pool IN SELECT id FROM pools WHERE active ORDER BY dial_priority DESC, id LOOP
            SELECT r.id INTO v_id FROM pool_records r
             WHERE r.team_id = v_team AND r.pool_id = v_pool AND r.status = 'assigned'
               AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= p_now)
             ORDER BY r.priority DESC, r.id
             LIMIT 1
               FOR UPDATE SKIP LOCKED;
            EXIT WHEN v_id IS NOT NULL;
        END LOOP;
    END IF;
    IF v_id IS NOT NULL THEN
        RETURN QUERY
            UPDATE pool_records
               SET status = 'in_progress', claimed_by = p_agent, claimed_at = p_now, updated_at = p_now
             WHERE id = v_id
         RETURNING *;
    END IF;
END
$$;
