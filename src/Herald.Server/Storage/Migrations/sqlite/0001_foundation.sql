-- SQLite twin of postgres/0001_foundation.sql (same tables, SQLite types).
-- Foundation: apps, keys, devices, users, events. Every table keys on app_id first so the schema
-- can later be distributed by app (Citus) without redesign. Times are unix milliseconds (bigint)
-- on both engines, so SQL and code read the same everywhere.

CREATE TABLE admin_keys (
    id          integer PRIMARY KEY AUTOINCREMENT,
    key_hash    text NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_at  bigint NOT NULL,
    revoked_at  bigint
);

CREATE TABLE apps (
    id                   integer PRIMARY KEY AUTOINCREMENT,
    name                 text NOT NULL,
    category             text NOT NULL DEFAULT 'general',
    timezone             text NOT NULL DEFAULT 'UTC',
    settings             text NOT NULL DEFAULT '{}',
    credentials          text NOT NULL DEFAULT '{}',
    vapid_public_key     text NOT NULL,
    vapid_private_key    text NOT NULL,
    next_device_ordinal  integer NOT NULL DEFAULT 0,
    next_user_ordinal    integer NOT NULL DEFAULT 0,
    created_at           bigint NOT NULL
);

CREATE TABLE api_keys (
    app_id      bigint NOT NULL REFERENCES apps(id),
    id          integer PRIMARY KEY AUTOINCREMENT,
    kind        text NOT NULL,              -- 'sdk' (write-only) | 'rest' (full access)
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    prefix      text NOT NULL,
    ip_allow    text,                        -- comma-separated CIDRs; NULL = any address
    created_at  bigint NOT NULL,
    revoked_at  bigint
);
CREATE INDEX api_keys_app ON api_keys (app_id);

CREATE TABLE users (
    app_id         bigint NOT NULL,
    ordinal        integer NOT NULL,
    external_id    text,
    email          text,
    phone          text,
    attributes     text NOT NULL DEFAULT '{}',
    optin_push     integer NOT NULL DEFAULT 1,
    optin_email    integer NOT NULL DEFAULT 1,
    optin_sms      integer NOT NULL DEFAULT 1,
    merged_into    integer,
    created_at     bigint NOT NULL,
    updated_at     bigint NOT NULL,
    deleted_at     bigint,
    PRIMARY KEY (app_id, ordinal)
);
CREATE UNIQUE INDEX users_external ON users (app_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE attribute_types (
    app_id  bigint NOT NULL,
    name    text NOT NULL,
    type    text NOT NULL,                   -- string | number | boolean | date | list
    PRIMARY KEY (app_id, name)
);

CREATE TABLE devices (
    app_id          bigint NOT NULL,
    ordinal         integer NOT NULL,
    installation_id text NOT NULL,
    anonymous_id    text,
    user_ordinal    integer,
    platform        text NOT NULL,           -- ios | android | web | server
    push_token      text,
    push_p256dh     text,
    push_auth       text,
    push_enabled    integer NOT NULL DEFAULT 0,
    timezone        text,
    locale          text,
    app_version     text,
    os_version      text,
    latitude        real,
    longitude       real,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    last_seen_at    bigint NOT NULL,
    token_updated_at bigint,
    uninstalled_at  bigint,
    PRIMARY KEY (app_id, ordinal)
);
CREATE UNIQUE INDEX devices_installation ON devices (app_id, installation_id);
CREATE UNIQUE INDEX devices_anonymous ON devices (app_id, anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX devices_user ON devices (app_id, user_ordinal) WHERE user_ordinal IS NOT NULL;

CREATE TABLE events (
    app_id          bigint NOT NULL,
    message_id      text NOT NULL,
    name            text NOT NULL,
    device_ordinal  integer,
    user_ordinal    integer,
    occurred_at     bigint NOT NULL,         -- device time, skew-corrected
    received_at     bigint NOT NULL,
    properties      text NOT NULL,           -- JSON object
    revenue         real,
    currency        text,
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    utm_term        text,
    utm_content     text,
    PRIMARY KEY (app_id, message_id)
);
CREATE INDEX events_name_time ON events (app_id, name, occurred_at);
CREATE INDEX events_device ON events (app_id, device_ordinal, occurred_at);
CREATE INDEX events_user ON events (app_id, user_ordinal, occurred_at);
