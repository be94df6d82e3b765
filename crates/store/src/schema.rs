//! The one diesel schema both backends share (see migrations/sqlite and migrations/postgres).
//!
//! Written by hand on purpose: only types SQLite and PostgreSQL both speak appear here
//! (UUIDs and JSON as TEXT, times as UTC TIMESTAMP), so one query serves either backend.

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        slug -> Text,
        settings -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        name -> Text,
        token_hash -> Text,
        token_prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    channels (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        phone_number_id -> Text,
        display_phone_number -> Nullable<Text>,
        waba_id -> Nullable<Text>,
        access_token_sealed -> Text,
        app_secret_sealed -> Nullable<Text>,
        verify_token_sealed -> Nullable<Text>,
        messages_per_second -> Integer,
        default_country_code -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        quality_rating -> Nullable<Text>,
        account_info -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        organization_id -> Nullable<Text>,
        channel_id -> Nullable<Text>,
        provider -> Text,
        body -> Binary,
        body_sha256 -> Text,
        headers -> Text,
        status -> Text,
        error -> Nullable<Text>,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    integration_jobs (id) {
        id -> Text,
        organization_id -> Nullable<Text>,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        run_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        webhook_event_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pipelines (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stages (id) {
        id -> Text,
        organization_id -> Text,
        pipeline_id -> Text,
        name -> Text,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    leads (id) {
        id -> Text,
        organization_id -> Text,
        pipeline_id -> Nullable<Text>,
        stage_id -> Nullable<Text>,
        name -> Text,
        phone -> Nullable<Text>,
        wa_user_id -> Nullable<Text>,
        status -> Text,
        source -> Text,
        assigned_to_id -> Nullable<Text>,
        referral -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notes (id) {
        id -> Text,
        organization_id -> Text,
        lead_id -> Text,
        author_user_id -> Nullable<Text>,
        content -> Text,
        is_private -> Bool,
        source -> Text,
        source_ref -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        organization_id -> Text,
        wa_id -> Nullable<Text>,
        wa_user_id -> Nullable<Text>,
        phone -> Nullable<Text>,
        profile_name -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> Text,
        organization_id -> Text,
        channel_id -> Text,
        contact_id -> Nullable<Text>,
        lead_id -> Nullable<Text>,
        contact_phone -> Text,
        assigned_to_id -> Nullable<Text>,
        unread_count -> Integer,
        last_message_text -> Nullable<Text>,
        last_message_at -> Nullable<Timestamp>,
        last_message_direction -> Nullable<Text>,
        last_inbound_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_message_external_id -> Nullable<Text>,
        menu_offered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_logs (id) {
        id -> Text,
        organization_id -> Text,
        channel_id -> Nullable<Text>,
        conversation_id -> Nullable<Text>,
        lead_id -> Nullable<Text>,
        provider -> Text,
        direction -> Text,
        message_type -> Text,
        from_phone -> Nullable<Text>,
        to_phone -> Nullable<Text>,
        text -> Nullable<Text>,
        media_id -> Nullable<Text>,
        media_mime_type -> Nullable<Text>,
        media_filename -> Nullable<Text>,
        details -> Nullable<Text>,
        context_message_id -> Nullable<Text>,
        template_name -> Nullable<Text>,
        template_language -> Nullable<Text>,
        template_variables -> Nullable<Text>,
        external_message_id -> Nullable<Text>,
        status -> Text,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        status_updated_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        origin -> Nullable<Text>,
    }
}

diesel::table! {
    media (id) {
        id -> Text,
        organization_id -> Text,
        message_log_id -> Nullable<Text>,
        external_media_id -> Nullable<Text>,
        mime_type -> Nullable<Text>,
        file_name -> Nullable<Text>,
        size_bytes -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
        storage_path -> Nullable<Text>,
        status -> Text,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    templates (id) {
        id -> Text,
        organization_id -> Text,
        channel_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        name -> Text,
        language -> Text,
        category -> Text,
        status -> Text,
        parameter_format -> Text,
        components -> Text,
        rejection_reason -> Nullable<Text>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        status_changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    message_status_events (id) {
        id -> Text,
        organization_id -> Text,
        external_message_id -> Text,
        status -> Text,
        occurred_at -> Timestamp,
        recipient_id -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_title -> Nullable<Text>,
        error_message -> Nullable<Text>,
        webhook_event_id -> Nullable<Text>,
        created_at -> Timestamp,
        applied -> Bool,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        position -> Integer,
        active -> Bool,
        destination -> Text,
        jira_project_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        organization_id -> Text,
        number -> BigInt,
        service_id -> Nullable<Text>,
        conversation_id -> Nullable<Text>,
        lead_id -> Nullable<Text>,
        contact_phone -> Text,
        subject -> Text,
        status -> Text,
        assigned_to_id -> Nullable<Text>,
        jira_issue_key -> Nullable<Text>,
        last_activity_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        session_ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_comments (id) {
        id -> Text,
        organization_id -> Text,
        ticket_id -> Text,
        author_type -> Text,
        author_user_id -> Nullable<Text>,
        body -> Text,
        message_log_id -> Nullable<Text>,
        media_id -> Nullable<Text>,
        created_at -> Timestamp,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_notifications (id) {
        id -> Text,
        organization_id -> Text,
        ticket_id -> Text,
        event -> Text,
        via -> Nullable<Text>,
        status -> Text,
        reason -> Nullable<Text>,
        message_log_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    jira_connections (id) {
        id -> Text,
        organization_id -> Text,
        base_url -> Text,
        user_email -> Text,
        api_token -> Text,
        webhook_secret_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        key_hash -> Text,
        key_prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        events -> Text,
        secret_sealed -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        organization_id -> Text,
        subscription_id -> Text,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        job_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    opt_out_events (id) {
        id -> Text,
        organization_id -> Text,
        phone -> Text,
        opted_out -> Bool,
        source -> Text,
        detail -> Nullable<Text>,
        external_ref -> Text,
        occurred_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channel_webhook_fields (channel_id, field) {
        channel_id -> Text,
        field -> Text,
        last_received_at -> Timestamp,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(channels -> organizations (organization_id));
diesel::joinable!(stages -> pipelines (pipeline_id));
diesel::joinable!(notes -> leads (lead_id));
diesel::joinable!(ticket_comments -> tickets (ticket_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));

diesel::table! {
    runner_instances (id) {
        id -> Text,
        hostname -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    api_tokens,
    channels,
    webhook_events,
    integration_jobs,
    pipelines,
    stages,
    leads,
    notes,
    contacts,
    conversations,
    message_logs,
    media,
    templates,
    services,
    tickets,
    ticket_comments,
    ticket_notifications,
    jira_connections,
    message_status_events,
    runner_instances,
    api_keys,
    webhook_subscriptions,
    webhook_deliveries,
    opt_out_events,
    channel_webhook_fields,
);
