//! Media: upload (`POST /{version}/{phone_number_id}/media`, multipart), metadata with a
//! short-lived download URL (`GET /{version}/{media_id}`), the download itself (bearer token
//! required, 404 once the URL expired) and `DELETE /{version}/{media_id}`. Kept in memory.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::errors;
use crate::graph::{prelude, refuse_token};
use crate::ids;
use crate::multipart;
use crate::server::State;
use crate::wire::json_response;

/// The download route; metadata URLs point here.
pub(crate) const DOWNLOAD_PATH: &str = "/sandbox/lookaside/whatsapp_business/attachments/";

/// Types Meta accepts for upload (reference §8).
const SUPPORTED: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "text/plain",
    "application/pdf",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "image/jpeg",
    "image/png",
    "image/webp",
    "video/mp4",
    "video/3gpp",
];

/// The MIME type of a file by its extension, for the types WhatsApp carries.
pub fn mime_from_extension(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "3gp" | "3gpp" => "video/3gpp",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        "txt" => "text/plain",
        "pdf" => "application/pdf",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

struct MediaItem {
    data: web::Bytes,
    mime_type: String,
    sha256: String,
}

struct DownloadUrl {
    media_id: String,
    expires: Instant,
}

/// The uploaded files and the download URLs handed out for them.
#[derive(Default)]
pub(crate) struct MediaStore {
    items: HashMap<String, MediaItem>,
    urls: HashMap<String, DownloadUrl>,
}

impl MediaStore {
    pub(crate) fn insert(&mut self, data: web::Bytes, mime_type: &str) -> String {
        let id = ids::numeric_id();
        let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &data));
        self.items.insert(
            id.clone(),
            MediaItem {
                data,
                mime_type: mime_type.to_string(),
                sha256,
            },
        );
        id
    }

    /// A new download token for `media_id`, valid for `ttl`.
    fn issue_url(&mut self, media_id: &str, ttl: Duration) -> String {
        let now = Instant::now();
        self.urls.retain(|_, url| url.expires > now);
        let bytes: Vec<u8> = (0..24).map(|_| fastrand::u8(..)).collect();
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.urls.insert(
            token.clone(),
            DownloadUrl {
                media_id: media_id.to_string(),
                expires: now + ttl,
            },
        );
        token
    }

    fn remove(&mut self, media_id: &str) -> bool {
        self.urls.retain(|_, url| url.media_id != media_id);
        self.items.remove(media_id).is_some()
    }
}

/// `POST /{version}/{phone_number_id}/media`.
pub(crate) async fn upload(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (version, _phone_number_id) = path.into_inner();
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return response;
    }
    let how = "Send multipart/form-data with the fields messaging_product=whatsapp and file (the file with its Content-Type).";
    let Some(boundary) = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
    else {
        return errors::invalid_parameter(
            "(#100) Invalid parameter",
            &format!("The request is not multipart/form-data. {how}"),
        );
    };
    let parts = match multipart::parse(&body, &boundary) {
        Ok(parts) => parts,
        Err(problem) => {
            return errors::invalid_parameter(
                "(#100) Invalid parameter",
                &format!("The multipart body cannot be read: {problem}. {how}"),
            );
        }
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    match field("messaging_product").map(|p| p.data.as_slice()) {
        Some(b"whatsapp") => {}
        Some(_) => {
            return errors::invalid_parameter(
                "(#100) Invalid parameter",
                "messaging_product must be \"whatsapp\".",
            );
        }
        None => return errors::missing_parameter("messaging_product", how),
    }
    let Some(file) = field("file") else {
        return errors::missing_parameter("file", how);
    };
    let declared = field("type")
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
        .or_else(|| file.content_type.clone())
        .filter(|t| !t.is_empty() && t != "application/octet-stream");
    let guessed = || {
        file.filename
            .as_deref()
            .and_then(|name| mime_from_extension(Path::new(name)))
            .map(str::to_string)
    };
    let Some(mime_type) = declared.or_else(guessed) else {
        return errors::invalid_parameter(
            "(#100) Invalid parameter",
            "The file's type is unknown: give the file part a Content-Type (or add a type field).",
        );
    };
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !SUPPORTED.contains(&essence.as_str()) {
        return errors::invalid_parameter(
            &format!(
                "(#100) Param file must be a file with one of the following types: {}. Received file of type '{mime_type}'.",
                SUPPORTED.join(", ")
            ),
            &format!("{mime_type} cannot be sent on WhatsApp."),
        );
    }
    let data = web::Bytes::copy_from_slice(&file.data);
    let id = state.media().insert(data, &mime_type);
    json_response(StatusCode::OK, &json!({ "id": id }))
}

