//! The `users` collection.

use bson::doc;
use bson::oid::ObjectId;
use mongodb::options::{Collation, CollationStrength, IndexOptions};
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub id: String,
    #[schema(format = Email)]
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

/// How emails compare: case-insensitively (`x@case.com` and `X@CASE.COM` are one account), as
/// mail systems treat them in practice; the address is kept as the user typed it. Strength 2
/// compares letters and accents, not case.
fn email_collation() -> Collation {
    Collation::builder()
        .locale("en")
        .strength(CollationStrength::Secondary)
        .build()
}

/// The unique index is what makes "Email in use" hold when two sign-ups race: the loser's insert
/// fails with a duplicate key. It compares with [`email_collation`], so it also refuses an
/// address that differs only in case; the lookups below use the same collation, so they use it.
///
/// A database holding two accounts whose addresses differ only in case (written before this
/// index) cannot take it: that is logged, the exact-match index `email_unique` still holds, and
/// an operator merges the two.
pub async fn ensure_indexes(users: &Collection<User>) -> mongodb::error::Result<()> {
    let exact = IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(
            IndexOptions::builder()
                .unique(true)
                .name("email_unique".to_owned())
                .build(),
        )
        .build();
    users.create_index(exact).await?;
    let any_case = IndexModel::builder()
        .keys(doc! { "email": 1 })
        .options(
            IndexOptions::builder()
                .unique(true)
                .name("email_unique_any_case".to_owned())
                .collation(email_collation())
                .build(),
        )
        .build();
    match users.create_index(any_case).await {
        Ok(_) => Ok(()),
        Err(error) if common::mongo::is_duplicate_key(&error) => {
            tracing::error!(%error, "two accounts' emails differ only in case; emails are compared exactly until they are merged");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

pub async fn find_by_email(
    users: &Collection<User>,
    email: &str,
) -> mongodb::error::Result<Option<User>> {
    users
        .find_one(doc! { "email": email })
        .collation(email_collation())
        .await
}
