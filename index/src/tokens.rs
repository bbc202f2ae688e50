//! API tokens: how machine clients (other agencies' systems) authenticate to the dashboard's
//! JSON API. A token acts as its user, with the user's role, so the same role checks and the same
//! audit log apply as on the pages.
//!
//! Only the SHA-256 of a token is stored: tokens are 256 random bits, so a fast hash cannot be
//! searched backwards, and a copy of the database does not hand out working tokens. Tokens are
//! revoked, never deleted, so the audit log's "via API token N" keeps pointing somewhere.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, Row};

use crate::db::with_pool;
use crate::error::StoreError;
use crate::store::{Store, User};

/// Longest label a token may carry, in bytes.
pub const MAX_TOKEN_LABEL: usize = 200;

/// A token as listed: what it is for and when it was used, never the token itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub username: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a bearer token presented to the API turned out to be.
#[derive(Debug, Clone)]
pub enum TokenCheck {
    /// A live token of an enabled user: the request acts as that user.
    Valid { token_id: i64, user: User },
    /// No token has this hash.
    Unknown,
    /// The token was revoked.
    Revoked { token_id: i64, username: String },
    /// The token's user is disabled, so none of the user's tokens work.
    UserDisabled { token_id: i64, username: String },
}

/// The stored form of a token.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Records a new API token of `username` (the caller makes the random token and shows it
    /// once); returns its id.
    pub async fn create_api_token(
        &self,
        username: &str,
        token: &str,
        label: &str,
    ) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool| {
            if label.len() > MAX_TOKEN_LABEL {
                return Err(StoreError::Invalid(format!(
                    "the label is {} bytes long; use at most {MAX_TOKEN_LABEL}",
                    label.len()
                )));
            }
            let user = self
                .user(username)
                .await?
                .ok_or(StoreError::NotFound("user"))?;
            Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, token_sha256, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user.id)
        .bind(token_hash(token))
        .bind(label)
        .bind(Utc::now())
        .fetch_one(pool)
        .await?)
        })
    }

    /// Looks a presented token up; a valid one has its last-used time set to now.
    pub async fn check_api_token(&self, token: &str) -> Result<TokenCheck, StoreError> {
        with_pool!(&self.pool, |pool| {
            let row = sqlx::query(
            "SELECT t.id AS token_id, t.revoked_at, u.id, u.username, u.role, u.password_hash, u.disabled
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(pool)
        .await?;
            let Some(row) = row else {
                return Ok(TokenCheck::Unknown);
            };
            let token_id: i64 = row.try_get("token_id")?;
            let revoked: Option<DateTime<Utc>> = row.try_get("revoked_at")?;
            let user = User::from_row(&row)?;
            if revoked.is_some() {
                return Ok(TokenCheck::Revoked {
                    token_id,
                    username: user.username,
                });
            }
            if user.disabled {
                return Ok(TokenCheck::UserDisabled {
                    token_id,
                    username: user.username,
                });
            }
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(Utc::now())
                .bind(token_id)
                .execute(pool)
                .await?;
            Ok(TokenCheck::Valid { token_id, user })
        })
    }

    /// The tokens of `username`, revoked ones included, oldest first.
    pub async fn api_tokens(&self, username: &str) -> Result<Vec<ApiToken>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let user = self
                .user(username)
                .await?
                .ok_or(StoreError::NotFound("user"))?;
            Ok(sqlx::query_as(
                "SELECT t.id, u.username, t.label, t.created_at, t.last_used_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1 ORDER BY t.id",
            )
            .bind(user.id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Revokes token `id` of `username`; it stops working at once.
    pub async fn revoke_api_token(&self, username: &str, id: i64) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            let token = self
                .api_tokens(username)
                .await?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or(StoreError::NotFound("API token of this user"))?;
            if token.revoked_at.is_some() {
                return Err(StoreError::Conflict(format!(
                    "API token {id} of {username} is already revoked"
                )));
            }
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
                .bind(Utc::now())
                .bind(id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_with_users() -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::testing::store().await;
        store.add_user("budi", "officer", "x").await.unwrap();
        store.add_user("ani", "analyst", "x").await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn tokens_authenticate_until_revoked() {
        let (_dir, store) = store_with_users().await;
        let id = store
            .create_api_token("budi", "rahasia-1", "One Data TPPO")
            .await
            .unwrap();
        let other = store
            .create_api_token("ani", "rahasia-2", "")
            .await
            .unwrap();
        assert_ne!(id, other);
        match store.check_api_token("rahasia-1").await.unwrap() {
            TokenCheck::Valid { token_id, user } => {
                assert_eq!((token_id, user.username.as_str()), (id, "budi"));
                assert_eq!(user.role, "officer");
            }
            other => panic!("expected a valid token, got {other:?}"),
        }
        assert!(matches!(
            store.check_api_token("rahasia-3").await.unwrap(),
            TokenCheck::Unknown
        ));
        let listed = store.api_tokens("budi").await.unwrap();
        assert_eq!(listed.len(), 1, "only budi's tokens");
        assert_eq!(listed[0].label, "One Data TPPO");
        assert!(listed[0].last_used_at.is_some(), "use is recorded");

        // Another user's token id cannot be revoked through this user.
        assert!(matches!(
            store.revoke_api_token("budi", other).await,
            Err(StoreError::NotFound(_))
        ));
        store.revoke_api_token("budi", id).await.unwrap();
        assert!(matches!(
            store.check_api_token("rahasia-1").await.unwrap(),
            TokenCheck::Revoked { token_id, .. } if token_id == id
        ));
        assert!(matches!(
            store.revoke_api_token("budi", id).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.check_api_token("rahasia-2").await.unwrap(),
            TokenCheck::Valid { .. }
        ));
    }

    #[tokio::test]
    async fn a_disabled_users_tokens_stop_working() {
        let (_dir, store) = store_with_users().await;
        store
            .create_api_token("ani", "rahasia-2", "")
            .await
            .unwrap();
        store
            .execute_raw("UPDATE users SET disabled = TRUE WHERE username = 'ani'")
            .await
            .unwrap();
        assert!(matches!(
            store.check_api_token("rahasia-2").await.unwrap(),
            TokenCheck::UserDisabled { username, .. } if username == "ani"
        ));
    }

    #[tokio::test]
    async fn only_the_hash_is_stored_and_users_must_exist() {
        let (_dir, store) = store_with_users().await;
        store
            .create_api_token("budi", "rahasia-1", "")
            .await
            .unwrap();
        let stored = store
            .strings_raw("SELECT token_sha256 FROM api_tokens")
            .await
            .unwrap();
        assert_eq!(stored, [token_hash("rahasia-1")]);
        assert!(!stored[0].contains("rahasia"));
        assert!(matches!(
            store.create_api_token("siapa", "t", "").await,
            Err(StoreError::NotFound("user"))
        ));
        assert!(matches!(
            store
                .create_api_token("budi", "t", &"x".repeat(MAX_TOKEN_LABEL + 1))
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
}
