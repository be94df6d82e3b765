//! WhatsApp numbers of an organization. Secrets are sealed before they reach the database
//! and opened only by the code that needs them.

use diesel::prelude::*;

use crate::crypto::SecretBox;
use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Channel, new_id, now};
use crate::schema::channels::dsl;

pub const ACCESS_TOKEN: &str = "channels.access_token";
pub const APP_SECRET: &str = "channels.app_secret";
pub const VERIFY_TOKEN: &str = "channels.verify_token";

/// A channel that sends.
pub const ACTIVE: &str = "ACTIVE";
/// A channel Meta refused for a reason only a person can fix (expired token, missing
/// permission, blocked account): its sends wait until it is resumed.
pub const PAUSED: &str = "PAUSED";

/// Meta's default throughput; numbers are upgraded up to 1,000 messages per second.
pub const DEFAULT_MESSAGES_PER_SECOND: i32 = 80;
pub const MAX_MESSAGES_PER_SECOND: i32 = 1000;

/// What an operator gives to add (or, for the bootstrap channel, refresh) a number. Plaintext secrets.
#[derive(Debug, Clone, Default)]
pub struct ChannelInput {
    pub organization_id: String,
    pub name: Option<String>,
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub waba_id: Option<String>,
    pub access_token: String,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub messages_per_second: Option<i32>,
    pub default_country_code: Option<String>,
}

/// A channel's secrets, opened.
pub struct ChannelSecrets {
    pub access_token: String,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
}

impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelSecrets(..)")
    }
}

impl Channel {
    pub fn open_secrets(&self, secrets: &SecretBox) -> Result<ChannelSecrets, StoreError> {
        let open_optional = |context, sealed: &Option<String>| {
            sealed
                .as_deref()
                .map(|s| secrets.open(context, s))
                .transpose()
        };
        Ok(ChannelSecrets {
            access_token: secrets.open(ACCESS_TOKEN, &self.access_token_sealed)?,
            app_secret: open_optional(APP_SECRET, &self.app_secret_sealed)?,
            verify_token: open_optional(VERIFY_TOKEN, &self.verify_token_sealed)?,
        })
    }
}

fn validate(input: &ChannelInput) -> Result<(), StoreError> {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(input.phone_number_id.trim()) {
        return Err(StoreError::Invalid(format!(
            "phone number id '{}' must be the numeric id Meta shows under WhatsApp > API Setup",
            input.phone_number_id
        )));
    }
    if let Some(waba) = &input.waba_id
        && !digits(waba.trim())
    {
        return Err(StoreError::Invalid(format!(
            "WABA id '{waba}' must be numeric"
        )));
    }
    if input.access_token.trim().is_empty() {
        return Err(StoreError::Invalid("access token must not be empty".into()));
    }
    if let Some(mps) = input.messages_per_second
        && !(1..=MAX_MESSAGES_PER_SECOND).contains(&mps)
    {
        return Err(StoreError::Invalid(format!(
            "messages per second must be between 1 and {MAX_MESSAGES_PER_SECOND}, got {mps}"
        )));
    }
    if let Some(cc) = &input.default_country_code
        && !(digits(cc) && cc.len() <= 3)
    {
        return Err(StoreError::Invalid(format!(
            "country code '{cc}' must be 1 to 3 digits without '+', e.g. 57 or 1"
        )));
    }
    Ok(())
}

fn seal_optional(
    secrets: &SecretBox,
    context: &'static str,
    value: &Option<String>,
) -> Result<Option<String>, StoreError> {
    Ok(value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| secrets.seal(context, v))
        .transpose()?)
}

fn build(secrets: &SecretBox, input: &ChannelInput, id: String) -> Result<Channel, StoreError> {
    validate(input)?;
    let at = now();
    let phone_number_id = input.phone_number_id.trim().to_string();
    Ok(Channel {
        id,
        organization_id: input.organization_id.clone(),
        name: input
            .name
            .clone()
            .unwrap_or_else(|| format!("WhatsApp {phone_number_id}")),
        phone_number_id,
        display_phone_number: input.display_phone_number.clone(),
        waba_id: input.waba_id.as_ref().map(|w| w.trim().to_string()),
        access_token_sealed: secrets.seal(ACCESS_TOKEN, input.access_token.trim())?,
        app_secret_sealed: seal_optional(secrets, APP_SECRET, &input.app_secret)?,
        verify_token_sealed: seal_optional(secrets, VERIFY_TOKEN, &input.verify_token)?,
        messages_per_second: input
            .messages_per_second
            .unwrap_or(DEFAULT_MESSAGES_PER_SECOND),
        default_country_code: input.default_country_code.clone(),
        status: ACTIVE.into(),
        status_reason: None,
        quality_rating: None,
        account_info: None,
        created_at: at,
        updated_at: at,
    })
}

