//! Customers' files: a `media` row and its DOWNLOAD_MEDIA job, queued when an inbound media
//! message is projected, then marked DOWNLOADED or FAILED by the job.
//!
//! A media row's id is derived from its organization and Meta's media id, so however often a
//! webhook is projected (a redelivery, a replay that rebuilt the message) the file is one
//! row, found by its primary key, and downloaded once.

use std::path::{Component, Path, PathBuf};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use switchboard_domain::job_kind;
use switchboard_domain::media::MediaKind;
use switchboard_domain::webhook::MediaRef;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{IntegrationJob, Media, MessageLog, now};
use crate::repo::jobs;
use crate::schema::{integration_jobs, media};

/// The job has not fetched the file yet (or is retrying: `error` then says what went wrong).
pub const PENDING: &str = "PENDING";
/// The file is in the media directory at `storage_path`.
pub const DOWNLOADED: &str = "DOWNLOADED";
/// The file will not be downloaded: `error` says why (too large, wrong type, Meta refused…).
pub const FAILED: &str = "FAILED";

/// Attempts a download gets before its file is marked FAILED. The backoff spreads them over
/// a few hours, well inside the seven days Meta keeps a webhook's media id.
pub const DOWNLOAD_MAX_ATTEMPTS: i32 = 8;

/// What the download job finds in its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadPayload {
    /// Our media row.
    pub media_id: String,
    /// The channel whose access token fetches the file.
    pub channel_id: String,
    /// The message type (`image`, `document`, …): which of Meta's limits applies.
    pub kind: String,
    /// Animated stickers have a larger limit.
    #[serde(default)]
    pub animated: bool,
    /// The SHA-256 the webhook announced (base64, as Meta sends it), checked against the bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A downloaded file, as the job records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub mime_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes on disk.
    pub sha256: String,
    /// Relative to the media directory: `<organization id>/<media id>`.
    pub storage_path: String,
}

/// The id of the media row for Meta's media `external_media_id` in organization `org`: a
/// version 8 UUID made of the first 16 bytes of SHA-256(`org`, newline, media id).
pub fn media_id_for(org: &str, external_media_id: &str) -> String {
    let seed = format!("{org}\n{external_media_id}");
    let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Where a stored file lives under `media_dir`; `None` for a `storage_path` that would leave
/// it (absolute, `..`), which no row of ours holds, but a path is only built from what is
/// known safe.
pub fn file_path(media_dir: &Path, storage_path: &str) -> Option<PathBuf> {
    let relative = Path::new(storage_path);
    let plain = relative.components().next().is_some()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| media_dir.join(relative))
}

/// The idempotency key of a file's download job: one job per file, whatever happens.
fn job_key(org: &str, external_media_id: &str) -> String {
    format!("download_media:{org}:{external_media_id}")
}

/// Inside the caller's transaction (the projection of the message): a PENDING media row and
/// its DOWNLOAD_MEDIA job for an inbound image, document, audio, video or sticker, announced
/// to runners at commit. `declared` is the webhook's media object (its SHA-256 and sticker
/// flag are not in the message log).
///
/// Returns `None`, writing nothing, for a message without a file; and when the file is known
/// already — its row is then linked to this message if a replay left it without one. Never
/// refuses a message: data it cannot use means no download, not a failed projection.
pub fn queue_download_in(
    conn: &mut AnyConnection,
    log: &MessageLog,
    declared: Option<&MediaRef>,
) -> Result<Option<IntegrationJob>, StoreError> {
    let animated = declared.is_some_and(|m| m.animated);
    let (Some(external), Some(kind), Some(channel_id)) = (
        log.media_id.as_deref().filter(|id| !id.trim().is_empty()),
        MediaKind::from_message_type(&log.message_type, animated),
        log.channel_id.as_deref(),
    ) else {
        return Ok(None);
    };
    if log.direction != "INBOUND" {
        return Ok(None);
    }
    let org = log.organization_id.as_str();
    let at = now();
    let row = Media {
        id: media_id_for(org, external),
        organization_id: org.to_string(),
        message_log_id: Some(log.id.clone()),
        external_media_id: Some(external.to_string()),
        mime_type: log.media_mime_type.clone(),
        file_name: log.media_filename.clone(),
        size_bytes: None,
        sha256: None,
        storage_path: None,
        status: PENDING.into(),
        error: None,
        created_at: at,
        updated_at: at,
    };
    if insert_ignoring_conflicts!(conn, media::table, &row) == 0 {
        // A replay deletes inbound messages (which unlinks their files) and projects them
        // again as new rows: the file, downloaded or not, belongs to the new one.
        diesel::update(
            media::table
                .filter(media::id.eq(&row.id))
                .filter(media::organization_id.eq(org))
                .filter(media::message_log_id.is_null()),
        )
        .set((media::message_log_id.eq(&log.id), media::updated_at.eq(at)))
        .execute(conn)?;
        return Ok(None);
    }
    let key = job_key(org, external);
    let queued_before: i64 = integration_jobs::table
        .filter(integration_jobs::idempotency_key.eq(&key))
        .count()
        .get_result(conn)?;
    if queued_before > 0 {
        // Its media row was deleted by hand while the job stayed: that job still downloads it.
        return Ok(None);
    }
    let payload = DownloadPayload {
        media_id: row.id.clone(),
        channel_id: channel_id.to_string(),
        kind: kind.as_str().to_string(),
        animated,
        sha256: declared.and_then(|m| m.sha256.clone()),
    };
    let payload =
        serde_json::to_string(&payload).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut job = jobs::new_job(job_kind::DOWNLOAD_MEDIA, Some(org.to_string()), payload, at);
    job.idempotency_key = Some(key);
    job.max_attempts = DOWNLOAD_MAX_ATTEMPTS;
    // Announced with the rest of the transaction: runners elsewhere wake when it commits.
    jobs::insert_jobs(conn, std::slice::from_ref(&job))?;
    Ok(Some(job))
}

