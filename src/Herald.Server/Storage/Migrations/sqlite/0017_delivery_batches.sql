-- SQLite twin of postgres/0017_delivery_batches.sql: the send queue is batches of ledger rows; a
-- batch is claimed with a lease (claim = the claimant's token), the recipients a JSON array.
CREATE TABLE delivery_batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       bigint NOT NULL,
    campaign_id  bigint NOT NULL,
    priority     integer NOT NULL,
    due_at       bigint NOT NULL,
    held         boolean NOT NULL DEFAULT 0,
    recipients   text NOT NULL,
    lease_until  bigint,
    claim        text
);
CREATE INDEX delivery_batches_due ON delivery_batches (priority, due_at) WHERE NOT held;
CREATE INDEX delivery_batches_campaign ON delivery_batches (app_id, campaign_id);

INSERT INTO delivery_batches (app_id, campaign_id, priority, due_at, held, recipients)
SELECT app_id, campaign_id, priority, due_at, held, json_group_array(recipient)
FROM (SELECT app_id, campaign_id, priority, due_at, state = 'held' AS held, recipient,
             (row_number() OVER (PARTITION BY app_id, campaign_id, priority, due_at, state = 'held' ORDER BY recipient) - 1) / 1000 AS part
      FROM deliveries WHERE state IN ('queued', 'sending', 'held') ORDER BY recipient) q
GROUP BY app_id, campaign_id, priority, due_at, held, part;
UPDATE deliveries SET state = 'queued', lease_until = NULL WHERE state = 'sending';

DROP INDEX deliveries_due;
DROP INDEX deliveries_sending;
DROP INDEX deliveries_open;
DROP INDEX deliveries_user_sent;
CREATE INDEX deliveries_user ON deliveries (app_id, user_ordinal) WHERE user_ordinal IS NOT NULL;
