ALTER TABLE tickets DROP COLUMN session_ended_at;
DROP INDEX tickets_list_idx;
DROP INDEX tickets_jira_idx;
DROP TABLE jira_connections;
DROP TABLE ticket_notifications;
DROP INDEX ticket_comments_message_idx;
DROP INDEX ticket_comments_external_idx;
ALTER TABLE ticket_comments DROP COLUMN external_id;
ALTER TABLE conversations DROP COLUMN menu_offered_at;
