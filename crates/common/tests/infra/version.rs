//! The version rules against MongoDB.

use bson::oid::ObjectId;
use bson::{Document, doc};
use common::outbox::Outbox;
use common::version::{Applied, SaveError, apply_replica, is_stale, save_owned, stored_version};
use mongodb::Collection;
use test_support::mongo::TestDb;
use test_support::nats::TestNats;

use crate::helpers::{connect, ticket_created};

async fn collection(db: &TestDb) -> Collection<Document> {
    db.db.collection("things")
}

async fn stored(things: &Collection<Document>, id: ObjectId) -> Document {
    things
        .find_one(doc! { "_id": id })
        .await
        .expect("reads")
        .expect("exists")
}

#[tokio::test]
async fn the_second_of_two_saves_from_one_read_is_stale() {
    let db = TestDb::new().await;
    let things = collection(&db).await;
    let id = ObjectId::new();
    things
        .insert_one(doc! { "_id": id, "title": "a", "version": 0_i64 })
        .await
        .expect("inserts");

    // Two writers read version 0.
    let read = stored_version(&stored(&things, id).await).expect("versioned");
    let first = save_owned(&things, None, id, read, doc! { "$set": { "title": "b" } }).await;
    let second = save_owned(&things, None, id, read, doc! { "$set": { "title": "c" } }).await;
    assert_eq!(first.expect("first save wins"), 1);
    assert!(matches!(second, Err(SaveError::Stale)), "{second:?}");

    let now = stored(&things, id).await;
    assert_eq!(
        (now.get_str("title"), stored_version(&now)),
        (Ok("b"), Some(1))
    );
    let third = save_owned(&things, None, id, 1, doc! { "$set": { "title": "d" } }).await;
    assert_eq!(third.expect("saves"), 2, "one more per save");
    assert!(matches!(
        save_owned(
            &things,
            None,
            ObjectId::new(),
            0,
            doc! { "$set": { "title": "x" } }
        )
        .await,
        Err(SaveError::Stale)
    ));
}

#[tokio::test]
async fn a_stale_save_inside_a_transaction_rolls_back_its_event() {
    let nats = TestNats::start().await;
    let db = TestDb::new().await;
    let outbox = Outbox::new(db.client.clone(), &db.db, connect(&nats).await.publisher());
    let things = collection(&db).await;
    let id = ObjectId::new();
    things
        .insert_one(doc! { "_id": id, "title": "a", "version": 3_i64 })
        .await
        .expect("inserts");

    let event = ticket_created("never");
    let error = common::transaction!(outbox, |tx| {
        tx.publish(&event).await?;
        // Read at version 2, but it is at 3 by now.
        save_owned(
            &things,
            Some(tx.session()),
            id,
            2,
            doc! { "$set": { "title": "b" } },
        )
        .await?;
        Ok(())
    })
    .expect_err("stale");
    assert!(is_stale(&error), "{error}");
    assert_eq!(outbox.pending().await.expect("counts"), 0);
    assert_eq!(stored(&things, id).await.get_str("title"), Ok("a"));
}

#[tokio::test]
async fn a_replica_applies_versions_in_order_whatever_the_delivery_order() {
    let db = TestDb::new().await;
    let replica = collection(&db).await;
    let id = ObjectId::new();
    let apply = |version: i64| {
        let replica = replica.clone();
        async move {
            apply_replica(
                &replica,
                None,
                id,
                version,
                doc! { "title": format!("v{version}"), "price": 10.0 + version as f64 },
            )
            .await
            .expect("applies")
        }
    };

    assert_eq!(apply(1).await, Applied::NotYet { stored: None });
    assert_eq!(apply(0).await, Applied::Applied);
    assert_eq!(apply(0).await, Applied::Duplicate);
    assert_eq!(apply(2).await, Applied::NotYet { stored: Some(0) });
    assert_eq!(apply(1).await, Applied::Applied);
    assert_eq!(apply(2).await, Applied::Applied);
    assert_eq!(apply(1).await, Applied::Duplicate);

    let now = stored(&replica, id).await;
    assert_eq!(now.get_str("title"), Ok("v2"));
    assert_eq!(now.get_f64("price"), Ok(12.0));
    assert_eq!(stored_version(&now), Some(2));
}

#[tokio::test]
async fn racing_replicas_apply_an_event_once() {
    let db = TestDb::new().await;
    let replica = collection(&db).await;
    let id = ObjectId::new();
    apply_replica(&replica, None, id, 0, doc! { "title": "v0" })
        .await
        .expect("applies");

    let racers = (0..8).map(|_| {
        let replica = replica.clone();
        tokio::spawn(async move {
            apply_replica(&replica, None, id, 1, doc! { "title": "v1" })
                .await
                .expect("applies")
        })
    });
    let outcomes: Vec<Applied> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|joined| joined.expect("no panic"))
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Applied::Applied).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Applied::Applied | Applied::Duplicate))
    );
}
