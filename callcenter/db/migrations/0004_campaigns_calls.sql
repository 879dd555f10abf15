-- Campaigns (seed 001 "Arama modülü"): which pools they dial, how (preview or progressive), within which rules;
-- their dispositions ("Aksiyonel data") with retry rules; and the call records, one row per attempt.

-- An agent's phone as the PBX names it: the queue member interface (Local/agent1@sim-agents/n, PJSIP/agent1).
-- Set per agent by an administrator; the dialer maps AMI member and channel names back to users with it.
ALTER TABLE users ADD COLUMN extension text;
CREATE UNIQUE INDEX users_extension_key ON users (lower(extension)) WHERE extension IS NOT NULL;

CREATE TABLE campaigns (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL CHECK (length(btrim(name)) > 0),
    description           text NOT NULL DEFAULT '',
    dial_mode             text NOT NULL CHECK (dial_mode IN ('preview', 'progressive')),
    -- draft: being set up; running: dialing; paused: stopped by a person; finished: nothing left to dial.
    status                text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'paused', 'finished')),
    -- Where answered progressive calls go (an Asterisk queue whose members are the campaign's agents).
    queue                 text NOT NULL DEFAULT 'sales' CHECK (queue ~ '^[A-Za-z0-9_.-]+$'),
    caller_id             text NOT NULL DEFAULT '',
    record_calls          boolean NOT NULL DEFAULT true,
    -- Calling rules: local days (ISO 1 = Monday) and hours in the campaign's time zone.
    time_zone             text NOT NULL DEFAULT 'Europe/Istanbul',
    call_days             smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6}'
                          CHECK (call_days <@ '{1,2,3,4,5,6,7}'::smallint[]),
    call_from             time NOT NULL DEFAULT '09:00',
    call_until            time NOT NULL DEFAULT '20:00',
    max_attempts_per_day  integer NOT NULL DEFAULT 3 CHECK (max_attempts_per_day > 0),
    calls_per_second      numeric(6, 2) NOT NULL DEFAULT 5 CHECK (calls_per_second > 0),
    max_lines             integer NOT NULL DEFAULT 30 CHECK (max_lines > 0),
    ring_timeout          integer NOT NULL DEFAULT 30 CHECK (ring_timeout BETWEEN 5 AND 120),
    wrap_up_seconds       integer CHECK (wrap_up_seconds IS NULL OR wrap_up_seconds >= 0),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (call_from < call_until)
);
CREATE UNIQUE INDEX campaigns_name_key ON campaigns (lower(name));

-- The pools a campaign dials, and the teams whose agents work it.
CREATE TABLE campaign_pools (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    pool_id      bigint NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, pool_id)
);
CREATE INDEX campaign_pools_pool_idx ON campaign_pools (pool_id);

CREATE TABLE campaign_teams (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    team_id      bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, team_id)
);

-- Dispositions: what an attempt's outcome does to its record. `outcome` marks the ones the dialer sets by itself
-- for a call no agent talked to (no_answer, busy, congestion, failed, abandoned).
--   retry:    dial again after retry_minutes, up to max_attempts attempts in all (then final)
--   final:    done (success says whether it counts as a success in the reports)
--   archive:  taken out of dialing (wrong number, do not call)
--   callback: a call-back is scheduled for the record (seed 001 "Randevu sistemi")
CREATE TABLE dispositions (
    campaign_id    bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    code           text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,40}$'),
    label          text NOT NULL CHECK (length(btrim(label)) > 0),
    action         text NOT NULL CHECK (action IN ('retry', 'final', 'archive', 'callback')),
    retry_minutes  integer CHECK (retry_minutes IS NULL OR retry_minutes > 0),
    max_attempts   integer CHECK (max_attempts IS NULL OR max_attempts > 0),
    success        boolean NOT NULL DEFAULT false,
    outcome        text CHECK (outcome IN ('no_answer', 'busy', 'congestion', 'failed', 'abandoned', 'machine')),
    position       integer NOT NULL DEFAULT 0,
    active         boolean NOT NULL DEFAULT true,
    PRIMARY KEY (campaign_id, code),
    CHECK ((action = 'retry') = (retry_minutes IS NOT NULL AND max_attempts IS NOT NULL))
);
CREATE UNIQUE INDEX dispositions_outcome_key ON dispositions (campaign_id, outcome) WHERE outcome IS NOT NULL;