async fn metadata_of(state: &State, req: &HttpRequest, media_id: &str) -> HttpResponse {
    // The same path reads the sandbox's phone number (the connection check asks it).
    if let Some(answer) = crate::graph::phone_number(state, req, media_id) {
        return answer;
    }
    let mut store = state.media();
    let Some(item) = store.items.get(media_id) else {
        return errors::unknown_object("get", media_id);
    };
    let (mime_type, sha256, size) = (item.mime_type.clone(), item.sha256.clone(), item.data.len());
    let ttl = state.config.media_url_ttl;
    let token = store.issue_url(media_id, ttl);
    drop(store);
    let info = req.connection_info();
    let expires = chrono::Utc::now().timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(0);
    let url = format!(
        "{}://{}{DOWNLOAD_PATH}?mid={media_id}&ext={expires}&hash={token}",
        info.scheme(),
        info.host()
    );
    json_response(
        StatusCode::OK,
        &json!({
            "url": url,
            "mime_type": mime_type,
            "sha256": sha256,
            "file_size": size,
            "id": media_id,
            "messaging_product": "whatsapp",
        }),
    )
}

/// `GET /{version}/{media_id}`.
pub(crate) async fn metadata(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, media_id) = path.into_inner();
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return response;
    }
    metadata_of(&state, &req, &media_id).await
}

/// `GET /{media_id}` (Graph answers without a version too; it uses the app's default).
pub(crate) async fn metadata_unversioned(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    if let Some(response) = prelude(&state, &req, None).await {
        return response;
    }
    metadata_of(&state, &req, &path.into_inner()).await
}

fn delete_of(state: &State, media_id: &str) -> HttpResponse {
    if state.media().remove(media_id) {
        json_response(StatusCode::OK, &json!({ "success": true }))
    } else {
        errors::unknown_object("delete", media_id)
    }
}

/// `DELETE /{version}/{media_id}`.
pub(crate) async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, media_id) = path.into_inner();
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return response;
    }
    delete_of(&state, &media_id)
}

/// `DELETE /{media_id}`.
pub(crate) async fn delete_unversioned(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    if let Some(response) = prelude(&state, &req, None).await {
        return response;
    }
    delete_of(&state, &path.into_inner())
}

#[derive(serde::Deserialize)]
pub(crate) struct DownloadQuery {
    mid: Option<String>,
    hash: Option<String>,
}

/// The download URL of a metadata answer: the file, with the bearer token, before it expires.
pub(crate) async fn download(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<DownloadQuery>,
) -> HttpResponse {
    if let Some(response) = refuse_token(&state, &req) {
        return response;
    }
    let not_found = |why: &'static str| {
        HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(why)
    };
    let (Some(mid), Some(hash)) = (&query.mid, &query.hash) else {
        return not_found("Not Found");
    };
    let store = state.media();
    let Some(url) = store.urls.get(hash).filter(|url| url.media_id == *mid) else {
        return not_found("URL signature mismatch");
    };
    if url.expires <= Instant::now() {
        return not_found("URL signature expired");
    }
    let Some(item) = store.items.get(mid) else {
        return not_found("Not Found");
    };
    HttpResponse::Ok()
        .content_type(item.mime_type.clone())
        .body(item.data.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(
            mime_from_extension(Path::new("a/cat.JPG")),
            Some("image/jpeg")
        );
        assert_eq!(
            mime_from_extension(Path::new("note.ogg")),
            Some("audio/ogg")
        );
        assert_eq!(mime_from_extension(Path::new("x.exe")), None);
        assert_eq!(mime_from_extension(Path::new("noext")), None);
    }

    #[test]
    fn urls_expire_and_die_with_the_media() {
        let mut store = MediaStore::default();
        let id = store.insert(web::Bytes::from_static(b"png"), "image/png");
        assert_eq!(store.items[&id].sha256.len(), 64);
        let token = store.issue_url(&id, Duration::from_secs(60));
        assert!(store.urls.contains_key(&token));
        assert!(store.remove(&id));
        assert!(!store.urls.contains_key(&token));
        assert!(!store.remove(&id));
    }
}
