-- SQLite twin of postgres/0003_delivery.sql.
-- Delivery feedback (R-DLV-2): why a device was marked uninstalled and when it came back; email
-- suppression from bounces and complaints; provider configuration errors per app and channel;
-- the SES webhook secret (hash only).

ALTER TABLE devices ADD COLUMN uninstall_reason text;
ALTER TABLE devices ADD COLUMN reinstalled_at bigint;
-- The planner's stale-token rule (Android tokens not refreshed for 270 days) scans by token age.
CREATE INDEX devices_token_age ON devices (app_id, platform, token_updated_at) WHERE uninstalled_at IS NULL;

ALTER TABLE users ADD COLUMN email_suppressed_at bigint;
ALTER TABLE users ADD COLUMN email_suppression_reason text;
-- SES reports addresses, not users: suppression looks users up by address, case-insensitively.
CREATE INDEX users_email ON users (app_id, lower(email)) WHERE email IS NOT NULL;

ALTER TABLE apps ADD COLUMN ses_webhook_token_hash text;

CREATE TABLE channel_errors (
    app_id       bigint NOT NULL,
    id           integer PRIMARY KEY AUTOINCREMENT,
    channel      text NOT NULL,            -- fcm | apns | webpush | smtp | sms
    reason       text NOT NULL,
    status_code  integer,
    occurred_at  bigint NOT NULL
);
CREATE INDEX channel_errors_app ON channel_errors (app_id, occurred_at);
