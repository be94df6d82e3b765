use diesel::connection::SimpleConnection;
use switchboard_store::repo::{jobs, webhooks};
use switchboard_store::testing::{TestDb, webhook_fixtures};

use crate::harness::{APP_SECRET, DEFAULT_CHANNEL, counts, ingest, sign, text_body};
use crate::{app, post};

const PATH: &str = "/api/webhooks/whatsapp";

#[actix_web::test]
async fn every_fixture_is_stored_raw_with_one_job() {
    for t in TestDb::all() {
        let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
        let app = app!(data);
        let fixtures = webhook_fixtures();
        for (name, body) in &fixtures {
            let (status, json) = post!(app, PATH, body, sign(body));
            assert_eq!(status, 200, "{name}: {json}");
            assert_eq!(json["status"], "stored", "{name} ({})", t.backend);
        }
        let mut conn = t.db.conn().unwrap();
        let events = webhooks::list_events(&mut conn).unwrap();
        assert_eq!(events.len(), fixtures.len());
        for event in events {
            assert_eq!(event.status, "PENDING");
            assert!(
                fixtures.iter().any(|(_, body)| *body == event.body),
                "raw bytes kept"
            );
            let jobs = jobs::list_jobs_for_event(&mut conn, &event.id).unwrap();
            assert_eq!(jobs.len(), 1);
            assert_eq!(jobs[0].kind, "PROCESS_WEBHOOK");
            assert_eq!(jobs[0].status, "PENDING");
            assert_eq!(jobs[0].organization_id, event.organization_id);
            let headers: serde_json::Value = serde_json::from_str(&event.headers).unwrap();
            assert!(
                headers["x-hub-signature-256"]
                    .as_str()
                    .unwrap()
                    .starts_with("sha256=")
            );
        }
    }
}

#[actix_web::test]
async fn all_three_paths_accept_posts() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    for (i, path) in switchboard_ingest::WEBHOOK_PATHS.iter().enumerate() {
        let body = text_body(&format!("wamid.path{i}"));
        let (status, _) = post!(app, path, &body, sign(&body));
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(counts(&t), (3, 3));
}

#[actix_web::test]
async fn the_signature_is_checked_over_the_raw_bytes() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    // Escapes a re-serializer would rewrite: \u00e9, \/ and an emoji surrogate pair.
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"57438975935","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"1122334455667"},"messages":[{"from":"1","id":"wamid.esc","timestamp":"1","type":"text","text":{"body":"J'ai mang\u00e9 \/ http:\/\/x.y \ud83d\ude2e @"}}]},"field":"messages"}]}]}"#;
    let (status, json) = post!(app, PATH, body, sign(body));
    assert_eq!(status, 200, "{json}");
    let mut conn = t.db.conn().unwrap();
    let stored = webhooks::list_events(&mut conn).unwrap();
    assert_eq!(stored[0].body, body.to_vec(), "stored byte for byte");
}

#[actix_web::test]
async fn missing_wrong_or_foreign_signatures_are_refused_and_store_nothing() {
    for t in TestDb::all() {
        let other = ("9988776655", Some("other-app-secret"), None, None);
        let data = ingest(&t, false, &[DEFAULT_CHANNEL, other]).await;
        let app = app!(data);
        let body = text_body("wamid.sig");
        let wrong = Some(switchboard_ingest::signature::sign("not-the-secret", &body));
        let foreign = Some(switchboard_ingest::signature::sign(
            "other-app-secret",
            &body,
        ));
        let tampered = {
            let mut b = body.clone();
            let at = b.len() - 10;
            b[at] = b'X';
            b
        };
        let cases: [(&[u8], Option<String>, &str); 6] = [
            (&body, None, "WHATSAPP_SIGNATURE_MISSING"),
            (&body, Some(String::new()), "WHATSAPP_SIGNATURE_MISSING"),
            (&body, wrong, "WHATSAPP_SIGNATURE_INVALID"),
            (&body, foreign, "WHATSAPP_SIGNATURE_INVALID"),
            (
                &body,
                Some("sha256=abc".into()),
                "WHATSAPP_SIGNATURE_INVALID",
            ),
            (&tampered, sign(&body), "WHATSAPP_SIGNATURE_INVALID"),
        ];
        for (payload, signature, code) in cases {
            let (status, json) = post!(app, PATH, payload, signature.clone());
            assert_eq!(status, 401, "{signature:?} ({})", t.backend);
            assert_eq!(json["errorCode"], code, "{signature:?}");
            assert!(json["message"].as_str().unwrap().len() > 20);
        }
        assert_eq!(counts(&t), (0, 0), "{}", t.backend);
        // The same body signed right is accepted.
        let (status, _) = post!(app, PATH, &body, sign(&body));
        assert_eq!(status, 200);
    }
}

