use diesel::prelude::*;
use switchboard_store::models::{Organization, new_id, now};
use switchboard_store::repo::organizations as repo;
use switchboard_store::schema::organizations;
use switchboard_store::testing::TestDb;
use switchboard_store::writer::{Batch, GroupCommit};
use switchboard_store::{AnyConnection, StoreError};

/// Creates an organization per item; a poisoned item fails its whole transaction, as a
/// database error would.
struct NewOrg {
    name: String,
    poisoned: bool,
}

impl Batch for NewOrg {
    type Output = String;

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for item in items {
            let at = now();
            let org = Organization {
                id: new_id(),
                name: item.name.clone(),
                slug: new_id(),
                settings: "{}".into(),
                created_at: at,
                updated_at: at,
            };
            diesel::insert_into(organizations::table)
                .values(&org)
                .execute(conn)?;
            ids.push(org.id);
            if item.poisoned {
                return Err(StoreError::Internal(format!("{} is poisoned", item.name)));
            }
        }
        Ok(ids)
    }
}

#[tokio::test]
async fn a_failing_item_fails_alone_and_its_neighbours_are_committed_once() {
    for t in TestDb::all() {
        let writer = GroupCommit::start(t.db.clone(), "test", 64, None).unwrap();
        // Queued together, so the writer takes several into one batch, which the poisoned
        // item fails; the others must then be committed one by one.
        let writes: Vec<_> = (0..20)
            .map(|i| {
                let writer = writer.clone();
                let item = NewOrg {
                    name: format!("Org {i}"),
                    poisoned: i == 7,
                };
                tokio::spawn(async move { (i, writer.write(item).await) })
            })
            .collect();
        for write in writes {
            let (i, result) = write.await.unwrap();
            match result {
                Ok(_) => assert_ne!(i, 7, "{}", t.backend),
                Err(e) => {
                    assert_eq!(i, 7, "{}: {e}", t.backend);
                    assert!(e.to_string().contains("Org 7 is poisoned"), "{e}");
                }
            }
        }
        let mut names: Vec<_> = repo::list_organizations(&mut t.db.conn().unwrap())
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .filter(|n| n.starts_with("Org "))
            .collect();
        names.sort();
        let mut expected: Vec<_> = (0..20)
            .filter(|i| *i != 7)
            .map(|i| format!("Org {i}"))
            .collect();
        expected.sort();
        assert_eq!(names, expected, "{}", t.backend);
    }
}
