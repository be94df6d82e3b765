DROP INDEX integration_jobs_pending_idx;
ALTER TABLE conversations DROP COLUMN last_message_external_id;
ALTER TABLE templates DROP COLUMN status_changed_at;
DROP TABLE message_status_events;
