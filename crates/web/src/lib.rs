//! Switchboard's own web inbox, served by the binary at `/`: a small page of plain ES modules
//! (no framework, no build step, no CDN) that works conversations, templates and settings
//! through the public REST API with the API token its user pastes. It has no private backdoor:
//! every byte it shows comes from `/api/...`, as it would for the company's own frontend.
//!
//! The assets are compiled into the binary. They are served under `/assets/{version}/{name}`,
//! where `version` is a hash of all of them, so browsers may keep them for a year and still
//! see a new release at once (relative imports between modules carry the version along).
//! The page itself is revalidated on every visit (ETag). Every answer carries a strict
//! Content-Security-Policy: scripts and styles from this origin only, nothing inline.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, middleware, web};

/// One file of the page.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under `/assets/`: what index.html and the modules' imports name.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: JS,
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        bytes: include_bytes!("../assets/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        bytes: include_bytes!("../assets/dom.js"),
    },
    Asset {
        name: "inbox.js",
        content_type: JS,
        bytes: include_bytes!("../assets/inbox.js"),
    },
    Asset {
        name: "thread.js",
        content_type: JS,
        bytes: include_bytes!("../assets/thread.js"),
    },
    Asset {
        name: "templates.js",
        content_type: JS,
        bytes: include_bytes!("../assets/templates.js"),
    },
    Asset {
        name: "settings.js",
        content_type: JS,
        bytes: include_bytes!("../assets/settings.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/icon.svg"),
    },
];

/// The page; `{{version}}` is replaced by the assets' version when it is first served.
pub const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");
const VERSION_MARK: &str = "{{version}}";

/// Scripts, styles, images and API calls from this origin only; images also from `blob:`
/// (customers' photos are fetched with the bearer token and shown from memory, since an
/// `<img>` cannot send the header). No inline script or style, no frames, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob:; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Versioned assets never change: a year, and no revalidation.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";
/// The page, and assets asked for without (or with an old) version: ask every time (304s).
const REVALIDATE: &str = "no-cache";

/// The page with its version filled in, and the validators, computed once.
struct Bundle {
    version: String,
    index: String,
    index_etag: String,
    asset_etags: Vec<String>,
}

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let mut all = Fnv::default();
        for asset in ASSETS {
            all.write(asset.name.as_bytes());
            all.write(asset.bytes);
        }
        let version = format!("{:016x}", all.finish());
        let index = INDEX_TEMPLATE.replace(VERSION_MARK, &version);
        Bundle {
            index_etag: etag_of(index.as_bytes()),
            asset_etags: ASSETS.iter().map(|a| etag_of(a.bytes)).collect(),
            index,
            version,
        }
    })
}

/// The assets' version: a hash of all of them, so any change makes new URLs.
pub fn version() -> &'static str {
    &bundle().version
}

/// 64-bit FNV-1a: a content fingerprint for cache validators (not for security).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn etag_of(bytes: &[u8]) -> String {
    let mut hash = Fnv::default();
    hash.write(bytes);
    format!("\"{:016x}\"", hash.finish())
}

/// Mounts the page at `/` and its files at `/assets/{version}/{name}` (and `/assets/{name}`).
/// Responses are gzip-compressed when the browser accepts it.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .wrap(middleware::Compress::default())
            .route(web::get().to(index)),
    )
    .service(
        web::resource("/assets/{version}/{name}")
            .wrap(middleware::Compress::default())
            .route(web::get().to(versioned_asset)),
    )
    .service(
        web::resource("/assets/{name}")
            .wrap(middleware::Compress::default())
            .route(web::get().to(unversioned_asset)),
    );
}

/// The headers every answer of the page carries, errors and 304s included.
fn secured(status: StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ));
    response
}

/// True when the browser's copy (`If-None-Match`) is this one.
fn fresh(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn serve(
    req: &HttpRequest,
    etag: &str,
    cache: &'static str,
    content_type: &'static str,
    body: &'static [u8],
) -> HttpResponse {
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    if fresh(req, etag) {
        return secured(StatusCode::NOT_MODIFIED)
            .insert_header((header::ETAG, etag_value))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    secured(StatusCode::OK)
        .insert_header((header::ETAG, etag_value))
        .insert_header((header::CACHE_CONTROL, cache))
        .content_type(content_type)
        .body(body)
}

async fn index(req: HttpRequest) -> HttpResponse {
    let bundle = bundle();
    serve(
        &req,
        &bundle.index_etag,
        REVALIDATE,
        "text/html; charset=utf-8",
        bundle.index.as_bytes(),
    )
}

async fn versioned_asset(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (version, name) = path.into_inner();
    // A page from before an upgrade asks for the old version: it gets today's file, revalidated.
    let cache = if version == self::version() {
        CACHE_FOREVER
    } else {
        REVALIDATE
    };
    asset(&req, &name, cache)
}

async fn unversioned_asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    asset(&req, &name, REVALIDATE)
}

fn asset(req: &HttpRequest, name: &str, cache: &'static str) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return secured(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "no asset named '{name}': the page's files are {}",
                ASSETS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
            ));
    };
    let found = &ASSETS[i];
    serve(
        req,
        &bundle().asset_etags[i],
        cache,
        found.content_type,
        found.bytes,
    )
}