-- A record being dialed by a progressive campaign is in progress with no agent yet: the agent who takes the call
-- becomes its claimant. A claim therefore needs a time, and an agent only in preview.
ALTER TABLE pool_records DROP CONSTRAINT pool_records_claim_check;
ALTER TABLE pool_records ADD CONSTRAINT pool_records_claim_check
    CHECK ((status = 'in_progress') = (claimed_at IS NOT NULL));
ALTER TABLE pool_records ADD COLUMN campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL;
ALTER TABLE pool_records ADD COLUMN last_attempt_at timestamptz;
-- Campaign picks of records given to nobody that wait for a retry (dialer.campaigns.repository.DialRecords.claim);
-- the other picks use the pick indexes of migration 0003.
CREATE INDEX pool_records_free_pick_idx ON pool_records (pool_id, priority DESC, id)
    WHERE status = 'assigned' AND agent_id IS NULL AND team_id IS NULL;

-- Call records: one row per attempt (a dial) and so per call. Written when the dial is decided, before the
-- Originate, so that a restart finds every call in flight; completed from the call's events.
CREATE TABLE call_records (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id         text NOT NULL UNIQUE,            -- Asterisk's Linkedid (our Originate's ChannelId)
    direction       text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    campaign_id     bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    pool_record_id  bigint REFERENCES pool_records (id) ON DELETE SET NULL,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    agent_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    phone           text NOT NULL,
    attempt         integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    -- live: dialing or talking; ended: talked; failed: never reached anyone (failure says why); lost: the PBX
    -- no longer knew it after a restart (its times are what we saw).
    status          text NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'ended', 'failed', 'lost')),
    dialed_at       timestamptz NOT NULL,
    ringing_at      timestamptz,
    answered_at     timestamptz,
    connected_at    timestamptz,
    ended_at        timestamptz,
    failure         text,
    cause           integer,
    cause_text      text NOT NULL DEFAULT '',
    hung_up_by      text,
    disposition     text,
    disposition_at  timestamptz,
    disposition_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    note            text,
    recording       text,
    CHECK ((status = 'live') = (ended_at IS NULL))
);
CREATE INDEX call_records_live_idx ON call_records (campaign_id) WHERE status = 'live';
-- No number is dialed twice at once, whatever the races between dialers.
CREATE UNIQUE INDEX call_records_live_phone_key ON call_records (phone) WHERE status = 'live' AND direction = 'outbound';
CREATE INDEX call_records_record_idx ON call_records (pool_record_id, dialed_at);
CREATE INDEX call_records_agent_idx ON call_records (agent_id, dialed_at);
CREATE INDEX call_records_dialed_idx ON call_records (dialed_at);
CREATE INDEX call_records_phone_idx ON call_records (phone, dialed_at);

INSERT INTO role_permissions (role, permission) VALUES
    ('team_leader', 'pools.view'),
    ('team_leader', 'campaigns.view'),
    ('supervisor', 'pools.view'),
    ('supervisor', 'pools.manage'),
    ('supervisor', 'campaigns.view'),
    ('supervisor', 'campaigns.manage'),
    ('supervisor', 'blacklist.view'),
    ('supervisor', 'blacklist.manage'),
    ('admin', 'pools.view'),
    ('admin', 'pools.manage'),
    ('admin', 'campaigns.view'),
    ('admin', 'campaigns.manage'),
    ('admin', 'blacklist.view'),
    ('admin', 'blacklist.manage');
