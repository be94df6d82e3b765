-- Integrations: API keys for servers, outgoing event webhooks and their deliveries, marketing
-- opt-outs, where a message came from (coexistence), and which webhook fields each channel
-- last received.

-- Server-to-server keys of an organization (`x-api-key`), stored as hashes like API tokens.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_keys_org_idx ON api_keys (organization_id, created_at);

-- URLs an organization's systems want events POSTed to. The signing secret is sealed with the
-- master key (it must be read back to sign). A subscription that keeps failing is disabled,
-- with the reason, until someone enables it again.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT,
    events TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    consecutive_failures INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_org_idx ON webhook_subscriptions (organization_id, created_at);

-- One event for one subscription: the body exactly as signed and sent, and how it went
-- (PENDING, DELIVERED, FAILED while retrying, DEAD after the last attempt).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    error TEXT,
    job_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at);
CREATE UNIQUE INDEX webhook_deliveries_event_idx ON webhook_deliveries (subscription_id, event_id);

-- Every change of a contact's marketing consent, with its source (KEYWORD, WEBHOOK, API,
-- META_ERROR) and time. The current state is the latest change by occurred_at, so changes
-- projected in any order end in the same state. external_ref (a wamid, a webhook item) makes
-- a repeated projection add nothing.
CREATE TABLE opt_out_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    phone TEXT NOT NULL,
    opted_out BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    detail TEXT,
    external_ref TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX opt_out_events_ref_idx ON opt_out_events (organization_id, external_ref);
CREATE INDEX opt_out_events_phone_idx ON opt_out_events (organization_id, phone, occurred_at);

-- Where a message came from when not through this API or from the customer: BUSINESS_APP
-- (typed in the WhatsApp Business app on a coexistence number) or HISTORY (history sync).
ALTER TABLE message_logs ADD COLUMN origin TEXT;

-- The last webhook of each field (messages, statuses, account_update, ...) a channel received,
-- for `GET /api/whatsapp/status`.
CREATE TABLE channel_webhook_fields (
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    last_received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel_id, field)
);
