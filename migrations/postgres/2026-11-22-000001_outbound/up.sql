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

-- A status is applied once its message's status has taken it into account. Meta's status
-- webhook can beat the send's response: such a status waits unapplied until the send records
-- its wamid, or a sweep of the runner finds the message (if the two raced past each other).
ALTER TABLE message_status_events ADD COLUMN applied BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX message_status_events_waiting_idx ON message_status_events (created_at) WHERE NOT applied;
