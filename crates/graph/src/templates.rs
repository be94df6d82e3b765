//! A WhatsApp Business Account's message templates (reference §11): listing them, and
//! submitting a new one for review.

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{GraphClient, read_json};
use crate::error::{ErrorClass, GraphError};

/// The fields we ask for. The default set lacks quality and rejection reason; every name here
/// is a field of Meta's template node, so asking cannot fail with "nonexisting field".
const FIELDS: &str = "id,name,language,status,category,previous_category,parameter_format,components,quality_score,rejected_reason";

/// Meta's largest page for this edge.
const PAGE_SIZE: &str = "100";

/// A verified WABA holds at most 6,000 templates: 60 pages. More means the paging loops.
const MAX_PAGES: usize = 100;

/// A template as Meta holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteTemplate {
    pub id: String,
    pub name: String,
    /// `en_US`, `pt_BR`… (names repeat across languages).
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…; only `APPROVED` can be sent.
    pub status: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: Option<String>,
    /// The category before Meta re-categorised the template, if it did.
    pub previous_category: Option<String>,
    /// `POSITIONAL` (`{{1}}`) or `NAMED` (`{{first_name}}`).
    pub parameter_format: Option<String>,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN` (Meta's `quality_score.score`).
    pub quality: Option<String>,
    /// Why Meta rejected it; Meta's `NONE` is read as no reason.
    pub rejected_reason: Option<String>,
    /// HEADER, BODY, FOOTER and BUTTONS exactly as Meta sent them.
    pub components: serde_json::Value,
}

/// A template to submit for review (`POST /<WABA_ID>/message_templates`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemplateSubmission<'a> {
    /// Lower-case letters, digits and `_`, at most 512 characters.
    pub name: &'a str,
    /// `en_US`, `pt_BR`…
    pub language: &'a str,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION` (sent upper-case).
    pub category: &'a str,
    /// `POSITIONAL` or `NAMED`, any case (sent lower-case, as Meta's examples have it).
    pub parameter_format: &'a str,
    /// Meta's component objects (HEADER, BODY, FOOTER, BUTTONS), sent as they are.
    pub components: &'a serde_json::Value,
}

impl TemplateSubmission<'_> {
    /// The JSON body Meta expects.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "language": self.language,
            "category": self.category.trim().to_ascii_uppercase(),
            "parameter_format": self.parameter_format.trim().to_ascii_lowercase(),
            "components": self.components,
        })
    }
}

/// Meta took a submitted template: its id, and where its review stands (usually `PENDING`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedTemplate {
    pub id: String,
    #[serde(default = "pending")]
    pub status: String,
    /// The category Meta gave it, which may differ from the one asked for.
    #[serde(default)]
    pub category: Option<String>,
}

fn pending() -> String {
    "PENDING".to_string()
}

impl GraphClient {
    /// Submits a template for review. A refusal (bad name, duplicate name and language, a
    /// component Meta does not accept) is an [`ErrorClass::Message`] error whose
    /// [`GraphError::details`] carry Meta's explanation for people (`error_user_msg`).
    #[tracing::instrument(
        name = "graph.create_template",
        skip_all,
        fields(waba_id = waba_id, name = template.name, language = template.language)
    )]
    pub async fn create_template(
        &self,
        access_token: &str,
        waba_id: &str,
        template: &TemplateSubmission<'_>,
    ) -> Result<CreatedTemplate, GraphError> {
        let url = self.url(&[waba_id, "message_templates"])?;
        let request = self.http().post(url).json(&template.body());
        let response = self.call("create template", access_token, request).await?;
        read_json("create template", response).await
    }

    /// Every template of the WABA, following the pages to the end.
    #[tracing::instrument(name = "graph.list_templates", skip_all, fields(waba_id = waba_id))]
    pub async fn list_templates(
        &self,
        access_token: &str,
        waba_id: &str,
    ) -> Result<Vec<RemoteTemplate>, GraphError> {
        let first = self.url(&[waba_id, "message_templates"])?;
        let mut templates = Vec::new();
        let mut next = Next::Cursor(None);
        for _ in 0..MAX_PAGES {
            let request = match &next {
                Next::Cursor(after) => {
                    let mut query = vec![("fields", FIELDS), ("limit", PAGE_SIZE)];
                    if let Some(after) = after {
                        query.push(("after", after));
                    }
                    self.http().get(first.clone()).query(&query)
                }
                Next::Link(url) => self.http().get(url.clone()),
            };
            let response = self.call("list templates", access_token, request).await?;
            let page: Page = read_json("list templates", response).await?;
            templates.extend(page.data.into_iter().map(RemoteTemplate::from));
            match page.paging.and_then(|p| p.next_page()) {
                Some(following) if following != next => next = following,
                Some(_) => {
                    tracing::warn!("Graph API returned the same page cursor twice; stopping");
                    return Ok(templates);
                }
                None => return Ok(templates),
            }
        }
        Err(GraphError::local(
            ErrorClass::RetryLater,
            format!("list templates: stopped after {MAX_PAGES} pages without reaching the end"),
        ))
    }
}

