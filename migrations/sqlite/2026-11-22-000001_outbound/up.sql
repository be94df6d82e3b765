-- Runner processes alive now. Each heartbeats every few seconds; a channel's send limit is
-- split evenly among the live ones, so any number of runners together stay under it.
CREATE TABLE runner_instances (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- Outbound messages are looked up by their job's message id and listed per organization.
CREATE INDEX message_logs_organization_idx ON message_logs (organization_id, created_at);
