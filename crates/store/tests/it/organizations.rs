use switchboard_domain::Role;
use switchboard_store::StoreError;
use switchboard_store::repo::{organizations, pipelines, users};
use switchboard_store::testing::TestDb;

#[test]
fn creates_an_organization_with_its_default_pipeline() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme Corp", None).unwrap();
        assert_eq!(org.slug, "acme-corp", "{}", t.backend);
        let pipeline = pipelines::find_default_pipeline(&mut conn, &org.id)
            .unwrap()
            .expect("default pipeline");
        let stages = pipelines::list_stages(&mut conn, &org.id, &pipeline.id).unwrap();
        let names: Vec<_> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, pipelines::DEFAULT_STAGES, "{}", t.backend);
        assert_eq!(stages[0].position, 0);
    }
}

#[test]
fn finds_by_id_or_slug_and_lists_in_creation_order() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let a = organizations::insert_organization(&mut conn, "Alpha", Some("alpha")).unwrap();
        let b = organizations::insert_organization(&mut conn, "Beta", None).unwrap();
        assert_eq!(
            organizations::find_organization_by_id_or_slug(&mut conn, &a.id).unwrap(),
            a
        );
        assert_eq!(
            organizations::find_organization_by_id_or_slug(&mut conn, "beta").unwrap(),
            b
        );
        assert!(matches!(
            organizations::find_organization_by_id_or_slug(&mut conn, "nope"),
            Err(StoreError::NotFound("organization"))
        ));
        let listed = organizations::list_organizations(&mut conn).unwrap();
        assert_eq!(listed, vec![a, b], "{}", t.backend);
    }
}

#[test]
fn a_taken_or_invalid_slug_is_refused_and_changes_nothing() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let err =
            organizations::insert_organization(&mut conn, "Acme again", Some("acme")).unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "{}: {err}",
            t.backend
        );
        assert!(matches!(
            organizations::insert_organization(&mut conn, "X", Some("Not A Slug")),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            organizations::insert_organization(&mut conn, "  ", None),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            organizations::list_organizations(&mut conn).unwrap().len(),
            1,
            "{}",
            t.backend
        );
    }
}

#[test]
fn ensure_organization_is_idempotent() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let first = organizations::ensure_organization(&mut conn, "Default", "default").unwrap();
        let second = organizations::ensure_organization(&mut conn, "Default", "default").unwrap();
        assert_eq!(first, second);
        assert_eq!(
            organizations::list_organizations(&mut conn).unwrap().len(),
            1
        );
    }
}

#[test]
fn users_are_scoped_to_their_organization() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let a = organizations::insert_organization(&mut conn, "A", None).unwrap();
        let b = organizations::insert_organization(&mut conn, "B", None).unwrap();
        let ana = users::insert_user(
            &mut conn,
            &a.id,
            "Ana",
            Some("Ana@Example.com"),
            Role::Admin,
        )
        .unwrap();
        assert_eq!(ana.email.as_deref(), Some("ana@example.com"));
        assert_eq!(
            users::find_user(&mut conn, &a.id, &ana.id).unwrap(),
            Some(ana.clone())
        );
        assert_eq!(
            users::find_user(&mut conn, &b.id, &ana.id).unwrap(),
            None,
            "{}",
            t.backend
        );
        assert!(users::list_users(&mut conn, &b.id).unwrap().is_empty());
        let dup = users::insert_user(
            &mut conn,
            &a.id,
            "Ana 2",
            Some("ana@example.com"),
            Role::Seller,
        );
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{}", t.backend);
    }
}
