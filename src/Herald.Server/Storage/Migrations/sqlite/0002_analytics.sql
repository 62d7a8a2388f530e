-- SQLite twin of postgres/0002_analytics.sql (same tables, SQLite types).

CREATE TABLE event_rollups (
    app_id       bigint NOT NULL,
    name         text NOT NULL,
    day          integer NOT NULL,
    devices      blob NOT NULL,
    users        blob NOT NULL,
    event_count  bigint NOT NULL,
    revenue      real NOT NULL DEFAULT 0,
    version      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, name, day)
);

CREATE TABLE analytics_state (
    app_id       bigint PRIMARY KEY,
    timezone     text NOT NULL,
    rebuilt_at   bigint NOT NULL
);

CREATE TABLE segments (
    id              integer PRIMARY KEY AUTOINCREMENT,
    app_id          bigint NOT NULL,
    name            text NOT NULL,
    rules           text NOT NULL,
    realtime        integer NOT NULL DEFAULT 0,
    members         blob,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    last_used_at    bigint NOT NULL,
    inactive_since  bigint
);
CREATE INDEX segments_app ON segments (app_id, id);

CREATE TABLE segment_changes (
    id              integer PRIMARY KEY AUTOINCREMENT,
    app_id          bigint NOT NULL,
    segment_id      bigint NOT NULL,
    device_ordinal  integer NOT NULL,
    entered         integer NOT NULL,
    at              bigint NOT NULL
);
CREATE INDEX segment_changes_segment ON segment_changes (app_id, segment_id, id);
