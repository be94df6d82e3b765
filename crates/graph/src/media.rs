//! Media: upload, metadata, download and deletion (reference §8, "Media").
//!
//! A media id resolves to a download URL that expires after five minutes and must be fetched
//! with the same bearer token; ids from webhooks live seven days, uploads thirty.

use reqwest::multipart::{Form, Part};
use reqwest::{Response, Url};
use serde::{Deserialize, Deserializer, Serialize};

use crate::client::{ChannelAuth, GraphClient, read_json, read_success};
use crate::error::{ErrorClass, GraphError};

/// Meta's largest media (documents, 100 MB); anything longer is not a WhatsApp file.
const MAX_MEDIA_BYTES: usize = 100 * 1024 * 1024;

/// Statuses with which the short-lived download URL says it is no longer valid.
const EXPIRED_URL_STATUSES: [u16; 3] = [403, 404, 410];

/// What `GET /<MEDIA_ID>` tells about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub id: String,
    /// Valid for five minutes, and only with the bearer token.
    pub url: String,
    pub mime_type: String,
    /// Hex SHA-256 of the file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Bytes. Meta documents a string and has been recorded sending a number: both are read.
    #[serde(default, deserialize_with = "number_or_string")]
    pub file_size: Option<u64>,
}

impl GraphClient {
    /// Uploads a file for later sending by id; returns the media id.
    #[tracing::instrument(
        name = "graph.upload_media",
        skip_all,
        fields(phone_number_id = auth.phone_number_id, mime_type = mime_type, bytes = bytes.len())
    )]
    pub async fn upload_media(
        &self,
        auth: &ChannelAuth<'_>,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, GraphError> {
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        let file = Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str(mime_type)
            .map_err(|_| {
                GraphError::local(
                    ErrorClass::Message,
                    format!("media upload: '{mime_type}' is not a MIME type"),
                )
            })?;
        let form = Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_string())
            .part("file", file);
        let url = self.url(&[auth.phone_number_id, "media"])?;
        let request = self
            .http()
            .post(url)
            .multipart(form)
            .timeout(self.transfer_timeout());
        let response = self
            .call("media upload", auth.access_token, request)
            .await?;
        let uploaded: Uploaded = read_json("media upload", response).await?;
        Ok(uploaded.id)
    }

    /// The file's metadata and a fresh download URL.
    ///
    /// `phone_number_id` is not sent: Meta would then only answer for files *uploaded* by that
    /// number, and the files we look up are mostly ones customers sent us.
    #[tracing::instrument(
        name = "graph.media_info",
        skip_all,
        fields(phone_number_id = auth.phone_number_id, media_id = media_id)
    )]
    pub async fn media_info(
        &self,
        auth: &ChannelAuth<'_>,
        media_id: &str,
    ) -> Result<MediaInfo, GraphError> {
        let url = self.url(&[media_id])?;
        let response = self
            .call("media info", auth.access_token, self.http().get(url))
            .await?;
        read_json("media info", response).await
    }

    /// Downloads a file. If the URL has expired between lookup and download, the metadata is
    /// fetched once more and the download retried once.
    #[tracing::instrument(
        name = "graph.download_media",
        skip_all,
        fields(phone_number_id = auth.phone_number_id, media_id = media_id)
    )]
    pub async fn download_media(
        &self,
        auth: &ChannelAuth<'_>,
        media_id: &str,
    ) -> Result<(MediaInfo, Vec<u8>), GraphError> {
        let info = self.media_info(auth, media_id).await?;
        match self.fetch_media(auth, &info).await {
            Ok(bytes) => Ok((info, bytes)),
            Err(error) if is_expired_url(&error) => {
                tracing::debug!(
                    http_status = error.http_status,
                    "media URL no longer valid; fetching a fresh one"
                );
                let info = self.media_info(auth, media_id).await?;
                let bytes = self.fetch_media(auth, &info).await?;
                Ok((info, bytes))
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes an uploaded file. `phone_number_id` is sent so only this number's uploads can go.
    #[tracing::instrument(
        name = "graph.delete_media",
        skip_all,
        fields(phone_number_id = auth.phone_number_id, media_id = media_id)
    )]
    pub async fn delete_media(
        &self,
        auth: &ChannelAuth<'_>,
        media_id: &str,
    ) -> Result<(), GraphError> {
        let url = self.url(&[media_id])?;
        let request = self
            .http()
            .delete(url)
            .query(&[("phone_number_id", auth.phone_number_id)]);
        let response = self
            .call("media delete", auth.access_token, request)
            .await?;
        read_success("media delete", response).await
    }

    /// `GET <url>` with the bearer token ("If you omit your token, the request will fail").
    async fn fetch_media(
        &self,
        auth: &ChannelAuth<'_>,
        info: &MediaInfo,
    ) -> Result<Vec<u8>, GraphError> {
        let url = Url::parse(&info.url).map_err(|e| {
            GraphError::local(
                ErrorClass::Message,
                format!(
                    "media download: Meta's URL for media {} is not a URL: {e}",
                    info.id
                ),
            )
        })?;
        let request = self.http().get(url).timeout(self.transfer_timeout());
        let response = self
            .call("media download", auth.access_token, request)
            .await?;
        read_capped(response).await
    }
}

fn is_expired_url(error: &GraphError) -> bool {
    error
        .http_status
        .is_some_and(|status| EXPIRED_URL_STATUSES.contains(&status))
}

/// Reads the body in chunks, refusing to hold more than [`MAX_MEDIA_BYTES`] in memory.
async fn read_capped(mut response: Response) -> Result<Vec<u8>, GraphError> {
    let declared = response.content_length().unwrap_or(0);
    if declared > MAX_MEDIA_BYTES as u64 {
        return Err(too_large(declared));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_MEDIA_BYTES {
                    return Err(too_large((bytes.len() + chunk.len()) as u64));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(GraphError::transport("media download", e)),
        }
    }
}

fn too_large(bytes: u64) -> GraphError {
    GraphError::local(
        ErrorClass::Message,
        format!(
            "media download: the file has more than {bytes} bytes; WhatsApp files are at most {MAX_MEDIA_BYTES}"
        ),
    )
}

fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Size::Number(n)) => Ok(Some(n)),
        Some(Size::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_size_is_read_as_number_or_string() {
        let number: MediaInfo = serde_json::from_str(
            r#"{"id":"1","url":"https://x.test","mime_type":"image/png","file_size":182859}"#,
        )
        .unwrap();
        assert_eq!(number.file_size, Some(182859));
        let text: MediaInfo = serde_json::from_str(
            r#"{"id":"1","url":"https://x.test","mime_type":"image/png","file_size":"182859","sha256":"ab"}"#,
        )
        .unwrap();
        assert_eq!(text.file_size, Some(182859));
        assert_eq!(text.sha256.as_deref(), Some("ab"));
        let none: MediaInfo =
            serde_json::from_str(r#"{"id":"1","url":"https://x.test","mime_type":"image/png"}"#)
                .unwrap();
        assert_eq!(none.file_size, None);
    }
}
