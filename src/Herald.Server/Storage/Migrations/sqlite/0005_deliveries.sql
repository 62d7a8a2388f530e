-- SQLite twin of postgres/0005_deliveries.sql.
-- The delivery ledger (R-DLV-1): one row of truth per campaign and recipient. The primary key is the
-- exactly-once guard: planning twice, or on two nodes, cannot create a second row.
CREATE TABLE deliveries (
    app_id               bigint NOT NULL,
    campaign_id          bigint NOT NULL,
    recipient            integer NOT NULL,     -- device ordinal (push, web push) or user ordinal (email, sms)
    device_ordinal       integer,
    user_ordinal         integer,
    platform             text,
    message_id           text NOT NULL,        -- also the collapse key: a retried send replaces, never duplicates
    variant              integer NOT NULL DEFAULT 0,
    priority             integer NOT NULL DEFAULT 0,  -- 1 = urgent lane (fast push)
    state                text NOT NULL,        -- queued | sending | sent | failed | skipped | cancelled | delivered | opened | dismissed | recalled
    reason               text,
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0,
    due_at               bigint NOT NULL,
    lease_until          bigint,
    sent_at              bigint,
    updated_at           bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id, recipient)
);
CREATE INDEX deliveries_due ON deliveries (priority, due_at) WHERE state = 'queued';
CREATE INDEX deliveries_sending ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_user_sent ON deliveries (app_id, user_ordinal, sent_at) WHERE sent_at IS NOT NULL;
