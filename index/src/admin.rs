//! Queries behind the dashboard's admin and operator pages and its charts: user accounts (with
//! the guard that always keeps one active admin), each source's latest runs and fetch errors, and
//! counts of flagged posts per day, destination country and Kalbar regency.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::db::{Backend, with_pool};
use crate::error::StoreError;
use crate::store::{RunRecord, RunRow, Store};

/// The roles a user can have (the `users.role` CHECK constraint allows the same).
pub const ROLES: &[&str] = &["officer", "analyst", "admin"];

/// A user account as admins see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UserSummary {
    pub username: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// The newest `login` entry of the audit log (the store keeps no other trace of logins).
    pub last_login: Option<DateTime<Utc>>,
    /// Sessions not yet expired.
    pub sessions: i64,
}

/// What a change to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    Done,
    UnknownUser,
    /// Refused: the user is the last active admin, and nobody could manage accounts after it.
    LastAdmin,
}

/// A URL that failed (or was skipped) during a crawl.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FetchErrorRecord {
    pub url: String,
    pub kind: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// What flagged posts are counted by, from the places and destinations in their verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// The ISO country code of each destination abroad the post names.
    DestinationCountry,
    /// The regency (kabupaten or kota) of each Kalbar place the post names.
    Regency,
}

impl Breakdown {
    /// The array in the verdict JSON and the field of its items that is counted.
    fn json_keys(self) -> (&'static str, &'static str) {
        match self {
            Breakdown::DestinationCountry => ("destinations", "country"),
            Breakdown::Regency => ("places", "regency"),
        }
    }
}

/// Holds for the row of the only active admin: disabling or demoting that user would leave nobody
/// able to manage accounts. Checked inside the UPDATE itself, so two admins demoting each other at
/// once cannot both succeed.
const LAST_ACTIVE_ADMIN: &str = "(role = 'admin' AND NOT disabled
    AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled) = 1)";

/// Midnight UTC at the start of `day`.
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

