-- Users, roles, teams, permissions, web sessions, login attempts and the audit log.

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) > 0),
    leader_id   bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE users (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          text NOT NULL CHECK (username ~ '^[A-Za-z0-9._-]{2,64}$'),
    full_name         text NOT NULL,
    role              text NOT NULL CHECK (role IN ('agent', 'team_leader', 'supervisor', 'admin')),
    team_id           bigint REFERENCES teams (id) ON DELETE SET NULL,
    password_hash     text NOT NULL,
    login_rule        text NOT NULL DEFAULT 'any' CHECK (login_rule IN ('any', 'networks')),
    allowed_networks  cidr[] NOT NULL DEFAULT '{}',
    language          text NOT NULL DEFAULT 'tr' CHECK (language IN ('tr', 'en')),
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_team_idx ON users (team_id);

ALTER TABLE teams
    ADD CONSTRAINT teams_leader_fk FOREIGN KEY (leader_id) REFERENCES users (id) ON DELETE SET NULL;

-- Default permissions of each role; editable by an administrator.
CREATE TABLE role_permissions (
    role        text NOT NULL CHECK (role IN ('agent', 'team_leader', 'supervisor', 'admin')),
    permission  text NOT NULL,
    PRIMARY KEY (role, permission)
);

-- Per-user grants (true) and denials (false) on top of the role's defaults.
CREATE TABLE user_permissions (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission  text NOT NULL,
    granted     boolean NOT NULL,
    PRIMARY KEY (user_id, permission)
);

INSERT INTO role_permissions (role, permission) VALUES
    ('agent', 'console.use'),
    ('team_leader', 'console.use'),
    ('team_leader', 'users.view'),
    ('team_leader', 'teams.view'),
    ('supervisor', 'console.use'),
    ('supervisor', 'users.view'),
    ('supervisor', 'teams.view'),
    ('supervisor', 'teams.manage'),
    ('supervisor', 'audit.view'),
    ('admin', 'console.use'),
    ('admin', 'users.view'),
    ('admin', 'users.manage'),
    ('admin', 'teams.view'),
    ('admin', 'teams.manage'),
    ('admin', 'audit.view');

-- Server-side sessions: the cookie holds a random token, the table its SHA-256.
CREATE TABLE web_sessions (
    token_hash    bytea PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    ip            inet,
    user_agent    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry_idx ON web_sessions (expires_at);

-- Every login attempt, for throttling and for the login/logout report.
CREATE TABLE login_attempts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL,
    ip         inet NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    succeeded  boolean NOT NULL,
    reason     text
);
CREATE INDEX login_attempts_user_idx ON login_attempts (lower(username), ip, at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, at);

-- Who changed what, when (seed 004: "her tür değişikliğin kimin tarafından yapıldığı kayıt altına alınmaktadır").
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    actor_name  text,
    ip          inet,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    changes     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
