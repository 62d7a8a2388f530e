-- SQLite twin of postgres/0010_fallback_uninstall.sql.
-- Fallback messages (R-MSG-8) and uninstall tracking (R-DLV-2).
--
-- fallbacks: one row per campaign and user whose push was not delivered; the primary key is the
-- exactly-once guard (a user gets at most one fallback per campaign, however many of their devices
-- failed). State machine: pending -> sending -> sent | failed | skipped (pending again on retry).
CREATE TABLE fallbacks (
    app_id        bigint NOT NULL,
    campaign_id   bigint NOT NULL,
    user_ordinal  integer NOT NULL,
    channel       text NOT NULL,          -- sms | email
    cause         text NOT NULL,          -- no device | push failed | not delivered
    state         text NOT NULL,          -- pending | sending | sent | failed | skipped
    reason        text,
    message_id    text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    due_at        bigint NOT NULL,
    lease_until   bigint,
    sent_at       bigint,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id, user_ordinal)
);
CREATE INDEX fallbacks_due ON fallbacks (due_at) WHERE state = 'pending';
CREATE INDEX fallbacks_sending ON fallbacks (lease_until) WHERE state = 'sending';

-- Campaigns whose fallback waits for a delivery receipt: scanned until every window has passed.
CREATE TABLE fallback_watches (
    app_id       bigint NOT NULL,
    campaign_id  bigint NOT NULL,
    window_ms    bigint NOT NULL,
    PRIMARY KEY (app_id, campaign_id)
);

-- Uninstall sweep: when a device last got a silent check push (so a sweep does not ping it again
-- before it has had time to be seen). Re-install: the installation that replaced an uninstalled one.
ALTER TABLE devices ADD COLUMN silent_checked_at bigint;
ALTER TABLE devices ADD COLUMN reinstalled_as integer;
CREATE INDEX devices_not_seen ON devices (last_seen_at) WHERE uninstalled_at IS NULL AND push_token IS NOT NULL;
-- Uninstalls and re-installs per day.
CREATE INDEX devices_uninstalled_at ON devices (app_id, uninstalled_at) WHERE uninstalled_at IS NOT NULL;
CREATE INDEX devices_reinstalled_at ON devices (app_id, reinstalled_at) WHERE reinstalled_at IS NOT NULL;
