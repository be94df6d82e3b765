//! Outgoing event webhooks, as an organization's OWNERs and ADMINs manage them: the URLs that
//! get events, their signing secrets (shown once), the log of deliveries, redelivery and a test
//! event. The deliveries themselves are `DELIVER_EVENT` jobs (see the runner).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Role;
use switchboard_store::models::{WebhookDelivery, WebhookSubscription};
use switchboard_store::repo::subscriptions::{
    self, DEAD, DELIVERED, FAILED, NewSubscription, PENDING, SubscriptionChanges, WithSecret,
};
use switchboard_store::{SecretBox, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];

/// A subscription as every answer but the creating one shows it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    #[schema(example = "https://crm.example.com/hooks/switchboard")]
    pub url: String,
    pub description: Option<String>,
    /// The event types it gets.
    #[schema(example = json!(["ticket.created", "ticket.updated"]))]
    pub events: Vec<String>,
    /// False when a person or repeated failures disabled it (see `disabledReason`).
    pub enabled: bool,
    /// Why it is disabled, and how to enable it again.
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last delivery that got through.
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookSubscription> for SubscriptionView {
    fn from(s: WebhookSubscription) -> Self {
        SubscriptionView {
            events: s.event_types(),
            id: s.id,
            url: s.url,
            description: s.description,
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            consecutive_failures: s.consecutive_failures,
            created_at: utc(s.created_at),
            updated_at: utc(s.updated_at),
        }
    }
}

/// A subscription with its signing secret: the answer to creating it or rotating its secret,
/// the only times the secret is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionWithSecret {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    /// The key of every delivery's `X-Switchboard-Signature` (HMAC-SHA256 over
    /// `<t>.<raw body>` with this whole string, `whsec_` included). Store it now: it is not
    /// shown again.
    #[schema(example = "whsec_3q2-7wX5yJ0u1P8Vd6aKc9mB4nR2tLz0fGhE5sQ1wYo")]
    pub secret: String,
}

impl From<WithSecret> for SubscriptionWithSecret {
    fn from(w: WithSecret) -> Self {
        SubscriptionWithSecret {
            subscription: SubscriptionView::from(w.subscription),
            secret: w.secret,
        }
    }
}

/// One event sent (or being sent) to a subscription.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub subscription_id: String,
    /// The event's id (the body's `id`): the same on redelivery, so receivers can drop
    /// repeats.
    pub event_id: String,
    #[schema(example = "ticket.created")]
    pub event_type: String,
    /// PENDING (queued), DELIVERED, FAILED (retrying) or DEAD (no more attempts)
    pub status: String,
    /// Attempts made so far (redeliveries add to them).
    pub attempts: i32,
    /// The receiver's HTTP status on the last attempt (null: no answer).
    pub response_status: Option<i32>,
    /// The first KiB of the receiver's last answer.
    pub response_body: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The body as sent: `{"id","type","createdAt","organizationId","data"}`.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        DeliveryView {
            body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::String(d.body)),
            id: d.id,
            subscription_id: d.subscription_id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            response_body: d.response_body,
            error: d.error,
            created_at: utc(d.created_at),
            updated_at: utc(d.updated_at),
            delivered_at: d.delivered_at.map(utc),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubscription {
    /// Where events are POSTed: an absolute http(s) URL (https only in production).
    #[schema(
        example = "https://crm.example.com/hooks/switchboard",
        max_length = 2048
    )]
    pub url: String,
    /// One or more of message.received, message.status, lead.created,
    /// conversation.assigned, ticket.created, ticket.updated, template.status.
    #[schema(example = json!(["ticket.created", "ticket.updated"]), min_items = 1)]
    pub events: Vec<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSubscription {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// true enables it again (and clears its failures); false stops its deliveries.
    pub enabled: Option<bool>,
}

/// Tells `"description": null` (clear it) apart from a body without the field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// PENDING, DELIVERED, FAILED or DEAD
    #[param(pattern = "^(PENDING|DELIVERED|FAILED|DEAD)$")]
    pub status: Option<String>,
}

fn secrets(api: &Api) -> Result<std::sync::Arc<SecretBox>, ApiError> {
    api.secrets().ok_or_else(|| {
        tracing::error!(
            "the API was started without the master key, so it cannot seal webhook signing secrets"
        );
        ApiError::Internal
    })
}

fn not_found() -> StoreError {
    StoreError::NotFound("webhook subscription")
}

/// The organization's webhook subscriptions, oldest first (OWNER or ADMIN).
#[utoipa::path(get, path = "/api/webhook-subscriptions", tag = "webhooks",
    operation_id = "listWebhookSubscriptions",
    params(PageQuery),
    responses((status = 200, body = Paged<SubscriptionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    api: web::Data<Api>,
    caller: Caller,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let request = paging.checked()?;
    let org = caller.organization_id;
    let all = api
        .db
        .run(move |c| subscriptions::list_subscriptions(c, &org))
        .await?;
    let total = all.len() as i64;
    let page = request.store();
    let rows: Vec<WebhookSubscription> = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, SubscriptionView::from)))
}

