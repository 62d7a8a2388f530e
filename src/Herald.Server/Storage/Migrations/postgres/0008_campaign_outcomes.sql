-- What happened after sending (R-DLV-1, R-AN-1): opens, dismisses, conversions from SDK events that
-- carry the message id; and idempotency keys of the transactional API (R-MSG-12).
ALTER TABLE deliveries ADD COLUMN opened_at bigint;
ALTER TABLE deliveries ADD COLUMN dismissed_at bigint;
ALTER TABLE deliveries ADD COLUMN converted_at bigint;
ALTER TABLE deliveries ADD COLUMN revenue double precision;
CREATE INDEX deliveries_message ON deliveries (app_id, message_id);
-- "Is anything of this campaign still to send?" without walking its sent rows.
CREATE INDEX deliveries_open ON deliveries (app_id, campaign_id) WHERE state IN ('queued', 'sending');

CREATE TABLE idempotency_keys (
    app_id       bigint NOT NULL,
    key          text NOT NULL,
    campaign_id  bigint NOT NULL,
    response     text NOT NULL,
    created_at   bigint NOT NULL,
    PRIMARY KEY (app_id, key)
);
