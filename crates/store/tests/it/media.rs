use diesel::prelude::*;
use switchboard_domain::webhook::MediaRef;
use switchboard_store::AnyConnection;
use switchboard_store::SecretBox;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{Channel, MessageLog, Organization, new_id, now};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::media::{self, DownloadPayload, StoredFile};
use switchboard_store::repo::{jobs, messages, organizations};
use switchboard_store::schema::message_logs;
use switchboard_store::testing::TestDb;

fn setup(conn: &mut AnyConnection, name: &str, phone_number_id: &str) -> (Organization, Channel) {
    let org = organizations::insert_organization(conn, name, None).unwrap();
    let input = ChannelInput {
        organization_id: org.id.clone(),
        phone_number_id: phone_number_id.into(),
        access_token: "EAAG".into(),
        ..Default::default()
    };
    let channel =
        channels::insert_channel(conn, &SecretBox::from_key(&[7; 32]).unwrap(), &input).unwrap();
    (org, channel)
}

/// An inbound message as the projection logs it; `media_id` None for a text.
fn inbound(
    org: &Organization,
    channel: &Channel,
    kind: &str,
    media_id: Option<&str>,
) -> MessageLog {
    let at = now();
    MessageLog {
        id: new_id(),
        organization_id: org.id.clone(),
        channel_id: Some(channel.id.clone()),
        conversation_id: None,
        lead_id: None,
        provider: "WHATSAPP".into(),
        direction: "INBOUND".into(),
        message_type: kind.into(),
        from_phone: Some("5511999990000".into()),
        to_phone: None,
        text: None,
        media_id: media_id.map(str::to_string),
        media_mime_type: media_id.map(|_| "application/pdf".to_string()),
        media_filename: media_id.map(|_| "factura.pdf".to_string()),
        details: None,
        context_message_id: None,
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(format!("wamid.{}", new_id())),
        status: "RECEIVED".into(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: Some(at),
        created_at: at,
        updated_at: at,
        origin: None,
    }
}

fn declared(id: &str, animated: bool) -> MediaRef {
    MediaRef {
        id: id.into(),
        mime_type: Some("application/pdf".into()),
        sha256: Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=".into()),
        filename: Some("factura.pdf".into()),
        caption: None,
        url: None,
        voice: false,
        animated,
    }
}

fn project(conn: &mut AnyConnection, log: &MessageLog, media: Option<&MediaRef>) -> Option<String> {
    write_transaction(conn, |c| {
        messages::insert_message_once(c, log)?;
        media::queue_download_in(c, log, media)
    })
    .unwrap()
    .map(|job| job.id)
}

#[test]
fn an_inbound_file_gets_a_pending_row_and_one_download_job() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn, "Acme", "1001");
        let log = inbound(&org, &channel, "document", Some("9001"));
        let job_id = project(&mut conn, &log, Some(&declared("9001", false))).unwrap();
        let job = jobs::find_job(&mut conn, &job_id).unwrap().unwrap();
        assert_eq!(job.kind, "DOWNLOAD_MEDIA");
        assert_eq!(job.status, "PENDING");
        assert_eq!(job.organization_id.as_deref(), Some(org.id.as_str()));
        assert_eq!(
            job.idempotency_key,
            Some(format!("download_media:{}:9001", org.id))
        );
        assert_eq!(job.max_attempts, media::DOWNLOAD_MAX_ATTEMPTS);
        let payload: DownloadPayload = serde_json::from_str(&job.payload).unwrap();
        assert_eq!(payload.kind, "document");
        assert_eq!(payload.channel_id, channel.id);
        assert_eq!(
            payload.sha256.as_deref(),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        let row = media::find_media(&mut conn, &org.id, &payload.media_id)
            .unwrap()
            .unwrap();
        assert_eq!(row.id, media::media_id_for(&org.id, "9001"));
        assert_eq!(row.status, media::PENDING);
        assert_eq!(row.message_log_id.as_deref(), Some(log.id.as_str()));
        assert_eq!(row.external_media_id.as_deref(), Some("9001"));
        assert_eq!(row.file_name.as_deref(), Some("factura.pdf"));
        assert_eq!(row.mime_type.as_deref(), Some("application/pdf"));

        // The same file again (another message naming it, or the projection run twice).
        let again = inbound(&org, &channel, "document", Some("9001"));
        assert_eq!(
            project(&mut conn, &again, Some(&declared("9001", false))),
            None
        );
        assert_eq!(jobs::count_jobs(&mut conn).unwrap(), 1, "{}", t.backend);
        let row = media::find_media(&mut conn, &org.id, &row.id)
            .unwrap()
            .unwrap();
        assert_eq!(
            row.message_log_id.as_deref(),
            Some(log.id.as_str()),
            "not taken over"
        );
    }
}

