-- Per-app alert thresholds: a share from 0.0001 to 1, or NULL for the installation's (Herald:Alerts).
ALTER TABLE alert_settings ADD COLUMN campaign_failure_rate double precision;
ALTER TABLE alert_settings ADD COLUMN provider_error_rate double precision;
