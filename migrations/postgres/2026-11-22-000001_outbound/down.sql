DROP INDEX message_logs_organization_idx;
DROP TABLE runner_instances;
