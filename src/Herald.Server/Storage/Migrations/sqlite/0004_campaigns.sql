-- SQLite twin of postgres/0004_campaigns.sql.
-- Campaigns: content variants + audience + schedule + limits, and who moved them between states when.
CREATE TABLE campaigns (
    app_id          bigint NOT NULL,
    id              integer PRIMARY KEY AUTOINCREMENT,
    name            text NOT NULL,
    channel         text NOT NULL,           -- push | webpush | email | sms
    state           text NOT NULL,           -- draft | scheduled | sending | sent | stopped | recalled
    definition      text NOT NULL,           -- JSON: content, audience, schedule, limits
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL
);
CREATE INDEX campaigns_app ON campaigns (app_id, id);

CREATE TABLE campaign_transitions (
    app_id        bigint NOT NULL,
    campaign_id   bigint NOT NULL,
    seq           integer NOT NULL,
    at            bigint NOT NULL,
    from_state    text,
    to_state      text NOT NULL,
    actor         text NOT NULL,
    reason        text,
    PRIMARY KEY (app_id, campaign_id, seq)
);
