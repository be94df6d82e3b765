use switchboard_domain::Role;
use switchboard_store::repo::{organizations, tokens};
use switchboard_store::testing::TestDb;

#[test]
fn a_token_is_found_by_its_plaintext_and_stored_only_as_a_hash() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let issued =
            tokens::insert_user_with_token(&mut conn, &org.id, Role::Admin, Some("ci bot"))
                .unwrap();
        assert_eq!(issued.user.role, "ADMIN");
        assert_eq!(issued.user.name, "ci bot");
        assert_ne!(issued.token.token_hash, issued.plaintext);
        assert!(!issued.token.token_hash.contains(&issued.plaintext));

        let (token, user) = tokens::find_active_token(&mut conn, &issued.plaintext)
            .unwrap()
            .expect("found");
        assert_eq!(token.id, issued.token.id, "{}", t.backend);
        assert_eq!(user.organization_id, org.id);
        assert!(
            tokens::find_active_token(&mut conn, "sb_wrong")
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn the_sqlite_file_never_holds_a_token_in_plaintext() {
    let t = TestDb::sqlite();
    let plaintext = {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        tokens::insert_user_with_token(&mut conn, &org.id, Role::Owner, None)
            .unwrap()
            .plaintext
    };
    let path = t.sqlite_path().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let needle = plaintext.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn revoked_tokens_stop_working_and_stay_listed() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let keep = tokens::insert_user_with_token(&mut conn, &org.id, Role::Seller, None).unwrap();
        let gone = tokens::insert_user_with_token(&mut conn, &org.id, Role::Manager, None).unwrap();
        let revoked = tokens::revoke_api_token(&mut conn, &gone.token.id).unwrap();
        assert!(revoked.revoked_at.is_some());
        // Revoking again keeps the first time.
        assert_eq!(
            tokens::revoke_api_token(&mut conn, &gone.token.id)
                .unwrap()
                .revoked_at,
            revoked.revoked_at
        );
        assert!(
            tokens::find_active_token(&mut conn, &gone.plaintext)
                .unwrap()
                .is_none(),
            "{}",
            t.backend
        );
        assert!(
            tokens::find_active_token(&mut conn, &keep.plaintext)
                .unwrap()
                .is_some()
        );
        let listed = tokens::list_api_tokens(&mut conn, &org.id).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(tokens::revoke_api_token(&mut conn, "no-such-id").is_err());
    }
}

#[test]
fn one_organization_cannot_revoke_or_list_anothers_tokens() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let a = organizations::insert_organization(&mut conn, "A", None).unwrap();
        let b = organizations::insert_organization(&mut conn, "B", None).unwrap();
        let issued = tokens::insert_user_with_token(&mut conn, &a.id, Role::Owner, None).unwrap();
        assert!(
            tokens::list_api_tokens(&mut conn, &b.id)
                .unwrap()
                .is_empty()
        );
        assert!(tokens::revoke_org_api_token(&mut conn, &b.id, &issued.token.id).is_err());
        assert!(
            tokens::find_active_token(&mut conn, &issued.plaintext)
                .unwrap()
                .is_some(),
            "{}",
            t.backend
        );
    }
}
