-- A/B control groups (R-MSG-7): rows of the control group are skipped with variant -2 and sent
-- nothing. A purchase within the conversion window after the send (the control group: after the time
-- it would have been sent) sets lift_converted_at on the test cohort's and the control group's rows,
-- whether or not the message was opened: the same measure on both sides gives the lift.
ALTER TABLE deliveries ADD COLUMN lift_converted_at bigint;
CREATE INDEX deliveries_control ON deliveries (app_id, user_ordinal) WHERE variant = -2;
ALTER TABLE campaign_ab_tests ADD COLUMN control_share double precision NOT NULL DEFAULT 0;
