-- The trigger rows a run fired, found from the run: their events' attributes are event.* in its templates.
CREATE INDEX pending_triggers_run ON pending_triggers (app_id, run_id) WHERE run_id IS NOT NULL;
