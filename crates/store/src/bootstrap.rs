//! The single-tenant setup the seed systems used: `WHATSAPP_*` variables describe one number,
//! which start-up turns into an organization `default` with its pipeline and channel.

use crate::crypto::SecretBox;
use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Channel, Organization};
use crate::repo::{channels, organizations};

pub const DEFAULT_ORG_SLUG: &str = "default";

/// Creates or refreshes the default organization and its channel. Safe to run at every start,
/// from several processes at once.
pub fn ensure_default_tenant(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    mut channel: channels::ChannelInput,
) -> Result<(Organization, Channel), StoreError> {
    let org = organizations::ensure_organization(conn, "Default", DEFAULT_ORG_SLUG)?;
    channel.organization_id = org.id.clone();
    let channel = channels::upsert_channel(conn, secrets, &channel)?;
    Ok((org, channel))
}
