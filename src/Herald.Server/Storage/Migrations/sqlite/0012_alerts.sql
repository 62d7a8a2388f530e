-- SQLite twin of postgres/0012_alerts.sql.
-- Alerts (R-DLV-4): incidents opened when a campaign's failure rate or a provider's error rate
-- crosses its threshold over a window, or a channel's credentials are refused. At most one open
-- incident per (app, key) — the partial unique index is the "once per incident" guard, across nodes.
CREATE TABLE alerts (
    id                  integer PRIMARY KEY AUTOINCREMENT,
    app_id              bigint NOT NULL,
    kind                text NOT NULL,          -- campaign_failure_rate | provider_error_rate | credential_error
    incident_key        text NOT NULL,          -- campaign:{id} | provider:{name} | credential:{name}
    campaign_id         bigint,
    provider            text,
    reason              text NOT NULL,          -- the most frequent reason
    reasons             text NOT NULL,          -- JSON [{reason, count}], most frequent first
    failed              bigint NOT NULL,
    total               bigint NOT NULL,
    threshold           real,
    opened_at           bigint NOT NULL,
    last_seen_at        bigint NOT NULL,        -- the condition was last observed
    resolved_at         bigint,
    notify_due_at       bigint NOT NULL,
    notify_attempts     integer NOT NULL DEFAULT 0,
    notify_lease_until  bigint,
    notified_targets    text NOT NULL DEFAULT '',  -- one line per target handled: "ok webhook https://…", "failed email a@b: …"
    notify_error        text,
    notified_at         bigint                  -- every target handled (or given up)
);
CREATE UNIQUE INDEX alerts_open ON alerts (app_id, incident_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_app ON alerts (app_id, id);
CREATE INDEX alerts_to_notify ON alerts (notify_due_at) WHERE notified_at IS NULL;

-- Where an app's alerts go, besides the operator-wide Herald:Alerts settings.
CREATE TABLE alert_settings (
    app_id       bigint PRIMARY KEY,
    webhook_url  text,
    emails       text NOT NULL DEFAULT '',      -- comma-separated
    updated_at   bigint NOT NULL
);