#[test]
fn messages_without_a_file_queue_nothing() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn, "Acme", "1001");
        let text = inbound(&org, &channel, "text", None);
        assert_eq!(project(&mut conn, &text, None), None);
        // A location carries no file even with a stray media id.
        let odd = inbound(&org, &channel, "location", Some("77"));
        assert_eq!(project(&mut conn, &odd, None), None);
        let mut outbound = inbound(&org, &channel, "image", Some("78"));
        outbound.direction = "OUTBOUND".into();
        assert_eq!(project(&mut conn, &outbound, None), None);
        assert_eq!(jobs::count_jobs(&mut conn).unwrap(), 0);
    }
}

#[test]
fn an_animated_sticker_says_so_in_its_job() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn, "Acme", "1001");
        let sticker = inbound(&org, &channel, "sticker", Some("555"));
        let job_id = project(&mut conn, &sticker, Some(&declared("555", true))).unwrap();
        let job = jobs::find_job(&mut conn, &job_id).unwrap().unwrap();
        let payload: DownloadPayload = serde_json::from_str(&job.payload).unwrap();
        assert!(payload.animated);
        assert_eq!(payload.kind, "sticker");
    }
}

#[test]
fn a_rebuilt_message_takes_over_its_file_without_a_second_download() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn, "Acme", "1001");
        let log = inbound(&org, &channel, "image", Some("4242"));
        project(&mut conn, &log, None).unwrap();
        let id = media::media_id_for(&org.id, "4242");
        // What a replay does: the inbound message is deleted, then projected again anew.
        diesel::delete(message_logs::table.filter(message_logs::id.eq(&log.id)))
            .execute(&mut conn)
            .unwrap();
        let orphan = media::find_media(&mut conn, &org.id, &id).unwrap().unwrap();
        assert_eq!(orphan.message_log_id, None, "{}", t.backend);
        let mut rebuilt = inbound(&org, &channel, "image", Some("4242"));
        rebuilt.external_message_id = log.external_message_id.clone();
        assert_eq!(project(&mut conn, &rebuilt, None), None);
        let row = media::find_media(&mut conn, &org.id, &id).unwrap().unwrap();
        assert_eq!(row.message_log_id.as_deref(), Some(rebuilt.id.as_str()));
        assert_eq!(jobs::count_jobs(&mut conn).unwrap(), 1);
    }
}

#[test]
fn rows_are_marked_and_found_only_within_their_organization() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (a, channel_a) = setup(&mut conn, "Acme", "1001");
        let (b, channel_b) = setup(&mut conn, "Bravo", "2002");
        let log_a = inbound(&a, &channel_a, "image", Some("1"));
        let log_b = inbound(&b, &channel_b, "image", Some("1"));
        project(&mut conn, &log_a, None).unwrap();
        project(&mut conn, &log_b, None).unwrap();
        let id_a = media::media_id_for(&a.id, "1");
        let id_b = media::media_id_for(&b.id, "1");
        assert_ne!(
            id_a, id_b,
            "the same Meta id in two organizations is two files"
        );
        assert_eq!(media::find_media(&mut conn, &b.id, &id_a).unwrap(), None);
        assert!(!media::mark_failed(&mut conn, &b.id, &id_a, "nope").unwrap());

        assert!(media::mark_retrying(&mut conn, &a.id, &id_a, "Meta timed out").unwrap());
        let retrying = media::find_media(&mut conn, &a.id, &id_a).unwrap().unwrap();
        assert_eq!(
            (retrying.status.as_str(), retrying.error.as_deref()),
            (media::PENDING, Some("Meta timed out"))
        );
        let file = StoredFile {
            mime_type: "image/jpeg".into(),
            size_bytes: 3,
            sha256: "ab".repeat(32),
            storage_path: format!("{}/{id_a}", a.id),
        };
        assert!(media::mark_downloaded(&mut conn, &a.id, &id_a, &file).unwrap());
        let done = media::find_media(&mut conn, &a.id, &id_a).unwrap().unwrap();
        assert_eq!(done.status, media::DOWNLOADED);
        assert_eq!(done.error, None);
        assert_eq!(done.size_bytes, Some(3));
        assert_eq!(done.storage_path, Some(file.storage_path.clone()));

        assert!(media::mark_failed(&mut conn, &b.id, &id_b, "too large").unwrap());
        let listed =
            media::find_media_of_messages(&mut conn, &a.id, &[log_a.id.clone(), log_b.id.clone()])
                .unwrap();
        assert_eq!(listed.len(), 1, "only A's file");
        assert_eq!(listed[0].id, id_a);
        assert!(
            media::find_media_of_messages(&mut conn, &a.id, &[])
                .unwrap()
                .is_empty()
        );
        let failed = media::find_media(&mut conn, &b.id, &id_b).unwrap().unwrap();
        assert_eq!(
            (failed.status.as_str(), failed.error.as_deref()),
            (media::FAILED, Some("too large"))
        );
    }
}
