//! `DOWNLOAD_MEDIA`: fetches a customer's file from Meta (a fresh URL, with the channel's
//! bearer token), checks it against Meta's limits for its kind and the SHA-256 the webhook
//! announced, and stores it under `<media dir>/<organization id>/<media id>` — never under a
//! name the sender chose.
//!
//! The file is written to a temporary name and renamed, so a reader never sees half a file and
//! a crash leaves no file the row points to. A job that runs again after its file was stored
//! changes nothing. What cannot succeed (too large, wrong type, a hash that does not match,
//! Meta refusing the id) marks the row FAILED at once; what may succeed later is retried, and
//! marks it FAILED when the last attempt is used up: the message shows it either way.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard_domain::media::{MediaKind, parse_sha256};
use switchboard_graph::{ChannelAuth, ErrorClass, MediaInfo};
use switchboard_store::StoreError;
use switchboard_store::models::{Channel, IntegrationJob, Media};
use switchboard_store::repo::channels;
use switchboard_store::repo::media::{self, DownloadPayload, StoredFile};

use super::Outbound;
use super::refusal::{self, organization_of, wait_if_paused};
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

pub struct DownloadMedia {
    outbound: Outbound,
}

/// Why one attempt did not store the file.
enum Failure {
    /// Worth trying again later (Meta busy, the network, a cut-short transfer, the disk);
    /// `after` when Meta said when.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again cannot help: the file is marked FAILED with this reason.
    Permanent(String),
    /// Meta refused the channel itself (token, permissions): it is paused, as for sends.
    Channel(String),
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Self {
        Failure::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

impl DownloadMedia {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn download(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let payload: DownloadPayload = serde_json::from_str(&job.payload).map_err(|e| {
            JobError::permanent(format!("the job's payload is not a media download: {e}"))
        })?;
        let org = organization_of(job)?;
        let (row, channel) = load(ctx, &org, &payload).await?;
        if row.status == media::DOWNLOADED
            && row
                .storage_path
                .as_deref()
                .and_then(|p| self.path_of(p))
                .is_some_and(|p| p.is_file())
        {
            return Ok(()); // Stored by an earlier run of this job.
        }
        let Some(channel) = channel else {
            let reason = format!(
                "the channel {} that received this file is gone",
                payload.channel_id
            );
            return Err(fail(ctx, &row, reason).await);
        };
        wait_if_paused(&channel)?;
        match self.fetch_and_store(&row, &channel, &payload).await {
            Ok(file) => {
                metrics::counter!("switchboard_media_downloads_total", "result" => "downloaded")
                    .increment(1);
                self.record(ctx, &row, file).await
            }
            Err(Failure::Permanent(reason)) => {
                metrics::counter!("switchboard_media_downloads_total", "result" => "failed")
                    .increment(1);
                Err(fail(ctx, &row, reason).await)
            }
            Err(Failure::Retry { reason, after }) => {
                if job.attempts >= job.max_attempts {
                    metrics::counter!("switchboard_media_downloads_total", "result" => "failed")
                        .increment(1);
                    let gave_up = format!("gave up after {} attempts: {reason}", job.attempts);
                    return Err(fail(ctx, &row, gave_up).await);
                }
                metrics::counter!("switchboard_media_downloads_total", "result" => "retry")
                    .increment(1);
                note(ctx, &row, &reason).await?;
                Err(JobError::Retry {
                    message: reason,
                    after,
                })
            }
            Err(Failure::Channel(reason)) => {
                note(ctx, &row, &format!("the channel is paused: {reason}")).await?;
                Err(refusal::pause(ctx, &channel, reason).await)
            }
        }
    }

    /// One attempt: Meta's file, checked, on disk. Writes nothing to the database.
    async fn fetch_and_store(
        &self,
        row: &Media,
        channel: &Channel,
        payload: &DownloadPayload,
    ) -> Result<StoredFile, Failure> {
        let Some(external_id) = row.external_media_id.as_deref() else {
            return Err(Failure::Permanent(
                "the message names no Meta media id".into(),
            ));
        };
        let Some(kind) = MediaKind::from_message_type(&payload.kind, payload.animated) else {
            return Err(Failure::Permanent(format!(
                "a {} message carries no file to download",
                payload.kind
            )));
        };
        let storage_path = storage_path(&row.organization_id, &row.id).ok_or_else(|| {
            Failure::Permanent("the media row's ids cannot name a file".to_string())
        })?;
        let token = channel
            .open_secrets(&self.outbound.secrets)
            .map_err(|e| Failure::retry(format!("cannot open the channel's access token: {e}")))?
            .access_token;
        let auth = ChannelAuth {
            phone_number_id: &channel.phone_number_id,
            access_token: &token,
        };
        let (info, bytes) = self
            .outbound
            .graph
            .download_media(&auth, external_id)
            .await
            .map_err(|error| {
                let reason = format!("Meta did not hand over the file: {}", error.reason());
                match error.class {
                    ErrorClass::RetryLater => Failure::Retry {
                        reason,
                        after: error.retry_after,
                    },
                    ErrorClass::Message => Failure::Permanent(reason),
                    ErrorClass::Channel => Failure::Channel(error.reason()),
                }
            })?;
        let mime_type = Some(info.mime_type.trim())
            .filter(|m| !m.is_empty())
            .or(row.mime_type.as_deref())
            .unwrap_or("application/octet-stream")
            .to_string();
        let digest = check(kind, &mime_type, &info, payload.sha256.as_deref(), &bytes)?;
        let size_bytes = i64::try_from(bytes.len())
            .map_err(|_| Failure::Permanent("the file is too large to record".into()))?;
        let target = self
            .path_of(&storage_path)
            .ok_or_else(|| Failure::Permanent("the media row's ids cannot name a file".into()))?;
        let written = tokio::task::spawn_blocking(move || write_atomically(&target, &bytes))
            .await
            .map_err(|e| Failure::retry(format!("writing the file was interrupted: {e}")))?;
        written.map_err(|e| {
            Failure::retry(format!(
                "cannot store the file in {}: {e}",
                self.outbound.media_dir.display()
            ))
        })?;
        Ok(StoredFile {
            mime_type,
            size_bytes,
            sha256: digest,
            storage_path,
        })
    }

    /// Where a stored file lives; `None` for a path that would leave the media directory.
    fn path_of(&self, storage_path: &str) -> Option<PathBuf> {
        media::file_path(&self.outbound.media_dir, storage_path)
    }

    async fn record(
        &self,
        ctx: &JobContext,
        row: &Media,
        file: StoredFile,
    ) -> Result<(), JobError> {
        let (org, id, path) = (
            row.organization_id.clone(),
            row.id.clone(),
            file.storage_path.clone(),
        );
        let recorded = ctx
            .db
            .run_write(move |c| media::mark_downloaded(c, &org, &id, &file))
            .await?;
        if !recorded {
            // The row went away meanwhile (its organization was deleted): so does the file.
            if let Some(orphan) = self.path_of(&path) {
                let _ = std::fs::remove_file(orphan);
            }
        }
        Ok(())
    }
}

/// The media row and the channel of its download (`None` when the channel was removed).
async fn load(
    ctx: &JobContext,
    org: &str,
    payload: &DownloadPayload,
) -> Result<(Media, Option<Channel>), JobError> {
    let (org, media_id, channel_id) = (
        org.to_string(),
        payload.media_id.clone(),
        payload.channel_id.clone(),
    );
    Ok(ctx
        .db
        .run(move |c| {
            let row = media::find_media(c, &org, &media_id)?.ok_or_else(|| {
                StoreError::Invalid(format!("media {media_id} does not exist (any more)"))
            })?;
            Ok((row, channels::find_channel(c, &org, &channel_id)?))
        })
        .await?)
}

/// Checks a download against what Meta said of it and what its kind allows; returns its hex
/// SHA-256.
///
/// A transfer shorter than Meta's `file_size`, or whose bytes do not match the SHA-256 the
/// media endpoint just gave, went wrong on the way: retried. A file too large or of a type its
/// kind may not have, or that is not the one the webhook announced, will not get better.
fn check(
    kind: MediaKind,
    mime_type: &str,
    info: &MediaInfo,
    announced: Option<&str>,
    bytes: &[u8],
) -> Result<String, Failure> {
    let size = bytes.len() as u64;
    let refuse =
        |problem: switchboard_domain::media::MediaProblem| Failure::Permanent(problem.to_string());
    if let Some(expected) = info.file_size {
        // Meta's own size decides a file too large, even if the transfer stopped short of it.
        kind.check(mime_type, expected).map_err(refuse)?;
        if expected != size {
            return Err(Failure::retry(format!(
                "the download was cut short: {size} of {expected} bytes"
            )));
        }
    }
    kind.check(mime_type, size).map_err(refuse)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let actual = digest.as_ref();
    if let Some(expected) = info.sha256.as_deref().and_then(parse_sha256)
        && expected != actual
    {
        return Err(Failure::retry(
            "the download does not match the SHA-256 Meta's media endpoint gave for it",
        ));
    }
    if let Some(text) = announced {
        match parse_sha256(text) {
            Some(expected) if expected != actual => {
                return Err(Failure::Permanent(format!(
                    "the file's SHA-256 ({}) is not the one the webhook announced ({})",
                    hex(actual),
                    hex(&expected)
                )));
            }
            Some(_) => {}
            None => tracing::warn!(
                announced = text,
                "the webhook's SHA-256 of a file is not readable; the file is kept unchecked"
            ),
        }
    }
    Ok(hex(actual))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `<organization id>/<media id>`, relative to the media directory; `None` unless both ids are
/// plain names (they are ours — UUIDs — but a path is only built from what is known safe).
fn storage_path(org: &str, media_id: &str) -> Option<String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (plain(org) && plain(media_id)).then(|| format!("{org}/{media_id}"))
}

/// Writes `bytes` to `target` through a temporary file in the same directory, flushed to disk
/// before it is renamed over `target`: readers see the whole file or none.
fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("the file has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.part", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, target)?;
        // The rename itself is durable once the directory is flushed too.
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Marks the file FAILED with `reason` and ends the job for good.
async fn fail(ctx: &JobContext, row: &Media, reason: String) -> JobError {
    let (org, id, why) = (row.organization_id.clone(), row.id.clone(), reason.clone());
    match ctx
        .db
        .run_write(move |c| media::mark_failed(c, &org, &id, &why))
        .await
    {
        Ok(_) => JobError::Permanent(reason),
        Err(e) => JobError::from(e),
    }
}

/// Records on the still-PENDING file what went wrong with this attempt.
async fn note(ctx: &JobContext, row: &Media, reason: &str) -> Result<(), JobError> {
    let (org, id, why) = (
        row.organization_id.clone(),
        row.id.clone(),
        reason.to_string(),
    );
    ctx.db
        .run_write(move |c| media::mark_retrying(c, &org, &id, &why))
        .await?;
    Ok(())
}

impl JobHandler for DownloadMedia {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.download(ctx, job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(file_size: Option<u64>, sha256: Option<&str>) -> MediaInfo {
        MediaInfo {
            id: "1".into(),
            url: "https://x.test".into(),
            mime_type: "image/jpeg".into(),
            sha256: sha256.map(str::to_string),
            file_size,
        }
    }

    const ABC_HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_BASE64: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    #[test]
    fn a_good_file_passes_with_its_hex_digest() {
        let digest = check(
            MediaKind::Image,
            "image/jpeg",
            &info(Some(3), Some(ABC_HEX)),
            Some(ABC_BASE64),
            b"abc",
        );
        assert_eq!(digest.ok().as_deref(), Some(ABC_HEX));
    }

    #[test]
    fn a_webhook_hash_that_differs_is_permanent_and_a_transfer_problem_is_not() {
        let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let mismatch = check(
            MediaKind::Image,
            "image/jpeg",
            &info(None, None),
            Some(other),
            b"abc",
        );
        assert!(matches!(&mismatch, Err(Failure::Permanent(r)) if r.contains("webhook announced")),);
        let cut = check(
            MediaKind::Image,
            "image/jpeg",
            &info(Some(4), None),
            None,
            b"abc",
        );
        assert!(matches!(cut, Err(Failure::Retry { .. })));
        let corrupted = check(
            MediaKind::Image,
            "image/jpeg",
            &info(None, Some(&"0".repeat(64))),
            None,
            b"abc",
        );
        assert!(matches!(corrupted, Err(Failure::Retry { .. })));
        // Meta's placeholder hashes are not a reason to refuse a file.
        let placeholder = check(
            MediaKind::Image,
            "image/jpeg",
            &info(None, None),
            Some("4654+8g="),
            b"abc",
        );
        assert!(placeholder.is_ok());
    }

    #[test]
    fn limits_and_types_are_permanent() {
        let html = check(
            MediaKind::Image,
            "text/html",
            &info(None, None),
            None,
            b"<p>",
        );
        assert!(matches!(html, Err(Failure::Permanent(r)) if r.contains("text/html")));
        let big = vec![0u8; 100 * 1024 + 1];
        let sticker = check(
            MediaKind::Sticker { animated: false },
            "image/webp",
            &info(Some(big.len() as u64), None),
            None,
            &big,
        );
        assert!(matches!(sticker, Err(Failure::Permanent(r)) if r.contains("at most 102400")));
    }

    #[test]
    fn storage_paths_are_built_from_plain_ids_only() {
        assert_eq!(storage_path("org-1", "m_2").as_deref(), Some("org-1/m_2"));
        assert_eq!(storage_path("..", "m"), None);
        assert_eq!(storage_path("org", "a/b"), None);
        assert_eq!(storage_path("", "m"), None);
    }

    #[test]
    fn an_atomic_write_leaves_only_the_file() {
        let dir = std::env::temp_dir().join(format!("sb-media-unit-{}", uuid::Uuid::new_v4()));
        let target = dir.join("org").join("file");
        write_atomically(&target, b"first").unwrap();
        write_atomically(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.join("org")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
