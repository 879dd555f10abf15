-- The blacklist (seed 001 "Kara liste": numbers that must never be dialed), the İYS consents (İleti Yönetim Sistemi,
-- Turkey's register of consent to commercial communication) and each campaign's rule for them. Every dial and every
-- import asks dialer.blacklist.service.blocked_numbers, which reads these tables in one query.

-- A number blocked everywhere (campaign_id NULL) or for one campaign. An entry is never deleted: removing it sets
-- removed_at, so the list keeps who blocked a number, who unblocked it, when and why.
CREATE TABLE blacklist_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    -- A campaign's own entries go with it: they mean nothing once the campaign is gone.
    campaign_id     bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    -- manual: typed in by a person; import: from an uploaded file; disposition: an agent's "do not call" outcome.
    source          text NOT NULL CHECK (source IN ('manual', 'import', 'disposition')),
    added_by        bigint REFERENCES users (id) ON DELETE SET NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz,
    removed_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    removal_reason  text,
    CHECK ((removed_at IS NULL) = (removal_reason IS NULL)),
    CHECK (removal_reason IS NULL OR length(btrim(removal_reason)) > 0)
);
-- At most one live entry per number and scope (global is campaign 0 here). The same index answers the dial check
-- and lets a bulk upload skip numbers already listed with ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX blacklist_entries_live_key ON blacklist_entries (phone, coalesce(campaign_id, 0))
    WHERE removed_at IS NULL;
CREATE INDEX blacklist_entries_campaign_idx ON blacklist_entries (campaign_id, id) WHERE campaign_id IS NOT NULL;
CREATE INDEX blacklist_entries_phone_idx ON blacklist_entries (phone, id);

-- A number's İYS consent per channel (ARAMA = calls, MESAJ = SMS, EPOSTA = e-mail): the latest known status, given
-- (ONAY) or refused (RET), with the recipient type (BIREYSEL = a person, TACIR = a merchant), İYS's source code and
-- the date the consent was given or refused. An older statement never overwrites a newer one.
CREATE TABLE iys_consents (
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]+$' AND length(phone) BETWEEN 8 AND 16),
    channel         text NOT NULL CHECK (channel IN ('ARAMA', 'MESAJ', 'EPOSTA')),
    status          text NOT NULL CHECK (status IN ('ONAY', 'RET')),
    recipient_type  text NOT NULL CHECK (recipient_type IN ('BIREYSEL', 'TACIR')),
    source          text NOT NULL DEFAULT '',
    consent_date    timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (phone, channel)
);

-- What a campaign does with İYS: ignore it (calls that are not commercial, e.g. collections or service calls), block
-- numbers that refused calls (the default), or call only numbers that gave consent.
ALTER TABLE campaigns ADD COLUMN consent_rule text NOT NULL DEFAULT 'refused_blocked'
    CHECK (consent_rule IN ('ignore', 'refused_blocked', 'consent_required'));
