-- SQLite twin of postgres/0007_accounts.sql.
-- Panel accounts and security (R-PANEL-2). Installation-wide team members; roles per app.
-- Flags are integers (0/1) on both engines so the same SQL and row types serve both.

CREATE TABLE panel_users (
    id                    integer PRIMARY KEY AUTOINCREMENT,
    email                 text NOT NULL UNIQUE,       -- lower-cased
    password_hash         text,                       -- null until an invitation is accepted
    password_changed_at   bigint NOT NULL,
    password_expiry_days  integer,                    -- per-user override; null = the apps' rule
    must_change_password  integer NOT NULL DEFAULT 0,
    owner                 integer NOT NULL DEFAULT 0, -- installation owner: every app, team, audit log
    failed_logins         integer NOT NULL DEFAULT 0,
    locked_until          bigint,
    last_login_at         bigint,
    totp_secret           text,
    totp_enabled          integer NOT NULL DEFAULT 0,
    totp_last_step        bigint,                     -- a code is accepted once (no replay)
    security_stamp        text NOT NULL,              -- changes on password change: other sessions end
    created_at            bigint NOT NULL,
    disabled_at           bigint
);

CREATE TABLE panel_password_history (
    id             integer PRIMARY KEY AUTOINCREMENT,
    user_id        bigint NOT NULL REFERENCES panel_users(id),
    password_hash  text NOT NULL,
    changed_at     bigint NOT NULL
);
CREATE INDEX panel_password_history_user ON panel_password_history (user_id, id);

CREATE TABLE panel_memberships (
    user_id  bigint NOT NULL REFERENCES panel_users(id),
    app_id   bigint NOT NULL REFERENCES apps(id),
    role     text NOT NULL,                           -- owner | admin | marketer | viewer | approver
    PRIMARY KEY (user_id, app_id)
);

CREATE TABLE panel_app_security (
    app_id                bigint PRIMARY KEY REFERENCES apps(id),
    password_expiry_days  integer,
    require_totp          integer NOT NULL DEFAULT 0
);

CREATE TABLE panel_invitations (
    id           integer PRIMARY KEY AUTOINCREMENT,
    token_hash   text NOT NULL UNIQUE,
    email        text NOT NULL,
    app_id       bigint REFERENCES apps(id),          -- null: an owner invitation (setup link)
    role         text NOT NULL,
    invited_by   bigint,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    accepted_at  bigint
);

CREATE TABLE panel_audit (
    id        integer PRIMARY KEY AUTOINCREMENT,
    at        bigint NOT NULL,
    user_id   bigint,
    actor     text NOT NULL,
    app_id    bigint,
    action    text NOT NULL,
    detail    text,
    address   text
);
CREATE INDEX panel_audit_at ON panel_audit (at);
