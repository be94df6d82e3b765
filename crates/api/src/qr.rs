//! `GET /api/whatsapp/qr`: a QR code of the channel's click-to-chat link
//! (`https://wa.me/<number>?text=<prefilled>`), for posters, receipts and web pages.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use switchboard_store::StoreError;
use switchboard_store::models::Channel;
use utoipa::IntoParams;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::send;

/// Longest prefilled text accepted; a longer link would not fit a QR code readable from paper.
pub const MAX_TEXT_CHARS: usize = 500;
/// Pixels per module of the PNG: 8 keeps a version-10 code under 500 px and easy to scan.
pub const PNG_MODULE_PIXELS: u32 = 8;
/// Light modules around the code, as the QR standard asks.
pub const QUIET_ZONE_MODULES: u32 = 4;
/// The smallest side of the SVG, in its own units (it scales without loss anyway).
const SVG_MIN_SIDE: u32 = 256;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// Text the customer's WhatsApp opens with, ready to send (up to 500 characters).
    #[param(max_length = 500)]
    pub text: Option<String>,
    /// png (default) or svg
    #[param(pattern = "^(png|svg)$")]
    pub format: Option<String>,
    /// The channel whose number the link opens (default: the organization's first active one).
    pub channel_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

/// A PNG (default) or SVG QR code of `https://wa.me/<channel number>?text=<text>`.
#[utoipa::path(get, path = "/api/whatsapp/qr", tag = "sending",
    params(QrQuery),
    responses(
        (status = 200, description = "The QR code", content(
            (crate::media::FileBytes = "image/png"),
            (String = "image/svg+xml"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "NO_CHANNEL or NO_PHONE_NUMBER")),
    security(("bearer" = [])))]
pub async fn qr(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<QrQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let format = format_of(query.format.as_deref())?;
    let text = query.text.unwrap_or_default();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Validation(format!(
            "text is too long for a QR code people can scan: keep it to {MAX_TEXT_CHARS} characters"
        )));
    }
    let channel = channel_of(&api, &caller, query.channel_id).await?;
    let link = click_to_chat_link(&number_of(&channel)?, &text);
    let code = QrCode::new(link.as_bytes()).map_err(|e| {
        ApiError::Validation(format!(
            "the link does not fit in a QR code ({e}): shorten text"
        ))
    })?;
    let (content_type, body) = match format {
        Format::Png => ("image/png", png(&code)?),
        Format::Svg => ("image/svg+xml", svg(&code).into_bytes()),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body))
}

fn format_of(raw: Option<&str>) -> Result<Format, ApiError> {
    match raw.map(|f| f.trim().to_ascii_lowercase()).as_deref() {
        None | Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        Some(other) => Err(ApiError::Validation(format!(
            "format '{other}' is not offered: use png or svg"
        ))),
    }
}

async fn channel_of(
    api: &Api,
    caller: &Caller,
    channel_id: Option<String>,
) -> Result<Channel, ApiError> {
    let org = caller.organization_id.clone();
    api.db
        .run(move |c| send::pick_channel(c, &org, channel_id.as_deref()))
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::NotFound("channel not found".into()),
            other => other.into(),
        })?
        .ok_or_else(send::no_channel)
}

/// The channel's number as digits, as wa.me wants it (no `+`, no spaces).
fn number_of(channel: &Channel) -> Result<String, ApiError> {
    let digits: String = channel
        .display_phone_number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return Err(ApiError::Rule {
            code: "NO_PHONE_NUMBER",
            message: format!(
                "channel '{}' has no display phone number, so there is no wa.me link to draw: add the number with `switchboard channel add --display-phone-number`",
                channel.name
            ),
        });
    }
    Ok(digits)
}

/// `https://wa.me/<digits>`, with `?text=` percent-encoded when there is a text.
pub fn click_to_chat_link(digits: &str, text: &str) -> String {
    if text.is_empty() {
        return format!("https://wa.me/{digits}");
    }
    format!("https://wa.me/{digits}?text={}", percent_encode(text))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn svg(code: &QrCode) -> String {
    code.render::<svg::Color>()
        .min_dimensions(SVG_MIN_SIDE, SVG_MIN_SIDE)
        .build()
}

/// Side of the PNG in pixels for a code `modules` wide.
pub fn png_side(modules: usize) -> u32 {
    (u32::try_from(modules).unwrap_or(u32::MAX) + 2 * QUIET_ZONE_MODULES)
        .saturating_mul(PNG_MODULE_PIXELS)
}

/// An 8-bit grayscale PNG: black modules on white, with the quiet zone.
fn png(code: &QrCode) -> Result<Vec<u8>, ApiError> {
    let modules = code.width();
    let side = png_side(modules);
    let colors = code.to_colors();
    let dark = |x: u32, y: u32| -> bool {
        let module = |p: u32| (p / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        match (module(x), module(y)) {
            (Some(mx), Some(my)) if (mx as usize) < modules && (my as usize) < modules => colors
                .get(my as usize * modules + mx as usize)
                .is_some_and(|c| *c == qrcode::Color::Dark),
            _ => false,
        }
    };
    let pixels: Vec<u8> = (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| if dark(x, y) { 0 } else { 255 })
        .collect();
    encode_png(side, &pixels).map_err(|e| {
        tracing::error!(error = %e, "could not encode a QR code as PNG");
        ApiError::Internal
    })
}

fn encode_png(side: u32, pixels: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_text_percent_encoded() {
        assert_eq!(
            click_to_chat_link("15550001111", ""),
            "https://wa.me/15550001111"
        );
        assert_eq!(
            click_to_chat_link("573103055424", "Hola, quiero info & precios?"),
            "https://wa.me/573103055424?text=Hola%2C%20quiero%20info%20%26%20precios%3F"
        );
        assert_eq!(
            click_to_chat_link("1", "café #2"),
            "https://wa.me/1?text=caf%C3%A9%20%232"
        );
    }

    #[test]
    fn formats_are_png_by_default_or_svg() {
        assert_eq!(format_of(None).unwrap(), Format::Png);
        assert_eq!(format_of(Some("SVG")).unwrap(), Format::Svg);
        assert_eq!(
            format_of(Some("gif")).unwrap_err().code(),
            "VALIDATION_ERROR"
        );
    }
}
