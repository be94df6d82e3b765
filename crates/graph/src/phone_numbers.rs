//! Reading a business phone number (`GET /<PHONE_NUMBER_ID>`): the connection check asks it,
//! because the answer proves at once that the token works and that it reaches this number.

use serde::Deserialize;

use crate::client::{ChannelAuth, GraphClient, read_json};
use crate::error::GraphError;

/// The fields asked for: every one is a field of Meta's phone number node, so asking cannot
/// fail with "nonexisting field".
const FIELDS: &str = "display_phone_number,verified_name,quality_rating,code_verification_status";

/// A business phone number as Meta describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PhoneNumberInfo {
    /// The phone number id (the one asked for).
    pub id: String,
    /// As Meta formats it, e.g. `+1 555-000-1111`.
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The business name customers see, once Meta approved it.
    #[serde(default)]
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// `VERIFIED`, `NOT_VERIFIED`, `EXPIRED`…
    #[serde(default)]
    pub code_verification_status: Option<String>,
}

impl GraphClient {
    /// Reads the channel's phone number with its own token. An invalid or expired token is
    /// Meta's 190 ([`crate::ErrorClass::Channel`]), a number the token cannot see is 100.
    #[tracing::instrument(
        name = "graph.phone_number",
        skip_all,
        fields(phone_number_id = auth.phone_number_id)
    )]
    pub async fn phone_number(
        &self,
        auth: &ChannelAuth<'_>,
    ) -> Result<PhoneNumberInfo, GraphError> {
        let url = self.url(&[auth.phone_number_id])?;
        let request = self.http().get(url).query(&[("fields", FIELDS)]);
        let response = self
            .call("read phone number", auth.access_token, request)
            .await?;
        read_json("read phone number", response).await
    }
}