/// Where the next page is.
#[derive(Debug, PartialEq)]
enum Next {
    /// Our own URL with `after=<cursor>` (`None`: the first page).
    Cursor(Option<String>),
    /// Meta's `paging.next`, stripped of the `access_token` it may carry (we send the bearer
    /// header instead, and URLs end up in errors and logs).
    Link(Url),
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<RawTemplate>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    /// Present only when there is a next page (Graph API paging rules).
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

impl Paging {
    fn next_page(self) -> Option<Next> {
        let link = self.next.filter(|n| !n.is_empty())?;
        if let Some(after) = self.cursors.and_then(|c| c.after).filter(|a| !a.is_empty()) {
            return Some(Next::Cursor(Some(after)));
        }
        let url = Url::parse(&link).ok()?;
        if let Some((_, after)) = url.query_pairs().find(|(key, _)| key == "after") {
            return Some(Next::Cursor(Some(after.into_owned())));
        }
        Some(Next::Link(without_token(url)))
    }
}

fn without_token(mut url: Url) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "access_token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    url
}

#[derive(Deserialize)]
struct RawTemplate {
    id: String,
    name: String,
    language: String,
    status: String,
    category: Option<String>,
    previous_category: Option<String>,
    parameter_format: Option<String>,
    quality_score: Option<QualityScore>,
    rejected_reason: Option<String>,
    #[serde(default)]
    components: serde_json::Value,
}

#[derive(Deserialize)]
struct QualityScore {
    score: Option<String>,
}

impl From<RawTemplate> for RemoteTemplate {
    fn from(raw: RawTemplate) -> Self {
        Self {
            id: raw.id,
            name: raw.name,
            language: raw.language,
            status: raw.status,
            category: raw.category,
            previous_category: raw.previous_category,
            parameter_format: raw.parameter_format,
            quality: raw.quality_score.and_then(|q| q.score),
            rejected_reason: raw.rejected_reason.filter(|r| !r.is_empty() && r != "NONE"),
            components: raw.components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(json: &str) -> Option<Next> {
        serde_json::from_str::<Paging>(json).unwrap().next_page()
    }

    #[test]
    fn the_last_page_has_no_next_even_with_an_after_cursor() {
        assert_eq!(
            paging(r#"{"cursors":{"before":"MAZDZD","after":"OTkZD"}}"#),
            None
        );
    }

    #[test]
    fn the_next_page_is_found_by_cursor_then_by_link() {
        assert_eq!(
            paging(
                r#"{"cursors":{"after":"OTkZD"},"next":"https://graph.facebook.com/x?after=OTkZD"}"#
            ),
            Some(Next::Cursor(Some("OTkZD".into())))
        );
        assert_eq!(
            paging(
                r#"{"next":"https://graph.facebook.com/v25.0/1/message_templates?access_token=EAAB&after=QVFI"}"#
            ),
            Some(Next::Cursor(Some("QVFI".into())))
        );
        let Some(Next::Link(url)) = paging(
            r#"{"next":"https://graph.facebook.com/v25.0/1/message_templates?access_token=EAAB&offset=100"}"#,
        ) else {
            panic!("expected a link");
        };
        assert_eq!(
            url.as_str(),
            "https://graph.facebook.com/v25.0/1/message_templates?offset=100"
        );
    }

    #[test]
    fn a_submission_is_sent_in_metas_cases() {
        let components = serde_json::json!([{"type": "BODY", "text": "Hi {{1}}"}]);
        let submission = TemplateSubmission {
            name: "order_ready",
            language: "en_US",
            category: "utility",
            parameter_format: "POSITIONAL",
            components: &components,
        };
        assert_eq!(
            submission.body(),
            serde_json::json!({"name": "order_ready", "language": "en_US", "category": "UTILITY",
                   "parameter_format": "positional", "components": components})
        );
    }

    #[test]
    fn quality_and_rejection_are_flattened() {
        let raw: RawTemplate = serde_json::from_str(
            r#"{"id":"1","name":"a","language":"en","status":"APPROVED","rejected_reason":"NONE",
                "quality_score":{"score":"GREEN","date":1712830463},"components":[]}"#,
        )
        .unwrap();
        let template = RemoteTemplate::from(raw);
        assert_eq!(template.quality.as_deref(), Some("GREEN"));
        assert_eq!(template.rejected_reason, None);
        assert_eq!(template.category, None);
    }
}