/// One file of the organization; `None` for an id of another organization too.
pub fn find_media(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Media>, StoreError> {
    Ok(media::table
        .filter(media::id.eq(id))
        .filter(media::organization_id.eq(org))
        .load(conn)?
        .into_iter()
        .next())
}

/// The files of these messages, in one query (a page of messages shows them all).
pub fn find_media_of_messages(
    conn: &mut AnyConnection,
    org: &str,
    message_log_ids: &[String],
) -> Result<Vec<Media>, StoreError> {
    if message_log_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(media::table
        .filter(media::organization_id.eq(org))
        .filter(media::message_log_id.eq_any(message_log_ids))
        .load(conn)?)
}

/// Records the file on disk. False when the row is gone (its organization was deleted).
pub fn mark_downloaded(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    file: &StoredFile,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        media::table
            .filter(media::id.eq(id))
            .filter(media::organization_id.eq(org)),
    )
    .set((
        media::status.eq(DOWNLOADED),
        media::error.eq(None::<String>),
        media::mime_type.eq(&file.mime_type),
        media::size_bytes.eq(file.size_bytes),
        media::sha256.eq(&file.sha256),
        media::storage_path.eq(&file.storage_path),
        media::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

/// The file will not be downloaded; `error` is shown on its message.
pub fn mark_failed(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    error: &str,
) -> Result<bool, StoreError> {
    set_status(conn, org, id, FAILED, error)
}

/// An attempt failed and the job will try again: the row stays (or goes back to) PENDING, with
/// what went wrong, so a slow download is not a silent one.
pub fn mark_retrying(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    error: &str,
) -> Result<bool, StoreError> {
    set_status(conn, org, id, PENDING, error)
}

fn set_status(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    status: &str,
    error: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        media::table
            .filter(media::id.eq(id))
            .filter(media::organization_id.eq(org)),
    )
    .set((
        media::status.eq(status),
        media::error.eq(error),
        media::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ids_are_stable_per_organization_and_file() {
        let a = media_id_for("org-a", "1234");
        assert_eq!(a, media_id_for("org-a", "1234"));
        assert_ne!(a, media_id_for("org-b", "1234"));
        assert_ne!(a, media_id_for("org-a", "12345"));
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
    }

    #[test]
    fn stored_paths_stay_inside_the_media_directory() {
        let root = Path::new("/srv/media");
        assert_eq!(
            file_path(root, "org/file"),
            Some(PathBuf::from("/srv/media/org/file"))
        );
        assert_eq!(file_path(root, "../etc/passwd"), None);
        assert_eq!(file_path(root, "/etc/passwd"), None);
        assert_eq!(
            file_path(root, "org/./file"),
            Some(PathBuf::from("/srv/media/org/file"))
        );
        assert_eq!(file_path(root, ""), None);
    }

    #[test]
    fn the_payload_reads_without_its_optional_fields() {
        let payload: DownloadPayload =
            serde_json::from_str(r#"{"mediaId":"m","channelId":"c","kind":"image"}"#).unwrap();
        assert!(!payload.animated);
        assert_eq!(payload.sha256, None);
    }
}
