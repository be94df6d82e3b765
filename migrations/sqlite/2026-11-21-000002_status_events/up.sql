-- Every delivery status Meta reported, kept once per (wamid, status). A message's status is the
-- fold of these, so statuses that arrive before their message, twice, or out of order all end
-- in the same state; unknown status values are kept here without moving the message.
CREATE TABLE message_status_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    external_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    recipient_id TEXT,
    error_code TEXT,
    error_title TEXT,
    error_message TEXT,
    webhook_event_id TEXT REFERENCES webhook_events(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX message_status_events_message_status_idx ON message_status_events (external_message_id, status);

-- When Meta last changed a template's status, so late webhooks never overwrite newer news.
ALTER TABLE templates ADD COLUMN status_changed_at TIMESTAMP;


-- The wamid of the message shown as a conversation's preview: with its time, it decides which
-- message is newest whatever order webhooks arrive in.
ALTER TABLE conversations ADD COLUMN last_message_external_id TEXT;

-- The runner's claim reads due jobs in run_at order: a partial index of PENDING jobs only, so a
-- claim walks it in order and stops after a batch, however many finished jobs the table holds.
CREATE INDEX integration_jobs_pending_idx ON integration_jobs (run_at) WHERE status = 'PENDING';