/// Subscribes a URL to events (OWNER or ADMIN). The answer carries the signing secret, shown
/// this once.
#[utoipa::path(post, path = "/api/webhook-subscriptions", tag = "webhooks",
    operation_id = "createWebhookSubscription",
    request_body = CreateSubscription,
    responses((status = 201, body = SubscriptionWithSecret), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let secrets = secrets(&api)?;
    let body = body.into_inner();
    let org = caller.organization_id;
    let require_https = api.settings.production;
    let created = api
        .db
        .run(move |c| {
            subscriptions::insert_subscription(
                c,
                &secrets,
                &NewSubscription {
                    organization_id: &org,
                    url: &body.url,
                    events: &body.events,
                    description: body.description.as_deref(),
                    enabled: body.enabled.unwrap_or(true),
                    require_https,
                },
            )
        })
        .await?;
    tracing::info!(subscription = %created.subscription.id, url = %created.subscription.url, "webhook subscription created");
    Ok(HttpResponse::Created().json(SubscriptionWithSecret::from(created)))
}

/// One subscription, without its secret (OWNER or ADMIN).
#[utoipa::path(get, path = "/api/webhook-subscriptions/{id}", tag = "webhooks",
    operation_id = "getWebhookSubscription",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let found = api
        .db
        .run(move |c| subscriptions::find_subscription(c, &org, &id)?.ok_or_else(not_found))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(found)))
}

/// Changes a subscription (OWNER or ADMIN); fields left out stay. `enabled: true` enables a
/// disabled one again and clears its failures.
#[utoipa::path(patch, path = "/api/webhook-subscriptions/{id}", tag = "webhooks",
    operation_id = "updateWebhookSubscription",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = UpdateSubscription,
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateSubscription>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let body = body.into_inner();
    let changes = SubscriptionChanges {
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
        require_https: api.settings.production,
    };
    let (org, id) = (caller.organization_id, id.into_inner());
    let updated = api
        .db
        .run(move |c| subscriptions::update_subscription(c, &org, &id, &changes))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from(updated)))
}

/// Deletes a subscription and its delivery log (OWNER or ADMIN); queued deliveries are dropped.
#[utoipa::path(delete, path = "/api/webhook-subscriptions/{id}", tag = "webhooks",
    operation_id = "deleteWebhookSubscription",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let deleted = api
        .db
        .run(move |c| subscriptions::delete_subscription(c, &org, &id))
        .await?;
    if !deleted {
        return Err(not_found().into());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown this once (OWNER or ADMIN). The old one stops at once: every
/// delivery from now on, retries included, is signed with the new one.
#[utoipa::path(post, path = "/api/webhook-subscriptions/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotateWebhookSubscriptionSecret",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionWithSecret), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    // An id that is not the organization's is 404, whatever the server's set-up.
    let found = {
        let (org, id) = (org.clone(), id.clone());
        api.db
            .run(move |c| subscriptions::find_subscription(c, &org, &id))
            .await?
    };
    found.ok_or_else(not_found)?;
    let secrets = secrets(&api)?;
    let rotated = api
        .db
        .run(move |c| subscriptions::rotate_secret(c, &secrets, &org, &id))
        .await?;
    tracing::info!(subscription = %rotated.subscription.id, "webhook signing secret rotated");
    Ok(HttpResponse::Ok().json(SubscriptionWithSecret::from(rotated)))
}

/// The subscription's deliveries, newest first, with their bodies and how each went (OWNER or
/// ADMIN).
#[utoipa::path(get, path = "/api/webhook-subscriptions/{id}/deliveries", tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    params(("id" = String, Path, description = "Subscription id"), DeliveryQuery, PageQuery),
    responses((status = 200, body = Paged<DeliveryView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let request = paging.checked()?;
    let status = delivery_status(query.into_inner().status)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let (rows, total) = api
        .db
        .run(move |c| {
            subscriptions::find_subscription(c, &org, &id)?.ok_or_else(not_found)?;
            subscriptions::list_delivery_page(c, &org, &id, status, request.store())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, DeliveryView::from)))
}

fn delivery_status(raw: Option<String>) -> Result<Option<&'static str>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    [PENDING, DELIVERED, FAILED, DEAD]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(raw.trim()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::Validation(format!(
                "status '{raw}' is not a delivery status: use PENDING, DELIVERED, FAILED or DEAD"
            ))
        })
}

/// Sends a delivery again (OWNER or ADMIN), whatever its status: the same event id and body,
/// signed anew when sent. 409 while the subscription is disabled.
#[utoipa::path(post,
    path = "/api/webhook-subscriptions/{id}/deliveries/{deliveryId}/redeliver", tag = "webhooks",
    operation_id = "redeliverWebhookDelivery",
    params(("id" = String, Path, description = "Subscription id"),
        ("deliveryId" = String, Path, description = "Delivery id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn redeliver(
    api: web::Data<Api>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let (id, delivery_id) = path.into_inner();
    let org = caller.organization_id;
    let delivery = api
        .db
        .run(move |c| subscriptions::redeliver(c, &org, &id, &delivery_id))
        .await?;
    api.wake();
    Ok(HttpResponse::Accepted().json(DeliveryView::from(delivery)))
}

/// Queues a `ping` event to this subscription only (OWNER or ADMIN), to try the receiver and
/// its signature check; follow it in the deliveries. 409 while the subscription is disabled.
#[utoipa::path(post, path = "/api/webhook-subscriptions/{id}/test", tag = "webhooks",
    operation_id = "testWebhookSubscription",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let delivery = api
        .db
        .run(move |c| subscriptions::queue_ping(c, &org, &id))
        .await?;
    api.wake();
    Ok(HttpResponse::Accepted().json(DeliveryView::from(delivery)))
}
