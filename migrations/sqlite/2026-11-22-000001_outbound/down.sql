DROP INDEX message_status_events_waiting_idx;
ALTER TABLE message_status_events DROP COLUMN applied;
DROP INDEX message_logs_organization_idx;
DROP TABLE runner_instances;
