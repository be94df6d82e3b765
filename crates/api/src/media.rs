//! Customers' files, as the DOWNLOAD_MEDIA job stored them: served to any user of the file's
//! organization, streamed from the media directory.
//!
//! What the sender chose (a file name, a type) never decides how a browser treats the file:
//! only plain images are shown inline, everything else is an attachment under a cleaned name,
//! and `nosniff` keeps the browser from guessing a type that could run script.

use std::future::Future as _;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    HeaderValue,
};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use switchboard_domain::media::{extension_for, is_inline_image, safe_file_name};
use switchboard_store::models::Media;
use switchboard_store::repo::media as files;
use tokio::task::JoinHandle;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// How much of a file is read at a time while it is sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// A file's bytes (only the OpenAPI document names this type).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(pub Vec<u8>);

/// A customer's file (an image, document, audio, video or sticker they sent).
///
/// Images are shown inline; anything else comes as an attachment. Until the download job has
/// stored the file the answer is 409 `MEDIA_NOT_READY`; a file that could not be downloaded
/// answers 409 `MEDIA_FAILED` with the reason (the message shows it too).
#[utoipa::path(get, path = "/api/media/{id}", tag = "inbox",
    params(("id" = String, Path, description = "The file's id: `media.download.id` of a message")),
    responses(
        (status = 200, description = "The file, with its Content-Type", content_type = "application/octet-stream", body = FileBytes),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "MEDIA_NOT_READY (still downloading) or MEDIA_FAILED (it could not be)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_media(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let id = id.into_inner();
    let row = api
        .db
        .run(move |c| files::find_media(c, &org, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("media not found".into()))?;
    ready(&row)?;
    let path = row
        .storage_path
        .as_deref()
        .and_then(|p| files::file_path(&api.settings.media_dir, p))
        .ok_or_else(|| missing(&row))?;
    let opened = web::block(move || {
        let file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        Ok::<_, std::io::Error>((file, len))
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    let (file, len) = match opened {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(&row)),
        Err(e) => {
            tracing::error!(media = %row.id, error = %e, "cannot read a stored file");
            return Err(ApiError::Internal);
        }
    };
    let mime_type = row
        .mime_type
        .as_deref()
        .filter(|m| m.contains('/'))
        .and_then(|m| HeaderValue::from_str(m).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime_type))
        .insert_header(disposition(&row))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Opened directly, the file can run nothing, whatever it is.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(FileBody::new(file, len)))
}

/// Refuses a file that is not stored (yet), saying which state it is in.
fn ready(row: &Media) -> Result<(), ApiError> {
    match row.status.as_str() {
        files::DOWNLOADED => Ok(()),
        files::FAILED => Err(ApiError::NotReady {
            code: "MEDIA_FAILED",
            message: format!(
                "the file could not be downloaded from WhatsApp: {}",
                row.error.as_deref().unwrap_or("no reason was recorded")
            ),
        }),
        _ => Err(ApiError::NotReady {
            code: "MEDIA_NOT_READY",
            message: match row.error.as_deref() {
                Some(error) => format!(
                    "the file is still being downloaded from WhatsApp (the last attempt failed: {error}); try again later"
                ),
                None => {
                    "the file is still being downloaded from WhatsApp; try again in a moment".into()
                }
            },
        }),
    }
}

/// A file recorded as downloaded that is not in this process's media directory (deleted, or
/// a `serve` process that does not share the runner's `SWITCHBOARD_MEDIA_DIR`).
fn missing(row: &Media) -> ApiError {
    tracing::error!(media = %row.id, path = ?row.storage_path,
        "a downloaded file is missing from the media directory (SWITCHBOARD_MEDIA_DIR)");
    ApiError::NotFound("the file is missing from the media directory".into())
}

/// `inline` for images, `attachment` for everything else, with a file name that is safe: the
/// sender's (cleaned) or one made of our id, in ASCII with the UTF-8 original beside it.
fn disposition(row: &Media) -> ContentDisposition {
    let mime_type = row.mime_type.as_deref().unwrap_or_default();
    let name = row
        .file_name
        .as_deref()
        .and_then(safe_file_name)
        .unwrap_or_else(|| {
            let short: String = row.id.chars().filter(|c| *c != '-').take(12).collect();
            match extension_for(mime_type) {
                Some(ext) => format!("whatsapp-{short}.{ext}"),
                None => format!("whatsapp-{short}"),
            }
        });
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.into_bytes(),
        }));
    }
    ContentDisposition {
        disposition: if is_inline_image(mime_type) {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters,
    }
}

/// A file sent in chunks read off the async threads, with its length as `Content-Length`.
struct FileBody {
    file: Option<std::fs::File>,
    len: u64,
    remaining: u64,
    reading: Option<JoinHandle<(std::fs::File, std::io::Result<Vec<u8>>)>>,
}

impl FileBody {
    fn new(file: std::fs::File, len: u64) -> Self {
        Self {
            file: Some(file),
            len,
            remaining: len,
            reading: None,
        }
    }
}

impl MessageBody for FileBody {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.len)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some(reading) = this.reading.as_mut() {
            let (file, read) = match Pin::new(reading).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(done)) => done,
                Poll::Ready(Err(e)) => {
                    this.reading = None;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
            };
            this.reading = None;
            return Poll::Ready(Some(match read {
                // Shorter than it was when opened: the length sent would be a lie.
                Ok(chunk) if chunk.is_empty() => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                )),
                Ok(chunk) => {
                    this.remaining = this.remaining.saturating_sub(chunk.len() as u64);
                    this.file = Some(file);
                    Ok(Bytes::from(chunk))
                }
                Err(e) => Err(e),
            }));
        }
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let Some(mut file) = this.file.take() else {
            return Poll::Ready(None);
        };
        let want = usize::try_from(this.remaining)
            .unwrap_or(CHUNK_BYTES)
            .min(CHUNK_BYTES);
        this.reading = Some(tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0u8; want];
            let read = file.read(&mut chunk).map(|n| {
                chunk.truncate(n);
                chunk
            });
            (file, read)
        }));
        // Poll the read just started, so its waker is registered.
        Pin::new(this).poll_next(cx)
    }
}
