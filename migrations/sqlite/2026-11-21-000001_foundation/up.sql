-- Switchboard's foundation: every table of DESIGN.md's Data section.
-- Twin of migrations/postgres/2026-11-21-000001_foundation: same tables, same columns.
-- Ids are UUIDs kept as TEXT and times are UTC TIMESTAMPs, so one diesel schema serves both backends.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_organization_idx ON users (organization_id);
CREATE UNIQUE INDEX users_organization_email_idx ON users (organization_id, email);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_organization_idx ON api_tokens (organization_id);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    phone_number_id TEXT NOT NULL UNIQUE,
    display_phone_number TEXT,
    waba_id TEXT,
    access_token_sealed TEXT NOT NULL,
    app_secret_sealed TEXT,
    verify_token_sealed TEXT,
    messages_per_second INTEGER NOT NULL DEFAULT 80,
    default_country_code TEXT,
    status TEXT NOT NULL DEFAULT 'ACTIVE',
    status_reason TEXT,
    quality_rating TEXT,
    account_info TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX channels_organization_idx ON channels (organization_id);
CREATE INDEX channels_waba_idx ON channels (waba_id);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id TEXT REFERENCES channels(id) ON DELETE SET NULL,
    provider TEXT NOT NULL DEFAULT 'WHATSAPP',
    body BLOB NOT NULL,
    body_sha256 TEXT NOT NULL UNIQUE,
    headers TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    error TEXT,
    received_at TIMESTAMP NOT NULL,
    processed_at TIMESTAMP
);
-- No index on (organization, time): ids are UUIDv7, so the primary key already orders the log by time.

CREATE TABLE integration_jobs (
    id TEXT PRIMARY KEY,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    run_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    last_error TEXT,
    idempotency_key TEXT,
    webhook_event_id TEXT REFERENCES webhook_events(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX integration_jobs_due_idx ON integration_jobs (status, run_at);
-- Partial: most jobs (webhooks) have no key, and should not pay for an index entry.
CREATE UNIQUE INDEX integration_jobs_idempotency_idx ON integration_jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE pipelines (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX pipelines_organization_idx ON pipelines (organization_id);

CREATE TABLE stages (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX stages_pipeline_position_idx ON stages (pipeline_id, position);

CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    pipeline_id TEXT REFERENCES pipelines(id) ON DELETE SET NULL,
    stage_id TEXT REFERENCES stages(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    phone TEXT,
    wa_user_id TEXT,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    assigned_to_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    referral TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX leads_organization_phone_idx ON leads (organization_id, phone);
CREATE UNIQUE INDEX leads_organization_wa_user_idx ON leads (organization_id, wa_user_id);

CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    author_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    content TEXT NOT NULL,
    is_private BOOLEAN NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    source_ref TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notes_lead_idx ON notes (lead_id, created_at);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    wa_id TEXT,
    wa_user_id TEXT,
    phone TEXT,
    profile_name TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX contacts_organization_wa_id_idx ON contacts (organization_id, wa_id);
CREATE UNIQUE INDEX contacts_organization_wa_user_idx ON contacts (organization_id, wa_user_id);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    contact_id TEXT REFERENCES contacts(id) ON DELETE SET NULL,
    lead_id TEXT REFERENCES leads(id) ON DELETE SET NULL,
    contact_phone TEXT NOT NULL,
    assigned_to_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    unread_count INTEGER NOT NULL DEFAULT 0,
    last_message_text TEXT,
    last_message_at TIMESTAMP,
    last_message_direction TEXT,
    last_inbound_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX conversations_contact_idx ON conversations (organization_id, channel_id, contact_phone);
CREATE INDEX conversations_recent_idx ON conversations (organization_id, last_message_at);

CREATE TABLE message_logs (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id TEXT REFERENCES channels(id) ON DELETE SET NULL,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    lead_id TEXT REFERENCES leads(id) ON DELETE SET NULL,
    provider TEXT NOT NULL DEFAULT 'WHATSAPP',
    direction TEXT NOT NULL,
    message_type TEXT NOT NULL,
    from_phone TEXT,
    to_phone TEXT,
    text TEXT,
    media_id TEXT,
    media_mime_type TEXT,
    media_filename TEXT,
    details TEXT,
    context_message_id TEXT,
    template_name TEXT,
    template_language TEXT,
    template_variables TEXT,
    external_message_id TEXT UNIQUE,
    status TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    status_updated_at TIMESTAMP,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX message_logs_conversation_idx ON message_logs (conversation_id, created_at);
CREATE INDEX message_logs_lead_idx ON message_logs (lead_id, created_at);

CREATE TABLE media (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    message_log_id TEXT REFERENCES message_logs(id) ON DELETE SET NULL,
    external_media_id TEXT,
    mime_type TEXT,
    file_name TEXT,
    size_bytes BIGINT,
    sha256 TEXT,
    storage_path TEXT,
    status TEXT NOT NULL,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX media_message_log_idx ON media (message_log_id);

CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id TEXT REFERENCES channels(id) ON DELETE SET NULL,
    external_id TEXT,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    parameter_format TEXT NOT NULL DEFAULT 'POSITIONAL',
    components TEXT NOT NULL DEFAULT '[]',
    rejection_reason TEXT,
    deleted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX templates_name_language_idx ON templates (organization_id, name, language);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    destination TEXT NOT NULL DEFAULT 'local',
    jira_project_key TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX services_organization_idx ON services (organization_id, position);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    service_id TEXT REFERENCES services(id) ON DELETE SET NULL,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    lead_id TEXT REFERENCES leads(id) ON DELETE SET NULL,
    contact_phone TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    assigned_to_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    jira_issue_key TEXT,
    last_activity_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX tickets_number_idx ON tickets (organization_id, number);
CREATE INDEX tickets_contact_idx ON tickets (organization_id, contact_phone, status);

CREATE TABLE ticket_comments (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_type TEXT NOT NULL,
    author_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    message_log_id TEXT REFERENCES message_logs(id) ON DELETE SET NULL,
    media_id TEXT REFERENCES media(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (ticket_id, created_at);