#[actix_web::test]
async fn a_body_over_the_limit_is_refused_and_one_at_the_limit_accepted() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    let limit = switchboard_ingest::DEFAULT_MAX_BODY_BYTES;
    let mut at_limit = text_body("wamid.big");
    at_limit.resize(limit, b' '); // trailing whitespace keeps it valid JSON
    let (status, json) = post!(app, PATH, &at_limit, sign(&at_limit));
    assert_eq!(status, 200, "{json}");
    let mut over = at_limit.clone();
    over.push(b' ');
    let (status, json) = post!(app, PATH, &over, sign(&over));
    assert_eq!(status, 413);
    assert_eq!(json["errorCode"], "WHATSAPP_PAYLOAD_TOO_LARGE");
    assert_eq!(counts(&t), (1, 1));
}

#[actix_web::test]
async fn invalid_json_or_another_object_is_a_400_that_stores_nothing() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    let bodies: [&[u8]; 4] = [
        b"not json",
        b"{\"object\":",
        br#"{"object":"page","entry":[]}"#,
        b"[1,2]",
    ];
    for body in bodies {
        let (status, json) = post!(app, PATH, body, sign(body));
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(json["errorCode"], "WHATSAPP_PAYLOAD_INVALID");
    }
    assert_eq!(counts(&t), (0, 0));
}

#[actix_web::test]
async fn an_unknown_number_is_stored_ignored_without_a_job_and_answered_200() {
    for t in TestDb::all() {
        let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
        let app = app!(data);
        let body = String::from_utf8(text_body("wamid.unknown"))
            .unwrap()
            .replace("1122334455667", "5550000000");
        let (status, json) = post!(app, PATH, body.as_bytes(), sign(body.as_bytes()));
        assert_eq!(
            (status, json["status"].as_str()),
            (200, Some("ignored")),
            "{}",
            t.backend
        );
        let mut conn = t.db.conn().unwrap();
        let events = webhooks::list_events(&mut conn).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].status, "IGNORED");
        assert_eq!(events[0].organization_id, None);
        assert_eq!(jobs::count_jobs(&mut conn).unwrap(), 0);
    }
}

#[actix_web::test]
async fn fields_without_metadata_are_routed_by_the_waba_id() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    let (_, body) = webhook_fixtures()
        .into_iter()
        .find(|(n, _)| n == "template-status-01.json")
        .unwrap();
    let (status, json) = post!(app, PATH, &body, sign(&body));
    assert_eq!((status, json["status"].as_str()), (200, Some("stored")));
    assert_eq!(counts(&t), (1, 1));
}

#[actix_web::test]
async fn a_repeated_delivery_is_answered_200_and_stored_once() {
    for t in TestDb::all() {
        let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
        let app = app!(data);
        let body = text_body("wamid.dup");
        let (_, first) = post!(app, PATH, &body, sign(&body));
        let (status, second) = post!(app, PATH, &body, sign(&body));
        assert_eq!(first["status"], "stored");
        assert_eq!(
            (status, second["status"].as_str()),
            (200, Some("duplicate")),
            "{}",
            t.backend
        );
        // Concurrent duplicates, racing in one batch, are caught by the database too.
        let racing = text_body("wamid.race");
        let posts = (0..8).map(|_| async { post!(app, PATH, &racing, sign(&racing)) });
        let answers = futures_util::future::join_all(posts).await;
        assert!(answers.iter().all(|(s, _)| *s == 200));
        assert_eq!(
            answers
                .iter()
                .filter(|(_, j)| j["status"] == "stored")
                .count(),
            1
        );
        assert_eq!(counts(&t), (2, 2), "{}", t.backend);
    }
}

