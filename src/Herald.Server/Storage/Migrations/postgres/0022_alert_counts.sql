-- Alert counters shared by every node (R-DLV-4 with R-OPS-2): per app and key (campaign:N,
-- provider:P) and step of the alert window, the finished sends and the failures, and the failure
-- reasons. Each node adds what it sent; each reads the sum of all nodes over the window.
CREATE TABLE alert_counts (
    app_id        bigint NOT NULL,
    key           text NOT NULL,
    bucket        bigint NOT NULL,         -- time / (window / 10)
    total         bigint NOT NULL,
    failed        bigint NOT NULL,
    PRIMARY KEY (app_id, key, bucket)
);
CREATE INDEX alert_counts_bucket ON alert_counts (bucket);

CREATE TABLE alert_reasons (
    app_id        bigint NOT NULL,
    key           text NOT NULL,
    bucket        bigint NOT NULL,
    reason        text NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (app_id, key, bucket, reason)
);
CREATE INDEX alert_reasons_bucket ON alert_reasons (bucket);
