-- SQLite twin of postgres/0020_scheduled_exports.sql.
-- Scheduled daily exports (R-AN-5): a CSV of yesterday's raw events or of a segment's members,
-- written every day at a local time into a folder under the operator's export root.
CREATE TABLE scheduled_exports (
    app_id        bigint NOT NULL,
    id            integer PRIMARY KEY AUTOINCREMENT,
    name          text NOT NULL,
    definition    text NOT NULL,           -- JSON: kind, segment, attributes, events, folder, time
    active        integer NOT NULL,        -- 0 | 1
    next_run_at   bigint NOT NULL,
    lease_until   bigint,
    last_run_at   bigint,
    last_status   text,                    -- ok | failed
    last_file     text,
    last_rows     bigint,
    last_error    text,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
);
CREATE INDEX scheduled_exports_due ON scheduled_exports (next_run_at) WHERE active;