#[actix_web::test]
async fn concurrent_posts_share_commits_and_each_gets_its_job() {
    for t in TestDb::all() {
        let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
        let app = app!(data);
        let bodies: Vec<_> = (0..200)
            .map(|i| text_body(&format!("wamid.c{i}")))
            .collect();
        let posts = bodies
            .iter()
            .map(|b| async { post!(app, PATH, b, sign(b)) });
        let answers = futures_util::future::join_all(posts).await;
        assert!(
            answers
                .iter()
                .all(|(s, j)| *s == 200 && j["status"] == "stored"),
            "{}",
            t.backend
        );
        assert_eq!(counts(&t), (200, 200), "{}", t.backend);
    }
}

#[actix_web::test]
async fn when_the_database_cannot_commit_the_answer_is_503_and_nothing_is_half_written() {
    for t in TestDb::all() {
        let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
        let app = app!(data);
        // The job insert fails, so the event insert in the same transaction must roll back.
        t.db.conn()
            .unwrap()
            .batch_execute("DROP TABLE integration_jobs")
            .unwrap();
        let body = text_body("wamid.down");
        let (status, json) = post!(app, PATH, &body, sign(&body));
        assert_eq!(status, 503, "{} {json}", t.backend);
        assert_eq!(json["errorCode"], "STORAGE_UNAVAILABLE");
        let events = webhooks::count_events(&mut t.db.conn().unwrap()).unwrap();
        assert_eq!(events, 0, "{}: event stored without its job", t.backend);
    }
}

#[actix_web::test]
async fn without_any_app_secret_unsigned_posts_pass_only_outside_production() {
    let unsigned = (harness_phone(), None, Some("vt"), None);
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[unsigned]).await;
    let app = app!(data);
    let body = text_body("wamid.dev");
    let (status, _) = post!(app, PATH, &body, None);
    assert_eq!(status, 200);

    let t = TestDb::sqlite();
    let data = ingest(&t, true, &[unsigned]).await;
    let app = app!(data);
    let (status, json) = post!(app, PATH, &body, None);
    assert_eq!(status, 401);
    assert_eq!(json["errorCode"], "WHATSAPP_SIGNATURE_MISSING");
    assert_eq!(counts(&t), (0, 0));
}

#[actix_web::test]
async fn a_channel_without_an_app_secret_is_refused_when_others_have_one() {
    let t = TestDb::sqlite();
    let data = ingest(
        &t,
        false,
        &[
            (harness_phone(), None, None, None),
            ("42", Some(APP_SECRET), None, None),
        ],
    )
    .await;
    let app = app!(data);
    let body = text_body("wamid.nosecret");
    let (status, json) = post!(app, PATH, &body, sign(&body));
    assert_eq!(status, 401, "{json}");
    assert_eq!(counts(&t), (0, 0));
}

#[actix_web::test]
async fn a_channel_added_after_start_is_picked_up_on_the_first_miss() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[("42", Some(APP_SECRET), None, None)]).await;
    let app = app!(data);
    // Now another process adds the number the webhook is for.
    {
        let secrets = switchboard_store::SecretBox::from_key(&[9; 32]).unwrap();
        let mut conn = t.db.conn().unwrap();
        let org =
            switchboard_store::repo::organizations::find_organization_by_slug(&mut conn, "acme")
                .unwrap()
                .unwrap();
        let input = switchboard_store::repo::channels::ChannelInput {
            organization_id: org.id,
            phone_number_id: harness_phone().into(),
            access_token: "EAAG".into(),
            app_secret: Some(APP_SECRET.into()),
            ..Default::default()
        };
        switchboard_store::repo::channels::insert_channel(&mut conn, &secrets, &input).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let body = text_body("wamid.late");
    let (status, json) = post!(app, PATH, &body, sign(&body));
    assert_eq!((status, json["status"].as_str()), (200, Some("stored")));
}

fn harness_phone() -> &'static str {
    crate::harness::PHONE_NUMBER_ID
}
