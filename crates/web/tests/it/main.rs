//! The web inbox's routes: the page and its files, their types, caching and security headers,
//! and static checks that the strict Content-Security-Policy blocks nothing the page needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, test as actix};
use switchboard_web::{ASSETS, CONTENT_SECURITY_POLICY, INDEX_TEMPLATE, version};

async fn app() -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    actix::init_service(App::new().configure(switchboard_web::configure)).await
}

async fn get<S, B>(
    app: &S,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, Vec<u8>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = actix::TestRequest::get().uri(uri);
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let resp = actix::call_service(app, req.to_request()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = actix::read_body(resp).await.to_vec();
    (status, headers, body)
}

fn header_of<'a>(headers: &'a header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_secured(headers: &header::HeaderMap) {
    assert_eq!(
        header_of(headers, "content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(header_of(headers, "x-content-type-options"), "nosniff");
    assert_eq!(header_of(headers, "referrer-policy"), "no-referrer");
    assert_eq!(header_of(headers, "x-frame-options"), "DENY");
}

fn text(asset: &str) -> String {
    let found = ASSETS.iter().find(|a| a.name == asset).unwrap();
    String::from_utf8(found.bytes.to_vec()).unwrap()
}

/// The files a module imports: `from './x.js'` and `import('./x.js')`.
fn imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["from './", "import('./"] {
        for (at, _) in source.match_indices(marker) {
            let rest = &source[at + marker.len()..];
            let end = rest.find('\'').unwrap();
            found.push(rest[..end].to_string());
        }
    }
    found
}

#[actix_web::test]
async fn the_page_is_served_at_the_root_with_strict_security_headers() {
    let app = app().await;
    let (status, headers, body) = get(&app, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header_of(&headers, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_secured(&headers);
    assert_eq!(header_of(&headers, "cache-control"), "no-cache");
    assert!(header_of(&headers, "etag").starts_with('"'));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains(&format!(
        "<script type=\"module\" src=\"/assets/{}/app.js\"></script>",
        version()
    )));
    assert!(!page.contains("{{version}}"), "every mark is filled");
    // The policy itself: nothing inline, nothing from elsewhere, no framing.
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

#[actix_web::test]
async fn every_file_the_page_and_its_modules_name_is_served_with_its_type_and_cached_for_good() {
    let app = app().await;
    let mut named: Vec<String> = INDEX_TEMPLATE
        .match_indices("/assets/{{version}}/")
        .map(|(at, m)| {
            let rest = &INDEX_TEMPLATE[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect();
    for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        named.extend(imports(&text(asset.name)));
    }
    named.sort();
    named.dedup();
    let mut served: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
    served.sort();
    assert_eq!(named, served, "named by the page or imported = embedded");
    for asset in ASSETS {
        let uri = format!("/assets/{}/{}", version(), asset.name);
        let (status, headers, body) = get(&app, &uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header_of(&headers, "content-type"), asset.content_type);
        assert_eq!(
            header_of(&headers, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_secured(&headers);
        assert_eq!(body, asset.bytes, "{uri}");
    }
    let expected = [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ];
    for (name, content_type) in expected {
        let asset = ASSETS.iter().find(|a| a.name == name).unwrap();
        assert_eq!(asset.content_type, content_type);
    }
}

#[actix_web::test]
async fn a_file_the_browser_has_answers_304_and_an_unversioned_one_is_revalidated() {
    let app = app().await;
    let (_, headers, _) = get(&app, "/assets/app.css", &[]).await;
    assert_eq!(header_of(&headers, "cache-control"), "no-cache");
    let etag = header_of(&headers, "etag").to_string();
    let (status, headers, body) = get(&app, "/assets/app.css", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header_of(&headers, "etag"), etag);
    assert_secured(&headers);
    // Another file's tag does not match.
    let (status, _, _) = get(&app, "/assets/app.js", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, StatusCode::OK);
    // The page too, with a weak tag as proxies rewrite it.
    let (_, headers, _) = get(&app, "/", &[]).await;
    let page_etag = header_of(&headers, "etag").to_string();
    let weak = format!("W/{page_etag}");
    let (status, _, _) = get(&app, "/", &[("If-None-Match", &weak)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
}

#[actix_web::test]
async fn a_page_from_an_older_release_gets_todays_files_without_the_long_cache() {
    let app = app().await;
    let (status, headers, body) = get(&app, "/assets/0123456789abcdef/app.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, "cache-control"), "no-cache");
    assert_eq!(body, text("app.js").into_bytes());
}

#[actix_web::test]
async fn an_unknown_file_is_404_and_says_which_exist() {
    let app = app().await;
    let (_, headers, _) = get(&app, "/assets/nope.js", &[]).await;
    assert_secured(&headers);
    for uri in [
        "/assets/nope.js",
        &format!("/assets/{}/../Cargo.toml", version()),
        &format!("/assets/{}/%2e%2e%2fCargo.toml", version()),
    ] {
        let (status, _, body) = get(&app, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let message = String::from_utf8(body).unwrap();
        assert!(
            message.is_empty() || message.contains("app.js"),
            "{uri}: {message}"
        );
    }
}

#[actix_web::test]
async fn files_are_gzipped_for_browsers_that_accept_it() {
    let app = app().await;
    let uri = format!("/assets/{}/thread.js", version());
    let (status, headers, body) = get(&app, &uri, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, "content-encoding"), "gzip");
    assert!(body.len() < text("thread.js").len() / 2);
}

#[test]
fn nothing_inline_that_the_policy_would_block_and_no_html_from_strings() {
    // The page: scripts only by src, no inline handlers or style attributes.
    assert!(!INDEX_TEMPLATE.contains("<script>"));
    assert!(!INDEX_TEMPLATE.contains("style="));
    assert!(!INDEX_TEMPLATE.contains(" onclick="));
    assert!(!INDEX_TEMPLATE.contains(" onload="));
    for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        let source = text(asset.name);
        // Customers' text never becomes markup, and nothing needs 'unsafe-eval'.
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute('style'",
            "http://",
            "https://",
        ] {
            assert!(!source.contains(banned), "{} uses {banned}", asset.name);
        }
    }
}

#[test]
fn the_whole_bundle_stays_small() {
    let total: usize = ASSETS.iter().map(|a| a.bytes.len()).sum::<usize>() + INDEX_TEMPLATE.len();
    // No framework: the page, its modules, styles and icon together.
    assert!(total < 100 * 1024, "the bundle grew to {total} bytes");
}