pub fn insert_channel(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    input: &ChannelInput,
) -> Result<Channel, StoreError> {
    let channel = build(secrets, input, new_id())?;
    diesel::insert_into(dsl::channels).values(&channel).execute(conn).map_err(|e| {
        let e = StoreError::from(e);
        if e.is_unique_violation() {
            StoreError::Conflict(format!(
                "phone number id {} is already a channel; each WhatsApp number belongs to one organization",
                channel.phone_number_id
            ))
        } else {
            e
        }
    })?;
    Ok(channel)
}

/// Inserts the channel, or refreshes the secrets and settings of the one with the same
/// phone number id in the same organization (the env-var bootstrap runs at every start).
pub fn upsert_channel(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    input: &ChannelInput,
) -> Result<Channel, StoreError> {
    // BEGIN IMMEDIATE on SQLite: a read that later writes would otherwise fail at once
    // with "database is locked" when a writer (the runner) holds the lock.
    crate::db::write_transaction(conn, |c| {
        let Some(existing) = find_channel_by_phone_number_id(c, input.phone_number_id.trim())?
        else {
            return insert_channel(c, secrets, input);
        };
        if existing.organization_id != input.organization_id {
            return Err(StoreError::Conflict(format!(
                "phone number id {} already belongs to another organization",
                existing.phone_number_id
            )));
        }
        // A new access token is how an operator fixes a paused channel (an expired token).
        let new_token = existing.open_secrets(secrets)?.access_token != input.access_token;
        let mut updated = build(secrets, input, existing.id.clone())?;
        updated.created_at = existing.created_at;
        updated.name = input.name.clone().unwrap_or(existing.name);
        if !(new_token && existing.status == PAUSED) {
            updated.status = existing.status;
            updated.status_reason = existing.status_reason;
        }
        updated.quality_rating = existing.quality_rating;
        updated.account_info = existing.account_info;
        diesel::update(dsl::channels.find(&updated.id))
            .set((
                dsl::name.eq(&updated.name),
                dsl::display_phone_number.eq(&updated.display_phone_number),
                dsl::waba_id.eq(&updated.waba_id),
                dsl::access_token_sealed.eq(&updated.access_token_sealed),
                dsl::app_secret_sealed.eq(&updated.app_secret_sealed),
                dsl::verify_token_sealed.eq(&updated.verify_token_sealed),
                dsl::messages_per_second.eq(updated.messages_per_second),
                dsl::default_country_code.eq(&updated.default_country_code),
                dsl::status.eq(&updated.status),
                dsl::status_reason.eq(&updated.status_reason),
                dsl::updated_at.eq(updated.updated_at),
            ))
            .execute(c)?;
        if updated.status == ACTIVE {
            wake_sends(c, &updated.organization_id)?;
        }
        Ok(updated)
    })
}

