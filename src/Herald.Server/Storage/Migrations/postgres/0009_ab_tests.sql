-- A/B tests (R-MSG-7): one row per campaign that runs a test — when its winner is due to be picked
-- (a worker on any node claims it then) and, once picked, the decision.
CREATE TABLE campaign_ab_tests (
    app_id        bigint NOT NULL,
    campaign_id   bigint NOT NULL,
    decide_at     bigint NOT NULL,
    decided_at    bigint,
    winner        integer,                 -- variant index sent to the rest; NULL while undecided or when not decided (stopped)
    p_value       double precision,
    decision      text,                    -- JSON: values per variant, the test, comparisons, p-value, fallback, reason
    PRIMARY KEY (app_id, campaign_id)
);
CREATE INDEX campaign_ab_tests_due ON campaign_ab_tests (decide_at) WHERE decided_at IS NULL;

-- Ledger rows held for the winner have state 'held' (variant -1) until the decision; then they are
-- queued with the winner's variant and ab_rollout = 1, so the report keeps the test cohort apart.
ALTER TABLE deliveries ADD COLUMN ab_rollout smallint NOT NULL DEFAULT 0;
-- "Is anything of this campaign still to send?" counts held rows too.
DROP INDEX deliveries_open;
CREATE INDEX deliveries_open ON deliveries (app_id, campaign_id) WHERE state IN ('queued', 'sending', 'held');