impl Store {
    /// Every user account, by name.
    pub async fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(
            "SELECT u.username, u.role, u.created_at, u.disabled,
               (SELECT MAX(a.at) FROM audit_log a WHERE a.action = 'login' AND a.actor = u.username) AS last_login,
               (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $1) AS sessions
             FROM users u ORDER BY u.username",
        )
        .bind(Utc::now())
        .fetch_all(pool)
        .await?)
        })
    }

    /// Gives a user another role (one of [`ROLES`]); refused for the last active admin unless the
    /// new role is admin too.
    pub async fn set_role(&self, username: &str, role: &str) -> Result<AccountChange, StoreError> {
        let sql = format!(
            "UPDATE users SET role = $1 WHERE username = $2 AND ($3 = 'admin' OR NOT {LAST_ACTIVE_ADMIN})"
        );
        self.change_account(username, &sql, &[role, username, role], false)
            .await
    }

    /// Disables a user, ending their sessions at once (refused for the last active admin), or
    /// enables them again.
    pub async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<AccountChange, StoreError> {
        if disabled {
            let sql = format!(
                "UPDATE users SET disabled = TRUE WHERE username = $1 AND NOT {LAST_ACTIVE_ADMIN}"
            );
            self.change_account(username, &sql, &[username], true).await
        } else {
            let sql = "UPDATE users SET disabled = FALSE WHERE username = $1";
            self.change_account(username, sql, &[username], false).await
        }
    }

    /// Replaces a user's password hash and ends their sessions (whoever held the old password is
    /// logged out).
    pub async fn reset_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<AccountChange, StoreError> {
        let sql = "UPDATE users SET password_hash = $1 WHERE username = $2";
        self.change_account(username, sql, &[password_hash, username], true)
            .await
    }

    /// Runs `update` with `binds` (an UPDATE of `username`'s row whose WHERE holds any guard)
    /// in a transaction, then ends the user's sessions if asked. An update that matched no row
    /// was refused by its guard when the user exists.
    async fn change_account(
        &self,
        username: &str,
        update: &str,
        binds: &[&str],
        end_sessions: bool,
    ) -> Result<AccountChange, StoreError> {
        with_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            let update = binds
                .iter()
                .fold(sqlx::query(update), |q, value| q.bind(*value));
            if update.execute(&mut *tx).await?.rows_affected() == 0 {
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
                        .bind(username)
                        .fetch_one(&mut *tx)
                        .await?;
                return Ok(if exists {
                    AccountChange::LastAdmin
                } else {
                    AccountChange::UnknownUser
                });
            }
            if end_sessions {
                sqlx::query(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1)",
            )
            .bind(username)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(AccountChange::Done)
        })
    }

    /// The sources the store has seen (id, kind), for when the sources file is not at hand.
    pub async fn known_sources(&self) -> Result<Vec<(String, String)>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as("SELECT id, kind FROM sources ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// A source's latest runs, newest first.
    pub async fn runs_of(&self, source_id: &str, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let sql = format!(
                "SELECT {} FROM crawl_runs WHERE source_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
                Store::RUN_COLUMNS
            );
            let rows: Vec<RunRow> = sqlx::query_as(&sql)
                .bind(source_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(RunRecord::try_from).collect()
        })
    }

    /// A source's latest failed or skipped URLs, newest first.
    pub async fn fetch_errors_of(
        &self,
        source_id: &str,
        limit: i64,
    ) -> Result<Vec<FetchErrorRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(
                "SELECT url, kind, message, at FROM fetch_errors WHERE source_id = $1
             ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(source_id)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Flagged posts per UTC day they were first seen, one entry for every day from `since` to
    /// `until` (zero when none).
    pub async fn flagged_per_day(
        &self,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<(NaiveDate, i64)>, StoreError> {
        let day = match self.backend() {
            Backend::Sqlite => "substr(p.first_seen, 1, 10)",
            Backend::Postgres => "to_char(p.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        };
        let sql = format!(
            "SELECT {day} AS day, COUNT(*) FROM posts p JOIN verdicts v ON v.post_id = p.id
             WHERE v.flagged AND p.first_seen >= $1 AND p.first_seen < $2 GROUP BY day"
        );
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
                .bind(start_of(since))
                .bind(start_of(until + chrono::Duration::days(1)))
                .fetch_all(pool)
                .await?;
            let counts: std::collections::HashMap<String, i64> = rows.into_iter().collect();
            Ok(since
                .iter_days()
                .take_while(|d| *d <= until)
                .map(|d| (d, counts.get(&d.to_string()).copied().unwrap_or(0)))
                .collect())
        })
    }

    /// Flagged posts first seen since `since` (a UTC day), counted per destination country or
    /// Kalbar regency named in their verdicts; a post naming two places of one regency counts
    /// once. The `limit` largest, largest first.
    pub async fn flagged_by(
        &self,
        breakdown: Breakdown,
        since: NaiveDate,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        // The verdict is JSON text; each backend has its own JSON functions.
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT json_extract(e.value, '$.' || $1) AS label, COUNT(DISTINCT v.post_id) AS n
                 FROM verdicts v JOIN posts p ON p.id = v.post_id, json_each(v.detail, '$.' || $2) e
                 WHERE v.flagged AND p.first_seen >= $3
                 GROUP BY label HAVING label IS NOT NULL ORDER BY n DESC, label LIMIT $4"
            }
            Backend::Postgres => {
                "SELECT e.value ->> $1 AS label, COUNT(DISTINCT v.post_id) AS n
                 FROM verdicts v JOIN posts p ON p.id = v.post_id,
                   jsonb_array_elements(v.detail::jsonb -> $2) e
                 WHERE v.flagged AND p.first_seen >= $3 AND e.value ->> $1 IS NOT NULL
                 GROUP BY label ORDER BY n DESC, label LIMIT $4"
            }
        };
        let (array, field) = breakdown.json_keys();
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(sql)
                .bind(field)
                .bind(array)
                .bind(start_of(since))
                .bind(limit)
                .fetch_all(pool)
                .await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use patroli_crawler::{CollectedPost, Snapshot};

    use super::*;

    use crate::testing::store;

    async fn session_count(store: &Store, name: &str) -> i64 {
        store
            .users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.username == name)
            .unwrap()
            .sessions
    }

    #[tokio::test]
    async fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
        let (_d, store) = store().await;
        store.add_user("kapolres", "admin", "h").await.unwrap();
        store.add_user("wakil", "admin", "h").await.unwrap();
        store.add_user("budi", "officer", "h").await.unwrap();

        assert_eq!(
            store.set_disabled("wakil", true).await.unwrap(),
            AccountChange::Done
        );
        assert_eq!(
            store.set_disabled("kapolres", true).await.unwrap(),
            AccountChange::LastAdmin
        );
        assert_eq!(
            store.set_role("kapolres", "officer").await.unwrap(),
            AccountChange::LastAdmin
        );
        assert_eq!(
            store.set_role("kapolres", "admin").await.unwrap(),
            AccountChange::Done,
            "keeping the admin role is no loss"
        );
        assert_eq!(
            store.set_disabled("budi", true).await.unwrap(),
            AccountChange::Done,
            "non-admins are not guarded"
        );
        assert_eq!(
            store.set_role("nobody", "officer").await.unwrap(),
            AccountChange::UnknownUser
        );
        // With a second active admin again, the first may step down.
        store.set_disabled("wakil", false).await.unwrap();
        assert_eq!(
            store.set_role("kapolres", "analyst").await.unwrap(),
            AccountChange::Done
        );
        let roles: Vec<(String, String, bool)> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.username, u.role, u.disabled))
            .collect();
        assert_eq!(
            roles,
            [
                ("budi".into(), "officer".into(), true),
                ("kapolres".into(), "analyst".into(), false),
                ("wakil".into(), "admin".into(), false)
            ]
        );
    }

    #[tokio::test]
    async fn disabling_and_password_resets_end_sessions() {
        let (_d, store) = store().await;
        let id = store.add_user("budi", "officer", "old").await.unwrap();
        let day = chrono::Duration::days(1);
        store.create_session("t1", id, "c", day).await.unwrap();
        store.create_session("t2", id, "c", day).await.unwrap();
        assert_eq!(session_count(&store, "budi").await, 2);

        store.reset_password("budi", "new").await.unwrap();
        assert_eq!(session_count(&store, "budi").await, 0);
        assert!(store.session("t1").await.unwrap().is_none());
        assert_eq!(
            store.user("budi").await.unwrap().unwrap().password_hash,
            "new"
        );

        store.create_session("t3", id, "c", day).await.unwrap();
        store.set_disabled("budi", true).await.unwrap();
        assert_eq!(session_count(&store, "budi").await, 0);
        store.set_disabled("budi", false).await.unwrap();
        assert!(
            store.session("t3").await.unwrap().is_none(),
            "enabling again does not bring old sessions back"
        );
    }

    #[tokio::test]
    async fn last_login_comes_from_the_audit_log() {
        let (_d, store) = store().await;
        store.add_user("budi", "officer", "h").await.unwrap();
        store.add_user("siti", "analyst", "h").await.unwrap();
        store
            .audit("budi", "login", None, None, None)
            .await
            .unwrap();
        store
            .audit("siti", "login_failed", None, None, None)
            .await
            .unwrap();
        let users = store.users().await.unwrap();
        assert!(users[0].last_login.is_some());
        assert!(
            users[1].last_login.is_none(),
            "a failed login is not a login"
        );
    }

    fn verdict_json(
        flagged: bool,
        countries: &[&str],
        regencies: &[&str],
    ) -> patroli_classifier::Verdict {
        let span = serde_json::json!({"start": 0, "end": 1, "text": "x"});
        serde_json::from_value(serde_json::json!({
            "score": 0.9, "level": "high", "flagged": flagged, "lang": "id_ms", "kalbar": !regencies.is_empty(),
            "indicators": [],
            "places": regencies.iter().map(|r| serde_json::json!({"name": "p", "kind": "kecamatan", "regency": r, "span": span})).collect::<Vec<_>>(),
            "destinations": countries.iter().map(|c| serde_json::json!({"name": "d", "country": c, "span": span})).collect::<Vec<_>>(),
            "entities": [], "salaries": [], "ruleset_version": "t"
        }))
        .unwrap()
    }

    /// Stores a post first seen on `day` with a verdict.
    async fn flagged_post(
        store: &Store,
        key: &str,
        day: u32,
        verdict: &patroli_classifier::Verdict,
    ) {
        let snapshot = Snapshot {
            requested_url: "http://site.test/".into(),
            final_url: "http://site.test/".into(),
            status: 200,
            headers: vec![],
            body: key.as_bytes().to_vec(),
            sha256: "0".repeat(64),
            fetched_at: Utc.with_ymd_and_hms(2026, 3, day, 23, 30, 0).unwrap(),
        };
        let post = CollectedPost {
            source_id: "s".into(),
            url: format!("http://site.test/{key}"),
            external_id: Some(key.into()),
            title: None,
            text: format!("teks {key}"),
            author: None,
            location: None,
            published: None,
        };
        let saved = store.save_page(&snapshot, &[post]).await.unwrap();
        store.save_verdict(saved[0].0, verdict).await.unwrap();
    }

    #[tokio::test]
    async fn flagged_posts_are_counted_per_day_country_and_regency() {
        let (_d, store) = store().await;
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        flagged_post(
            &store,
            "a",
            2,
            &verdict_json(true, &["MY", "MY", "KH"], &["Sambas", "Sambas"]),
        )
        .await;
        flagged_post(&store, "b", 2, &verdict_json(true, &["MY"], &["Sanggau"])).await;
        flagged_post(&store, "c", 4, &verdict_json(true, &["MY"], &[])).await;
        flagged_post(&store, "d", 4, &verdict_json(false, &["KH"], &["Sambas"])).await;
        flagged_post(&store, "old", 1, &verdict_json(true, &["KH"], &["Sambas"])).await;

        assert_eq!(
            store.flagged_per_day(day(2), day(5)).await.unwrap(),
            [(day(2), 2), (day(3), 0), (day(4), 1), (day(5), 0)]
        );
        let by = |b| store.flagged_by(b, day(2), 10);
        assert_eq!(
            by(Breakdown::DestinationCountry).await.unwrap(),
            [("MY".to_string(), 3), ("KH".to_string(), 1)],
            "a post naming a country twice counts once; unflagged and older posts not at all"
        );
        assert_eq!(
            by(Breakdown::Regency).await.unwrap(),
            [("Sambas".to_string(), 1), ("Sanggau".to_string(), 1)]
        );
        assert_eq!(
            store
                .flagged_by(Breakdown::DestinationCountry, day(2), 1)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