pub fn find_channel_by_phone_number_id(
    conn: &mut AnyConnection,
    phone_number_id: &str,
) -> Result<Option<Channel>, StoreError> {
    Ok(dsl::channels
        .filter(dsl::phone_number_id.eq(phone_number_id))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn find_channel(
    conn: &mut AnyConnection,
    organization_id: &str,
    id: &str,
) -> Result<Option<Channel>, StoreError> {
    Ok(dsl::channels
        .filter(dsl::organization_id.eq(organization_id))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list_channels(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<Channel>, StoreError> {
    Ok(dsl::channels
        .filter(dsl::organization_id.eq(organization_id))
        .order(dsl::created_at.asc())
        .load(conn)?)
}

/// Every channel of every organization: what the webhook target routes by.
pub fn list_all_channels(conn: &mut AnyConnection) -> Result<Vec<Channel>, StoreError> {
    Ok(dsl::channels.order(dsl::created_at.asc()).load(conn)?)
}

/// Records an account, quality or name webhook on the channel (`account_info` keeps the newest
/// value per webhook field). A quality update also sets `quality_rating`.
pub fn record_channel_update(
    conn: &mut AnyConnection,
    channel_id: &str,
    field: &str,
    value: &serde_json::Value,
    at: chrono::NaiveDateTime,
) -> Result<(), StoreError> {
    let Some(channel) = dsl::channels
        .find(channel_id)
        .load::<Channel>(conn)?
        .into_iter()
        .next()
    else {
        return Err(StoreError::NotFound("channel"));
    };
    let mut info: serde_json::Map<String, serde_json::Value> = channel
        .account_info
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let at_text = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    let newer = info
        .get(field)
        .and_then(|v| v.get("at"))
        .and_then(|v| v.as_str())
        .is_none_or(|last| last <= at_text.as_str());
    if !newer {
        return Ok(());
    }
    info.insert(
        field.to_string(),
        serde_json::json!({ "at": at_text, "value": value }),
    );
    let quality = match field {
        "phone_number_quality_update" => value
            .get("new_quality_score")
            .or_else(|| value.get("event"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or(channel.quality_rating),
        _ => channel.quality_rating,
    };
    diesel::update(dsl::channels.find(channel_id))
        .set((
            dsl::account_info.eq(Some(serde_json::Value::Object(info).to_string())),
            dsl::quality_rating.eq(quality),
            dsl::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Pauses the channel's sends with the reason a person must act on. True when it was active.
pub fn pause_channel(
    conn: &mut AnyConnection,
    channel_id: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    let paused = diesel::update(
        dsl::channels
            .filter(dsl::id.eq(channel_id))
            .filter(dsl::status.ne(PAUSED)),
    )
    .set((
        dsl::status.eq(PAUSED),
        dsl::status_reason.eq(Some(reason)),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(paused == 1)
}

/// Lets a paused channel send again, and makes its waiting sends due now.
pub fn resume_channel(
    conn: &mut AnyConnection,
    organization_id: &str,
    channel_id: &str,
) -> Result<Channel, StoreError> {
    diesel::update(
        dsl::channels
            .filter(dsl::id.eq(channel_id))
            .filter(dsl::organization_id.eq(organization_id)),
    )
    .set((
        dsl::status.eq(ACTIVE),
        dsl::status_reason.eq(None::<String>),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    wake_sends(conn, organization_id)?;
    find_channel(conn, organization_id, channel_id)?.ok_or(StoreError::NotFound("channel"))
}

fn wake_sends(conn: &mut AnyConnection, organization_id: &str) -> Result<(), StoreError> {
    use switchboard_domain::job_kind::{SEND_MESSAGE, SEND_MESSAGE_TEMPLATE};
    crate::repo::jobs::wake_jobs(
        conn,
        organization_id,
        &[SEND_MESSAGE, SEND_MESSAGE_TEMPLATE],
        now(),
    )?;
    Ok(())
}

/// Replaces a channel's access token (sealed like every secret).
pub fn set_access_token(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    channel_id: &str,
    token: &str,
) -> Result<(), StoreError> {
    if token.trim().is_empty() {
        return Err(StoreError::Invalid("access token must not be empty".into()));
    }
    let sealed = secrets.seal(ACCESS_TOKEN, token.trim())?;
    diesel::update(dsl::channels.find(channel_id))
        .set((
            dsl::access_token_sealed.eq(sealed),
            dsl::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Notes that the channel received a webhook of `field` at `at` (keeps the newest time), for
/// the status page's "last webhook received" per field.
pub fn touch_webhook_field(
    conn: &mut AnyConnection,
    channel_id: &str,
    field: &str,
    at: chrono::NaiveDateTime,
) -> Result<(), StoreError> {
    use crate::schema::channel_webhook_fields as f;
    let updated = diesel::update(
        f::table
            .filter(f::channel_id.eq(channel_id))
            .filter(f::field.eq(field))
            .filter(f::last_received_at.lt(at)),
    )
    .set(f::last_received_at.eq(at))
    .execute(conn)?;
    if updated == 0 {
        insert_ignoring_conflicts!(
            conn,
            f::table,
            (
                f::channel_id.eq(channel_id),
                f::field.eq(field),
                f::last_received_at.eq(at)
            )
        );
    }
    Ok(())
}

/// The last time each webhook field reached the channel, newest first.
pub fn list_webhook_fields(
    conn: &mut AnyConnection,
    channel_id: &str,
) -> Result<Vec<(String, chrono::NaiveDateTime)>, StoreError> {
    use crate::schema::channel_webhook_fields as f;
    Ok(f::table
        .filter(f::channel_id.eq(channel_id))
        .order(f::last_received_at.desc())
        .select((f::field, f::last_received_at))
        .load(conn)?)
}

/// Sets the channel's display number from what Meta reports, unless one was already set
/// (an operator's own spelling wins).
pub fn fill_display_number(
    conn: &mut AnyConnection,
    channel_id: &str,
    number: &str,
) -> Result<(), StoreError> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Ok(());
    }
    diesel::update(
        dsl::channels
            .filter(dsl::id.eq(channel_id))
            .filter(dsl::display_phone_number.is_null()),
    )
    .set((
        dsl::display_phone_number.eq(digits),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(())
}
