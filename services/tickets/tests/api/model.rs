//! The ticket model's version rules.

use bson::oid::ObjectId;
use common::version::SaveError;
use tickets::models::ticket::Ticket;

use crate::helpers::TestApp;

#[tokio::test]
async fn implements_optimistic_concurrency_control() {
    let app = TestApp::spawn().await;
    let ticket = Ticket::new("concert".to_owned(), 5.0, ObjectId::new());
    app.store().create(&ticket).await.expect("saves");

    // Two instances read from the same stored version.
    let first = app.stored(ticket.id).await;
    let second = app.stored(ticket.id).await;

    app.store()
        .update_details(&first, "concert".to_owned(), 10.0)
        .await
        .expect("the first save wins");
    let outcome = app
        .store()
        .update_details(&second, "concert".to_owned(), 15.0)
        .await;
    assert!(matches!(outcome, Err(SaveError::Stale)), "{outcome:?}");

    let stored = app.stored(ticket.id).await;
    assert_eq!((stored.price, stored.version), (10.0, 1));
    assert_eq!(
        app.nats.bodies("ticket:updated").await.len(),
        1,
        "the stale save published nothing"
    );
}

#[tokio::test]
async fn increments_the_version_number_on_multiple_saves() {
    let app = TestApp::spawn().await;
    let ticket = Ticket::new("concert".to_owned(), 20.0, ObjectId::new());
    app.store().create(&ticket).await.expect("saves");
    assert_eq!(app.stored(ticket.id).await.version, 0);

    for expected in 1..=3 {
        let read = app.stored(ticket.id).await;
        let saved = app
            .store()
            .update_details(&read, format!("concert {expected}"), 20.0)
            .await
            .expect("saves");
        assert_eq!(saved.version, expected);
        let stored = app.stored(ticket.id).await;
        assert_eq!(stored.version, expected);
    }
    let versions: Vec<_> = app
        .nats
        .bodies("ticket:updated")
        .await
        .iter()
        .map(|body| body["version"].clone())
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}
