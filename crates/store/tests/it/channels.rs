use switchboard_store::bootstrap::ensure_default_tenant;
use switchboard_store::crypto::CryptoError;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::organizations;
use switchboard_store::testing::TestDb;
use switchboard_store::{SecretBox, StoreError};

fn key() -> SecretBox {
    SecretBox::from_key(&[42; 32]).unwrap()
}

fn input(org: &str, phone_number_id: &str) -> ChannelInput {
    ChannelInput {
        organization_id: org.to_string(),
        phone_number_id: phone_number_id.to_string(),
        access_token: "EAAG-plaintext-access-token".into(),
        app_secret: Some("app-secret-plaintext".into()),
        verify_token: Some("verify-me".into()),
        waba_id: Some("102290129340398".into()),
        ..Default::default()
    }
}

#[test]
fn channel_secrets_are_sealed_and_open_with_the_right_key_only() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let channel =
            channels::insert_channel(&mut conn, &key(), &input(&org.id, "1122334455667")).unwrap();
        assert!(!channel.access_token_sealed.contains("EAAG"));
        assert_eq!(channel.messages_per_second, 80);
        let found = channels::find_channel_by_phone_number_id(&mut conn, "1122334455667")
            .unwrap()
            .unwrap();
        let secrets = found.open_secrets(&key()).unwrap();
        assert_eq!(
            secrets.access_token, "EAAG-plaintext-access-token",
            "{}",
            t.backend
        );
        assert_eq!(secrets.app_secret.as_deref(), Some("app-secret-plaintext"));
        assert_eq!(secrets.verify_token.as_deref(), Some("verify-me"));
        let wrong = SecretBox::from_key(&[1; 32]).unwrap();
        assert!(matches!(
            found.open_secrets(&wrong),
            Err(StoreError::Crypto(CryptoError::WrongKey(_)))
        ));
    }
}

#[test]
fn the_sqlite_file_never_holds_channel_secrets_in_plaintext() {
    let t = TestDb::sqlite();
    {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        channels::insert_channel(&mut conn, &key(), &input(&org.id, "1122334455667")).unwrap();
    }
    let path = t.sqlite_path().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    for secret in [
        "EAAG-plaintext-access-token",
        "app-secret-plaintext",
        "verify-me",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} found on disk"
        );
    }
}

#[test]
fn bad_channel_input_is_refused_with_a_reason_and_stores_nothing() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let cases = [
            ChannelInput {
                phone_number_id: "+57 300".into(),
                ..input(&org.id, "")
            },
            ChannelInput {
                access_token: " ".into(),
                ..input(&org.id, "1")
            },
            ChannelInput {
                messages_per_second: Some(0),
                ..input(&org.id, "2")
            },
            ChannelInput {
                messages_per_second: Some(1001),
                ..input(&org.id, "3")
            },
            ChannelInput {
                default_country_code: Some("+57".into()),
                ..input(&org.id, "4")
            },
            ChannelInput {
                waba_id: Some("abc".into()),
                ..input(&org.id, "5")
            },
        ];
        for case in cases {
            let err = channels::insert_channel(&mut conn, &key(), &case).unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "{}: {err}",
                t.backend
            );
        }
        assert!(
            channels::list_channels(&mut conn, &org.id)
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn a_number_belongs_to_one_channel_only() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let a = organizations::insert_organization(&mut conn, "A", None).unwrap();
        let b = organizations::insert_organization(&mut conn, "B", None).unwrap();
        channels::insert_channel(&mut conn, &key(), &input(&a.id, "777")).unwrap();
        let err = channels::insert_channel(&mut conn, &key(), &input(&b.id, "777")).unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "{}: {err}",
            t.backend
        );
        assert!(channels::upsert_channel(&mut conn, &key(), &input(&b.id, "777")).is_err());
        assert!(
            channels::list_channels(&mut conn, &b.id)
                .unwrap()
                .is_empty()
        );
        assert_eq!(channels::list_all_channels(&mut conn).unwrap().len(), 1);
    }
}

#[test]
fn the_default_tenant_bootstrap_is_idempotent_and_refreshes_secrets() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, first) =
            ensure_default_tenant(&mut conn, &key(), input("", "1122334455667")).unwrap();
        assert_eq!(org.slug, "default");
        let rotated = ChannelInput {
            access_token: "EAAG-rotated".into(),
            ..input("", "1122334455667")
        };
        let (org2, second) = ensure_default_tenant(&mut conn, &key(), rotated).unwrap();
        assert_eq!(org, org2, "{}", t.backend);
        assert_eq!(first.id, second.id);
        assert_eq!(first.created_at, second.created_at);
        let stored = channels::find_channel_by_phone_number_id(&mut conn, "1122334455667")
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.open_secrets(&key()).unwrap().access_token,
            "EAAG-rotated"
        );
        assert_eq!(
            organizations::list_organizations(&mut conn).unwrap().len(),
            1
        );
        assert_eq!(channels::list_all_channels(&mut conn).unwrap().len(), 1);
    }
}
