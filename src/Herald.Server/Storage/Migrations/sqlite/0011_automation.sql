-- SQLite twin of postgres/0011_automation.sql.
-- Recurring and triggered campaigns (R-MSG-5). A trigger that matched waits here until it is due; the
-- row survives restarts, and its move from 'pending' to 'fired' happens in the same transaction that
-- creates the run, so a trigger fires once. Each firing (a batch of due triggers) or recurrence is a
-- run: a child campaign of its own, with its own ledger rows, so the ledger key stays one row per
-- campaign and recipient and every run has its report.
CREATE TABLE pending_triggers (
    app_id          bigint NOT NULL,
    campaign_id     bigint NOT NULL,
    subject         text NOT NULL,            -- 'u' || user ordinal, or 'd' || device ordinal for an anonymous device
    occurrence      text NOT NULL,            -- what started it: the event's message id, 'inactive:<last seen>', 'segment:<change id>'
    user_ordinal    integer,
    device_ordinal  integer,
    state           text NOT NULL,            -- pending | fired | cancelled | skipped
    reason          text,
    started_at      bigint NOT NULL,          -- when the starting event happened
    due_at          bigint NOT NULL,
    run_id          bigint,                   -- the run campaign it fired into
    updated_at      bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id, subject, occurrence)
);
-- At most one waiting trigger per campaign and person: a second "added to cart" does not start a second timer.
CREATE UNIQUE INDEX pending_triggers_open ON pending_triggers (app_id, campaign_id, subject) WHERE state = 'pending';
CREATE INDEX pending_triggers_due ON pending_triggers (due_at) WHERE state = 'pending';
CREATE INDEX pending_triggers_fired ON pending_triggers (app_id, campaign_id, subject, updated_at) WHERE state = 'fired';

-- The runs of an automated campaign; the key ('2026-11-26' for a recurrence, 'trigger-<id>' for a firing) makes each run once.
CREATE TABLE campaign_runs (
    app_id           bigint NOT NULL,
    campaign_id      bigint NOT NULL,
    run_key          text NOT NULL,
    run_campaign_id  bigint NOT NULL,
    created_at       bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id, run_key)
);
CREATE INDEX campaign_runs_run ON campaign_runs (app_id, run_campaign_id);

-- Where an active campaign is in a feed it consumes (segment_changes ids for segment-entry triggers), and when it was activated.
CREATE TABLE automation_cursors (
    app_id        bigint NOT NULL,
    campaign_id   bigint NOT NULL,
    position      bigint NOT NULL,
    activated_at  bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id)
);
