//! The `users` collection.

use bson::doc;
use bson::oid::ObjectId;
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub email: String,
    /// argon2id PHC string; never leaves this service.
    pub password: String,
}

/// What the API shows of a user.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
}

impl User {
    pub const COLLECTION: &'static str = "users";

    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.to_hex(),
            email: self.email.clone(),
        }
    }
}

/// The unique index is what makes "Email in use" hold when two sign-ups race: the loser's insert
/// fails with a duplicate key.
pub async fn ensure_indexes(users: &Collection<User>) -> mongodb::error::Result<()> {
    let index = IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(
            IndexOptions::builder()
                .unique(true)
                .name("email_unique".to_owned())
                .build(),
        )
        .build();
    users.create_index(index).await?;
    Ok(())
}

pub async fn find_by_email(
    users: &Collection<User>,
    email: &str,
) -> mongodb::error::Result<Option<User>> {
    users.find_one(doc! { "email": email }).await
}
