-- Helpdesk: the service menu an assistant offered a contact, ticket notifications (sent or
-- skipped, never silently lost), comment ids of other systems (Jira), and Jira connections.

-- When the assistant last offered this contact the service menu; cleared once a ticket
-- starts. A second answer that matches nothing gets the menu again with a hint.
ALTER TABLE conversations ADD COLUMN menu_offered_at TIMESTAMP;

-- The id a comment has in another system (a Jira comment id): written once, so a comment
-- Jira echoes back to us is recognised as ours and a repeated Jira webhook adds nothing.
ALTER TABLE ticket_comments ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX ticket_comments_external_idx ON ticket_comments (ticket_id, external_id);
-- One comment per inbound message, however often its webhook is projected.
CREATE UNIQUE INDEX ticket_comments_message_idx ON ticket_comments (message_log_id);

-- Every notification a ticket change owed the customer: QUEUED (with its message) or
-- SKIPPED with the reason (outside the 24-hour window and no template configured, ...).
CREATE TABLE ticket_notifications (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    via TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    message_log_id TEXT REFERENCES message_logs(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_notifications_ticket_idx ON ticket_notifications (ticket_id, created_at);

-- The Jira site an organization's Jira-bound services create issues in. The API token is
-- sealed like channel secrets; the webhook secret is kept as a hash, like API tokens.
CREATE TABLE jira_connections (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL UNIQUE REFERENCES organizations(id) ON DELETE CASCADE,
    base_url TEXT NOT NULL,
    user_email TEXT NOT NULL,
    api_token TEXT NOT NULL,
    webhook_secret_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX tickets_jira_idx ON tickets (organization_id, jira_issue_key);
CREATE INDEX tickets_list_idx ON tickets (organization_id, created_at);

-- When the contact's session on a ticket ended early (/new): later messages start a new ticket
-- even though this one stays open for the agents.
ALTER TABLE tickets ADD COLUMN session_ended_at TIMESTAMP;
