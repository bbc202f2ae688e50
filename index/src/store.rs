//! The SQL store: the source of truth for posts, evidence, verdicts, users and the audit log.
//! Every statement is parameterised; no text from a page or a user is ever spliced into SQL.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use patroli_classifier::{Lang, Level, Verdict};
use patroli_crawler::{CollectedPost, RobotsRecord, Snapshot, SourceState, Validators};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, QueryBuilder, Row};

pub use crate::db::Backend;
use crate::db::{Checkpointer, Conn, Pool, lock_feed, with_conn, with_pool};
use crate::error::StoreError;
use crate::reposts::Reposts;
use crate::simhash;

/// Name of the SQLite database file inside the data directory.
pub const DB_FILE: &str = "patroli.db";

/// What storing a collected post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    /// A post not seen before.
    New,
    /// Seen before with the same content: a new sighting only.
    Seen,
    /// Seen before, and its text changed: updated, with a new sighting.
    Changed,
}

/// A post as stored, with its current verdict if it has one.
#[derive(Debug, Clone, Serialize)]
pub struct PostRecord {
    pub id: i64,
    pub source_id: String,
    pub url: String,
    pub title: Option<String>,
    pub text: String,
    pub author: Option<String>,
    pub location: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
    pub verdict: Option<Verdict>,
    /// Where the post stands in the officers' workflow (`New` until someone acts on it).
    pub lead_status: LeadStatus,
}

impl PostRecord {
    /// The text the classifier reads and its spans point into: the title, a blank line, the
    /// body (or the body alone when there is no title).
    pub fn classified_text(&self) -> String {
        match self.title.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => format!("{t}\n\n{}", self.text),
            None => self.text.clone(),
        }
    }
}

/// A classified post as the search index takes it ([`Store::posts_changed_after`]): of the
/// verdict only what is indexed, so the feed does not rebuild every explanation's strings.
#[derive(Debug, Clone)]
pub struct IndexedPost {
    pub id: i64,
    pub source_id: String,
    pub url: String,
    pub title: Option<String>,
    pub text: String,
    pub author: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub lead_status: LeadStatus,
    pub verdict: IndexedVerdict,
}

/// The indexed part of a stored verdict (its JSON's other fields are skipped unread).
#[derive(Debug, Clone, Deserialize)]
pub struct IndexedVerdict {
    pub score: f64,
    pub level: Level,
    pub flagged: bool,
    pub lang: Lang,
    pub kalbar: bool,
    pub indicators: Vec<IndicatorId>,
    pub destinations: Vec<Country>,
    pub places: Vec<Regency>,
    pub entities: Vec<EntityValue>,
}

/// An indicator that fired, by id.
#[derive(Debug, Clone, Deserialize)]
pub struct IndicatorId {
    pub id: String,
}

/// The country of a destination named.
#[derive(Debug, Clone, Deserialize)]
pub struct Country {
    pub country: String,
}

/// The regency or city of a Kalbar place named.
#[derive(Debug, Clone, Deserialize)]
pub struct Regency {
    pub regency: String,
}

/// An identifier found (E.164 phone number, link, handle, e-mail address).
#[derive(Debug, Clone, Deserialize)]
pub struct EntityValue {
    pub value: String,
}

/// A snapshot's metadata (the body is fetched separately).
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub id: i64,
    pub final_url: String,
    pub status: u16,
    pub sha256: String,
    pub body_len: i64,
    pub fetched_at: DateTime<Utc>,
}

/// A user account.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
}

/// A logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub remote: Option<String>,
}

/// Writes verdicts and the identifiers they found (for recruiter networks): three statements
/// per chunk of posts, four on SQLite. Each verdict takes the next value of the search feed's
/// change sequence (migration 0016 on SQLite, 0006 on PostgreSQL) in its own row; the caller
/// holds the write lock, so values are committed in the order they are handed out.
async fn write_verdicts(conn: Conn<'_>, verdicts: &[(i64, &Verdict)]) -> Result<(), StoreError> {
    let now = Utc::now();
    let chunks: Vec<&[(i64, &Verdict)]> = verdicts.chunks(ROWS_PER_STATEMENT).collect();
    let details_of = |chunk: &[(i64, &Verdict)]| -> Vec<String> {
        chunk
            .iter()
            .map(|(_, v)| serde_json::to_string(v).expect("verdict serialises"))
            .collect()
    };
    let mut details = chunks.first().map(|c| details_of(c)).unwrap_or_default();
    with_conn!(conn, |conn| {
        for (n, &chunk) in chunks.iter().enumerate() {
            let first = next_changed_seq((&mut *conn).into(), chunk.len()).await?;
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO verdicts (post_id, ruleset_version, score, level, flagged, lang, kalbar, detail, classified_at, changed_seq) ",
            );
            q.push_values(
                chunk.iter().zip(std::mem::take(&mut details)).enumerate(),
                |mut row, (i, ((post_id, v), detail))| {
                    row.push_bind(post_id)
                        .push_bind(&*v.ruleset_version)
                        .push_bind(v.score)
                        .push_bind(v.level.as_str())
                        .push_bind(v.flagged)
                        .push_bind(v.lang.as_str())
                        .push_bind(v.kalbar)
                        .push_bind(detail)
                        .push_bind(now);
                    match first {
                        Some(first) => row.push_bind(first + i as i64),
                        None => row.push("nextval('posts_changed_seq')"),
                    };
                },
            );
            q.push(
            " ON CONFLICT(post_id) DO UPDATE SET ruleset_version = excluded.ruleset_version, score = excluded.score,
               level = excluded.level, flagged = excluded.flagged, lang = excluded.lang, kalbar = excluded.kalbar,
               detail = excluded.detail, classified_at = excluded.classified_at, changed_seq = excluded.changed_seq",
        );
            // The next chunk's verdicts are serialised while the database writes this chunk's:
            // the statement leaves for SQLite's worker thread (or the PostgreSQL server) when
            // first polled, so `biased` polls it first, and the serialising runs on this thread
            // in the meantime.
            let (written, next) = tokio::join!(
                biased;
                q.build().execute(&mut *conn),
                async { chunks.get(n + 1).map(|c| details_of(c)) },
            );
            written?;
            details = next.unwrap_or_default();
            let mut q = QueryBuilder::<Db>::new("DELETE FROM post_entities WHERE post_id IN (");
            let mut ids = q.separated(", ");
            for (post_id, _) in chunk {
                ids.push_bind(post_id);
            }
            q.push(")");
            q.build().execute(&mut *conn).await?;
            let entities: Vec<(i64, &'static str, &str)> = chunk
                .iter()
                .flat_map(|(post_id, v)| {
                    v.entities
                        .iter()
                        .map(move |e| (*post_id, identifier_kind(e.kind), e.value.as_str()))
                })
                .collect();
            for rows in entities.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::<Db>::new("INSERT INTO post_entities (post_id, kind, value) ")
                    .push_values(rows, |mut row, (post_id, kind, value)| {
                        row.push_bind(post_id).push_bind(kind).push_bind(value);
                    })
                    .push(" ON CONFLICT DO NOTHING")
                    .build()
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    })
}

/// Reserves `n` values of the search feed's change sequence and returns the first, on SQLite
/// (whose write lock this takes, if the transaction did not hold it yet). `None` on PostgreSQL,
/// where each row takes `nextval('posts_changed_seq')` under the feed lock.
async fn next_changed_seq(conn: Conn<'_>, n: usize) -> Result<Option<i64>, StoreError> {
    match conn {
        Conn::Sqlite(conn) => {
            let last: i64 =
                sqlx::query_scalar("UPDATE feed_counter SET seq = seq + $1 RETURNING seq")
                    .bind(n as i64)
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(Some(last - n as i64 + 1))
        }
        Conn::Postgres(_) => Ok(None),
    }
}

/// The rowid of the last row an INSERT created, where the backend reports it (SQLite).
trait LastRowid {
    const REPORTED: bool;
    fn last_rowid(&self) -> Option<i64>;
}

impl LastRowid for sqlx::sqlite::SqliteQueryResult {
    const REPORTED: bool = true;
    fn last_rowid(&self) -> Option<i64> {
        Some(self.last_insert_rowid())
    }
}

impl LastRowid for sqlx::postgres::PgQueryResult {
    const REPORTED: bool = false;
    fn last_rowid(&self) -> Option<i64> {
        None
    }
}

/// Rows per multi-row statement (bounds the bound parameters of one statement).
const ROWS_PER_STATEMENT: usize = 500;

/// Brings `reposts` up to date with the fingerprint log: all of it when it is not in step
/// with the committed log ([`Reposts::synced`] is `None`), else what was logged after it. Runs
/// with the write lock held, so nothing is logged meanwhile.
async fn catch_up_reposts(conn: Conn<'_>, reposts: &mut Reposts) -> Result<(), StoreError> {
    let after = match reposts.synced.take() {
        Some(seq) => seq,
        None => {
            *reposts = Reposts::default();
            0
        }
    };
    with_conn!(conn, |conn| {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT post_id, simhash FROM fingerprints WHERE seq > $1 ORDER BY seq")
                .bind(after)
                .fetch_all(&mut *conn)
                .await?;
        for (id, hash) in rows {
            reposts.insert(id, hash as u64);
        }
        Ok(())
    })
}

/// Logs the fingerprints of `posts` (id, SimHash; in page order, their fingerprints already in
/// `posts.simhash`), files them in `reposts`, and puts each in the oldest cluster among its
/// near-duplicates — stored, or earlier in this transaction — or in a cluster of its own. A
/// post heading its own cluster keeps `cluster_id` NULL, so most posts are written once; a
/// repost's is the id of its cluster's first post.
async fn assign_clusters(
    conn: Conn<'_>,
    posts: &[(i64, u64)],
    reposts: &mut Reposts,
) -> Result<(), StoreError> {
    with_conn!(conn, |conn| {
        if posts.is_empty() {
            return Ok(());
        }
        // Each post is filed before the next is looked up, so reposts on one page find each
        // other.
        let near: Vec<Vec<i64>> = posts
            .iter()
            .map(|(id, hash)| {
                let near = reposts.near(*id, *hash);
                reposts.insert(*id, *hash);
                near
            })
            .collect();
        // The clusters of the near-duplicates stored before this page (this page's own are
        // assigned below, in order).
        let on_page: HashSet<i64> = posts.iter().map(|(id, _)| *id).collect();
        let mut earlier: Vec<i64> = near
            .iter()
            .flatten()
            .filter(|id| !on_page.contains(id))
            .copied()
            .collect();
        earlier.sort_unstable();
        earlier.dedup();
        let mut cluster_of: HashMap<i64, i64> = HashMap::new();
        for chunk in earlier.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new("SELECT id, cluster_id FROM posts WHERE id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(id);
            }
            q.push(")");
            let rows: Vec<(i64, Option<i64>)> = q.build_query_as().fetch_all(&mut *conn).await?;
            cluster_of.extend(rows.into_iter().map(|(id, c)| (id, c.unwrap_or(id))));
        }
        let mut reposts_of: Vec<(i64, i64)> = Vec::new();
        for ((id, _), near) in posts.iter().zip(&near) {
            let cluster = near
                .iter()
                .filter_map(|other| cluster_of.get(other).copied())
                .min()
                .unwrap_or(*id);
            cluster_of.insert(*id, cluster);
            if cluster != *id {
                reposts_of.push((*id, cluster));
            }
        }
        for chunk in reposts_of.chunks(ROWS_PER_STATEMENT) {
            let mut q =
                QueryBuilder::<Db>::new("UPDATE posts SET cluster_id = v.column2 FROM (VALUES ");
            let mut values = q.separated(", ");
            for (id, cluster) in chunk {
                values.push("(");
                values.push_bind_unseparated(id);
                values.push_unseparated(", ");
                values.push_bind_unseparated(cluster);
                values.push_unseparated(")");
            }
            q.push(") AS v WHERE posts.id = v.column1");
            q.build().execute(&mut *conn).await?;
        }
        for chunk in posts.chunks(ROWS_PER_STATEMENT) {
            QueryBuilder::<Db>::new("INSERT INTO fingerprints (post_id, simhash) ")
                .push_values(chunk, |mut row, (id, hash)| {
                    row.push_bind(id).push_bind(*hash as i64);
                })
                .build()
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    })
}

/// Writes a page snapshot and the posts found on it (see [`Store::save_page`]) on `conn`, inside
/// the caller's transaction.
async fn write_page(
    conn: Conn<'_>,
    snapshot: &Snapshot,
    posts: &[CollectedPost],
    reposts: &mut Reposts,
) -> Result<Vec<(i64, PostOutcome)>, StoreError> {
    with_conn!(conn, |conn| {
        let headers = serde_json::to_string(&snapshot.headers).expect("headers serialise");
        let snapshot_id: i64 = sqlx::query_scalar(
        "INSERT INTO snapshots (requested_url, final_url, status, headers, body_gzip, body_len, sha256, fetched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&snapshot.requested_url)
    .bind(&snapshot.final_url)
    .bind(i64::from(snapshot.status))
    .bind(headers)
    .bind(gzip(&snapshot.body))
    .bind(snapshot.body.len() as i64)
    .bind(&snapshot.sha256)
    .bind(snapshot.fetched_at)
    .fetch_one(&mut *conn)
    .await?;
        let seen = snapshot.fetched_at;
        let keys: Vec<String> = posts
            .iter()
            .map(|p| p.external_id.clone().unwrap_or_else(|| p.url.clone()))
            .collect();
        let hashes: Vec<String> = posts
            .iter()
            .map(|p| content_hash(p.title.as_deref(), &p.text))
            .collect();
        // What is already stored, by (source, key): one query per chunk of keys, whatever the
        // sources. A join from the list, not `(source_id, post_key) IN (VALUES …)`: PostgreSQL
        // misjudges that form as matching much of the table and scans it.
        let mut stored: HashMap<(&str, &str), (i64, String)> = HashMap::new();
        let wanted: Vec<(&str, &str)> = posts
            .iter()
            .zip(&keys)
            .map(|(p, k)| (p.source_id.as_str(), k.as_str()))
            .collect();
        for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT p.source_id, p.post_key, p.id, p.content_sha256 FROM (VALUES ",
            );
            let mut values = q.separated(", ");
            for (source, key) in chunk {
                values.push("(");
                values.push_bind_unseparated(*source);
                values.push_unseparated(", ");
                values.push_bind_unseparated(*key);
                values.push_unseparated(")");
            }
            q.push(") AS v JOIN posts p ON p.source_id = v.column1 AND p.post_key = v.column2");
            let rows: Vec<(String, String, i64, String)> =
                q.build_query_as().fetch_all(&mut *conn).await?;
            for (source, key, id, hash) in rows {
                if let Some(k) = chunk.iter().find(|(s, k)| *s == source && *k == key) {
                    stored.insert(*k, (id, hash));
                }
            }
        }
        // New posts, once each (a page may list a post twice), in one insert per chunk.
        let mut fresh: Vec<usize> = Vec::new();
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, p) in posts.iter().enumerate() {
            let k = (p.source_id.as_str(), keys[i].as_str());
            if !stored.contains_key(&k) && !first_of.contains_key(&k) {
                first_of.insert(k, i);
                fresh.push(i);
            }
        }
        // The SimHash of every new or changed text, written with the post.
        let fingerprints: Vec<Option<u64>> = posts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let k = (p.source_id.as_str(), keys[i].as_str());
                let changed = stored.get(&k).is_some_and(|(_, old)| *old != hashes[i]);
                (changed || first_of.get(&k) == Some(&i)).then(|| {
                    simhash::simhash(&match p.title.as_deref() {
                        Some(t) => format!("{t}\n\n{}", p.text),
                        None => p.text.clone(),
                    })
                })
            })
            .collect();
        let mut new_ids: HashMap<(&str, &str), i64> = HashMap::new();
        for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new(
                "INSERT INTO posts (source_id, post_key, url, title, body, author, location, published_at, content_sha256, first_seen, last_seen, simhash) ",
            );
            q.push_values(chunk, |mut row, i| {
                let p = &posts[*i];
                row.push_bind(&p.source_id)
                    .push_bind(&keys[*i])
                    .push_bind(&p.url)
                    .push_bind(&p.title)
                    .push_bind(&p.text)
                    .push_bind(&p.author)
                    .push_bind(&p.location)
                    .push_bind(p.published)
                    .push_bind(&hashes[*i])
                    .push_bind(seen)
                    .push_bind(seen)
                    .push_bind(fingerprints[*i].map(|h| h as i64));
            });
            // SQLite gives a multi-row insert consecutive new rowids, one above the table's
            // highest, in VALUES order; reading them back row by row would cost a hand-off to
            // its worker thread per row. PostgreSQL says which id went to which key.
            if <<Db as sqlx::Database>::QueryResult as LastRowid>::REPORTED {
                let done = q.build().execute(&mut *conn).await?;
                let last = done.last_rowid().expect("SQLite reports the last rowid");
                if done.rows_affected() != chunk.len() as u64 {
                    return Err(StoreError::Corrupt("a new post was not stored".into()));
                }
                let first = last - chunk.len() as i64 + 1;
                for (i, id) in chunk.iter().zip(first..) {
                    new_ids.insert((posts[*i].source_id.as_str(), keys[*i].as_str()), id);
                }
            } else {
                q.push(" RETURNING id, source_id, post_key");
                let rows: Vec<(i64, String, String)> =
                    q.build_query_as().fetch_all(&mut *conn).await?;
                for (id, source, key) in rows {
                    let i = chunk
                        .iter()
                        .copied()
                        .find(|i| posts[*i].source_id == source && keys[*i] == key)
                        .ok_or_else(|| {
                            StoreError::Corrupt("an inserted post came back unknown".into())
                        })?;
                    new_ids.insert((posts[i].source_id.as_str(), keys[i].as_str()), id);
                }
            }
        }
        let mut out = Vec::with_capacity(posts.len());
        let mut to_cluster: Vec<(i64, u64)> = Vec::new();
        let mut seen_again: Vec<i64> = Vec::new();
        for (i, p) in posts.iter().enumerate() {
            let k = (p.source_id.as_str(), keys[i].as_str());
            let (id, outcome) = match (stored.get(&k), new_ids.get(&k), fingerprints[i]) {
                (None, Some(&id), Some(fingerprint)) => {
                    to_cluster.push((id, fingerprint));
                    (id, PostOutcome::New)
                }
                // Listed twice on one page: the second listing is a sighting.
                (None, Some(&id), None) => (id, PostOutcome::Seen),
                (Some((id, _)), _, None) => {
                    seen_again.push(*id);
                    (*id, PostOutcome::Seen)
                }
                (Some((id, _)), _, Some(fingerprint)) => {
                    sqlx::query(
                    "UPDATE posts SET url = $1, title = $2, body = $3, author = $4, location = $5, published_at = $6,
                     content_sha256 = $7, last_seen = $8, removed_at = NULL, simhash = $9, cluster_id = NULL
                     WHERE id = $10",
                )
                .bind(&p.url)
                .bind(&p.title)
                .bind(&p.text)
                .bind(&p.author)
                .bind(&p.location)
                .bind(p.published)
                .bind(&hashes[i])
                .bind(seen)
                .bind(fingerprint as i64)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                    // The old verdict judged the old text: the post is classified again.
                    sqlx::query("DELETE FROM verdicts WHERE post_id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    to_cluster.push((*id, fingerprint));
                    (*id, PostOutcome::Changed)
                }
                (None, None, _) => {
                    return Err(StoreError::Corrupt("a new post was not stored".into()));
                }
            };
            out.push((id, outcome));
        }
        for chunk in seen_again.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Db>::new("UPDATE posts SET last_seen = ");
            q.push_bind(seen).push(", removed_at = NULL WHERE id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(id);
            }
            q.push(")");
            q.build().execute(&mut *conn).await?;
        }
        assign_clusters((&mut *conn).into(), &to_cluster, reposts).await?;
        let sightings: Vec<(i64, &String)> = out.iter().map(|(id, _)| *id).zip(&hashes).collect();
        for chunk in sightings.chunks(ROWS_PER_STATEMENT) {
            QueryBuilder::<Db>::new(
                "INSERT INTO sightings (post_id, snapshot_id, seen_at, content_sha256) ",
            )
            .push_values(chunk, |mut row, (id, hash)| {
                row.push_bind(id)
                    .push_bind(snapshot_id)
                    .push_bind(seen)
                    .push_bind(*hash);
            })
            .build()
            .execute(&mut *conn)
            .await?;
        }
        Ok(out)
    })
}

/// Near-duplicate posts: one text posted again, here or elsewhere.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub posts: Vec<i64>,
    /// Distinct sources the text was posted on.
    pub sources: usize,
    /// Times the text was seen, over every post and re-fetch.
    pub sightings: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A post linked to another through shared identifiers.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkLink {
    pub post_id: i64,
    pub title: Option<String>,
    pub url: String,
    /// (kind, value) pairs both posts carry.
    pub shared: Vec<(String, String)>,
}

/// Posts linked, directly or through each other, by shared identifiers.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub posts: Vec<i64>,
    pub identifiers: Vec<(String, String)>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The class of identifier used to link posts: a WhatsApp link and a phone number with the same
/// E.164 value are the same contact.
fn identifier_kind(kind: patroli_classifier::EntityKind) -> &'static str {
    use patroli_classifier::EntityKind;
    match kind {
        EntityKind::Phone | EntityKind::Whatsapp => "phone",
        EntityKind::Telegram => "telegram",
        EntityKind::Instagram => "instagram",
        EntityKind::Email => "email",
    }
}

/// Where a lead stands in the officers' workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    InReview,
    Escalated,
    Closed,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::InReview => "in_review",
            LeadStatus::Escalated => "escalated",
            LeadStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<LeadStatus> {
        Some(match s {
            "new" => LeadStatus::New,
            "in_review" => LeadStatus::InReview,
            "escalated" => LeadStatus::Escalated,
            "closed" => LeadStatus::Closed,
            _ => return None,
        })
    }
}

/// Units a lead can be escalated to.
pub const ESCALATION_TARGETS: &[&str] = &[
    "investigating_unit",
    "immigration",
    "migrant_worker_protection",
];
/// Reasons a lead can be closed for.
pub const CLOSE_REASONS: &[&str] = &["taken_down", "case_opened", "false_positive", "duplicate"];

/// An officer's judgement of a lead: is it really illegal recruitment? Its label is the lead's
/// label in the officers' corpus, before anything the lead's status implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// A true positive.
    IllegalRecruitment,
    /// A false positive.
    NotIllegal,
}

impl Judgement {
    pub const ALL: [Judgement; 2] = [Judgement::IllegalRecruitment, Judgement::NotIllegal];

    /// The corpus label, which is also how it is stored and written in forms.
    pub fn label(self) -> &'static str {
        match self {
            Judgement::IllegalRecruitment => patroli_classifier::POSITIVE_LABEL,
            Judgement::NotIllegal => "not_illegal",
        }
    }

    pub fn parse(s: &str) -> Option<Judgement> {
        Self::ALL.into_iter().find(|j| j.label() == s)
    }
}

/// Who judged a lead, how and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgementRecord {
    pub judgement: Judgement,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A lead's current state.
#[derive(Debug, Clone, Serialize)]
pub struct Lead {
    pub status: LeadStatus,
    pub escalated_to: Option<String>,
    pub closed_reason: Option<String>,
    pub assignee: Option<String>,
    /// The latest officer's judgement, if any (earlier ones are in the lead's history).
    pub judgement: Option<JudgementRecord>,
}

/// One entry of a lead's history.
#[derive(Debug, Clone, Serialize)]
pub struct LeadEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// A change an officer makes to a lead.
#[derive(Debug, Clone)]
pub enum LeadChange {
    /// New status; `target` is the unit for `escalated`, the reason for `closed`.
    Status {
        status: LeadStatus,
        target: Option<String>,
    },
    Assign {
        to: String,
    },
    Note {
        text: String,
    },
    /// Marks the lead as a true or a false positive (replacing an earlier mark).
    Judge {
        judgement: Judgement,
    },
}

impl LeadChange {
    /// The change's name in the lead's history: `status`, `assign`, `note` or `judge`.
    pub fn action(&self) -> &'static str {
        match self {
            LeadChange::Status { .. } => "status",
            LeadChange::Assign { .. } => "assign",
            LeadChange::Note { .. } => "note",
            LeadChange::Judge { .. } => "judge",
        }
    }
}

/// A change to a source's frontier.
#[derive(Debug, Clone)]
pub enum FrontierOp {
    Queued {
        source_id: String,
        url: String,
        depth: usize,
    },
    Done {
        source_id: String,
        url: String,
    },
}

/// Counts for a crawl run record.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub source_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: usize,
    pub posts_new: usize,
    pub posts_seen: usize,
    pub errors: std::collections::BTreeMap<String, usize>,
    /// The first few failures, as (URL, what happened); not stored (every failure is, in
    /// `fetch_errors`).
    pub failures: Vec<(String, String)>,
    pub status: String,
}

/// The columns of [`Store::POST_COLUMNS`], as either backend returns them.
#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    source_id: String,
    url: String,
    title: Option<String>,
    body: String,
    author: Option<String>,
    location: Option<String>,
    published_at: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
    detail: Option<String>,
    lead_status: Option<String>,
}

impl TryFrom<PostRow> for PostRecord {
    type Error = StoreError;

    fn try_from(row: PostRow) -> Result<PostRecord, StoreError> {
        let verdict = row
            .detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("stored verdict is not valid: {e}")))?;
        Ok(PostRecord {
            id: row.id,
            source_id: row.source_id,
            url: row.url,
            title: row.title,
            text: row.body,
            author: row.author,
            location: row.location,
            published_at: row.published_at,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            removed_at: row.removed_at,
            verdict,
            lead_status: lead_status_of(row.lead_status)?,
        })
    }
}

impl TryFrom<PostRow> for IndexedPost {
    type Error = StoreError;

    fn try_from(row: PostRow) -> Result<IndexedPost, StoreError> {
        let detail = row.detail.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "post {} is in the search feed without a verdict",
                row.id
            ))
        })?;
        let verdict = serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("stored verdict is not valid: {e}")))?;
        Ok(IndexedPost {
            id: row.id,
            source_id: row.source_id,
            url: row.url,
            title: row.title,
            text: row.body,
            author: row.author,
            published_at: row.published_at,
            first_seen: row.first_seen,
            lead_status: lead_status_of(row.lead_status)?,
            verdict,
        })
    }
}

/// A post's lead status as stored (`New` when it is no lead).
fn lead_status_of(stored: Option<String>) -> Result<LeadStatus, StoreError> {
    Ok(stored
        .map(|s| {
            LeadStatus::parse(&s)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown lead status {s:?}")))
        })
        .transpose()?
        .unwrap_or(LeadStatus::New))
}

/// A post with its change sequence (the search feed).
#[derive(sqlx::FromRow)]
struct ChangedPostRow {
    changed_seq: i64,
    #[sqlx(flatten)]
    post: PostRow,
}

/// The columns of [`Store::RUN_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    source_id: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    pages: i64,
    posts_new: i64,
    posts_seen: i64,
    errors: String,
    status: String,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<RunRecord, StoreError> {
        Ok(RunRecord {
            source_id: r.source_id,
            started_at: r.started_at,
            finished_at: r.finished_at.unwrap_or_default(),
            pages: usize::try_from(r.pages).unwrap_or(0),
            posts_new: usize::try_from(r.posts_new).unwrap_or(0),
            posts_seen: usize::try_from(r.posts_seen).unwrap_or(0),
            errors: serde_json::from_str(&r.errors)
                .map_err(|e| StoreError::Corrupt(format!("run errors are not valid JSON: {e}")))?,
            failures: Vec::new(),
            status: r.status,
        })
    }
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// Repost candidates, shared by the clones; held for the whole of a page transaction.
    reposts: Arc<tokio::sync::Mutex<Reposts>>,
    /// A SQLite store's background checkpoints, until the last clone is dropped.
    pub(crate) checkpointer: Option<Arc<Checkpointer>>,
}

/// SHA-256 over a post's title and text, to tell a re-sighting from a changed post.
fn content_hash(title: Option<&str>, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(title.unwrap_or_default().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    hex::encode(h.finalize())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Corrupt(format!("snapshot body is not valid gzip: {e}")))?;
    Ok(out)
}

impl Store {
    /// Opens (creating if needed) the SQLite store in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let (pool, checkpointer) = Pool::open_sqlite(&data_dir.join(DB_FILE)).await?;
        Ok(Store::with_pool(pool, Some(Arc::new(checkpointer))))
    }

    /// Opens the store at `url`: a PostgreSQL URL (`postgres://user:password@host/db`), shared
    /// by several crawl workers and dashboard nodes, or `sqlite:PATH` for a SQLite file. Applies
    /// the migrations either way.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (pool, checkpointer) = if let Some(path) = url.strip_prefix("sqlite:") {
            let (pool, checkpointer) =
                Pool::open_sqlite(Path::new(path.trim_start_matches("//"))).await?;
            (pool, Some(Arc::new(checkpointer)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Pool::connect_postgres(url).await?, None)
        } else {
            return Err(StoreError::Invalid(format!(
                "{} is not a database URL patroli knows: use postgres://user:password@host/database or sqlite:PATH",
                crate::db::redact(url)
            )));
        };
        Ok(Store::with_pool(pool, checkpointer))
    }

    pub(crate) fn with_pool(pool: Pool, checkpointer: Option<Arc<Checkpointer>>) -> Store {
        Store {
            pool,
            reposts: Arc::default(),
            checkpointer,
        }
    }

    /// Which database the store lives in.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Refreshes the query planner's statistics, as after a bulk load (PostgreSQL's autovacuum
    /// does it by itself in time; SQLite only when asked).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("ANALYZE").execute(pool).await?;
            Ok(())
        })
    }

    /// Closes every connection, waiting for statements under way; any later call fails as
    /// "cannot be reached" ([`StoreError::is_unavailable`]), as when the database goes away
    /// (the dashboard's tests use it so).
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop().await;
        }
        with_pool!(&self.pool, |pool| pool.close().await)
    }

    /// Records a source's kind and legal basis (shown on every lead from it).
    pub async fn upsert_source(
        &self,
        id: &str,
        kind: &str,
        legal_basis: &str,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query(
            "INSERT INTO sources (id, kind, legal_basis, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, legal_basis = excluded.legal_basis, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(kind)
        .bind(legal_basis)
        .bind(Utc::now())
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    /// Ids of the known sources, sorted.
    pub async fn source_ids(&self) -> Result<Vec<String>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_scalar("SELECT id FROM sources ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// The legal-basis note of a source.
    pub async fn legal_basis(&self, source_id: &str) -> Result<Option<String>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(
                sqlx::query_scalar("SELECT legal_basis FROM sources WHERE id = $1")
                    .bind(source_id)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Stores a page snapshot and the posts found on it, in one transaction. Returns each post's
    /// id and what happened to it.
    pub async fn save_page(
        &self,
        snapshot: &Snapshot,
        posts: &[CollectedPost],
    ) -> Result<Vec<(i64, PostOutcome)>, StoreError> {
        let mut saved = self.save_pages(&[(snapshot, posts)]).await?;
        Ok(saved.pop().unwrap_or_default())
    }

    /// Stores several pages, each as [`Store::save_page`] would, in one transaction: a writer
    /// with a backlog of fetched pages commits once for all of them. Returns, per page, each
    /// post's id and what happened to it.
    ///
    /// One writer at a time, across processes and nodes: SQLite's write lock, taken when the
    /// transaction begins, or PostgreSQL's feed lock. Under it the repost candidates catch up
    /// with the fingerprint log, so they hold every post committed before, by anyone.
    pub async fn save_pages(
        &self,
        pages: &[(&Snapshot, &[CollectedPost])],
    ) -> Result<Vec<Vec<(i64, PostOutcome)>>, StoreError> {
        let mut reposts = self.reposts.lock().await;
        let begin = match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        with_pool!(&self.pool, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            lock_feed((&mut *tx).into()).await?;
            // From here until the commit, `reposts.synced` is None: should the transaction
            // fail, the candidates are rebuilt from the log.
            catch_up_reposts((&mut *tx).into(), &mut reposts).await?;
            let mut saved = Vec::with_capacity(pages.len());
            for (snapshot, posts) in pages {
                saved.push(write_page((&mut *tx).into(), snapshot, posts, &mut reposts).await?);
            }
            let logged: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM fingerprints")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            reposts.synced = Some(logged);
            Ok(saved)
        })
    }

    /// Records (replaces) a post's verdict.
    pub async fn save_verdict(&self, post_id: i64, verdict: &Verdict) -> Result<(), StoreError> {
        self.save_verdicts(&[(post_id, verdict)]).await
    }

    /// Records (replaces) the verdicts of many posts in one transaction.
    pub async fn save_verdicts(&self, verdicts: &[(i64, &Verdict)]) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            lock_feed((&mut *tx).into()).await?;
            write_verdicts((&mut *tx).into(), verdicts).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The repost cluster of a post, when it has other members.
    pub async fn cluster_of(&self, post_id: i64) -> Result<Option<Cluster>, StoreError> {
        with_pool!(&self.pool, |pool| {
            /// id, source, first seen, last seen, sightings.
            type Member = (i64, String, DateTime<Utc>, DateTime<Utc>, i64);
            let rows: Vec<Member> = sqlx::query_as(
            "SELECT p.id, p.source_id, p.first_seen, p.last_seen, (SELECT COUNT(*) FROM sightings s WHERE s.post_id = p.id)
             FROM posts p, (SELECT COALESCE(cluster_id, id) AS head FROM posts WHERE id = $1) c
             WHERE p.cluster_id = c.head OR (p.id = c.head AND p.cluster_id IS NULL) ORDER BY p.id",
        )
        .bind(post_id)
        .fetch_all(pool)
        .await?;
            if rows.len() < 2 {
                return Ok(None);
            }
            let sources: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            Ok(Some(Cluster {
                posts: rows.iter().map(|r| r.0).collect(),
                sources: sources.len(),
                sightings: rows.iter().map(|r| r.4).sum(),
                first_seen: rows.iter().map(|r| r.2).min().unwrap_or_default(),
                last_seen: rows.iter().map(|r| r.3).max().unwrap_or_default(),
            }))
        })
    }

    /// Posts that share an identifier with `post_id`, with the identifiers shared.
    pub async fn network_of(&self, post_id: i64) -> Result<Vec<NetworkLink>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT o.post_id, o.kind, o.value, p.title, p.url FROM post_entities e
             JOIN post_entities o ON o.kind = e.kind AND o.value = e.value AND o.post_id != e.post_id
             JOIN posts p ON p.id = o.post_id
             WHERE e.post_id = $1 ORDER BY o.post_id, o.kind, o.value",
        )
        .bind(post_id)
        .fetch_all(pool)
        .await?;
            let mut links: Vec<NetworkLink> = Vec::new();
            for (id, kind, value, title, url) in rows {
                match links.last_mut() {
                    Some(l) if l.post_id == id => l.shared.push((kind, value)),
                    _ => links.push(NetworkLink {
                        post_id: id,
                        title,
                        url,
                        shared: vec![(kind, value)],
                    }),
                }
            }
            Ok(links)
        })
    }

    /// Recruiter networks: groups of posts linked, directly or through each other, by shared
    /// identifiers; the largest first.
    pub async fn largest_networks(&self, limit: usize) -> Result<Vec<Network>, StoreError> {
        with_pool!(&self.pool, |pool| {
            // Only identifiers shared by two or more posts can link anything; the posts' dates come
            // in the same query.
            /// Post, identifier kind, identifier, first seen, last seen.
            type Row = (i64, String, String, DateTime<Utc>, DateTime<Utc>);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT e.post_id, e.kind, e.value, p.first_seen, p.last_seen
             FROM post_entities e JOIN posts p ON p.id = e.post_id
             WHERE (e.kind, e.value) IN
               (SELECT kind, value FROM post_entities GROUP BY kind, value HAVING COUNT(*) > 1)
             ORDER BY e.post_id",
            )
            .fetch_all(pool)
            .await?;
            // Union-find over posts, joined through each identifier's first post.
            let mut parent: HashMap<i64, i64> = HashMap::new();
            fn find(parent: &mut HashMap<i64, i64>, x: i64) -> i64 {
                let p = *parent.entry(x).or_insert(x);
                if p == x {
                    return x;
                }
                let root = find(parent, p);
                parent.insert(x, root);
                root
            }
            let mut owner: HashMap<(&str, &str), i64> = HashMap::new();
            for (post, kind, value, ..) in &rows {
                find(&mut parent, *post);
                if let Some(&first) = owner.get(&(kind.as_str(), value.as_str())) {
                    let (a, b) = (find(&mut parent, first), find(&mut parent, *post));
                    if a != b {
                        parent.insert(a.max(b), a.min(b));
                    }
                } else {
                    owner.insert((kind, value), *post);
                }
            }
            let mut groups: HashMap<i64, Network> = HashMap::new();
            for (post, kind, value, first_seen, last_seen) in &rows {
                let root = find(&mut parent, *post);
                let n = groups.entry(root).or_insert_with(|| Network {
                    posts: Vec::new(),
                    identifiers: Vec::new(),
                    first_seen: *first_seen,
                    last_seen: *last_seen,
                });
                n.posts.push(*post);
                n.identifiers.push((kind.clone(), value.clone()));
                n.first_seen = n.first_seen.min(*first_seen);
                n.last_seen = n.last_seen.max(*last_seen);
            }
            let mut networks: Vec<Network> = groups
                .into_values()
                .map(|mut n| {
                    n.posts.dedup();
                    n.identifiers.sort();
                    n.identifiers.dedup();
                    n
                })
                .collect();
            networks.sort_by(|a, b| {
                b.posts
                    .len()
                    .cmp(&a.posts.len())
                    .then(a.posts.cmp(&b.posts))
            });
            networks.truncate(limit);
            Ok(networks)
        })
    }

    const POST_COLUMNS: &'static str = "p.id, p.source_id, p.url, p.title, p.body, p.author, p.location, p.published_at,
        p.first_seen, p.last_seen, p.removed_at, v.detail, l.status AS lead_status
        FROM posts p LEFT JOIN verdicts v ON v.post_id = p.id LEFT JOIN leads l ON l.post_id = p.id";

    /// One post by id.
    pub async fn post(&self, id: i64) -> Result<Option<PostRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let sql = format!("SELECT {} WHERE p.id = $1", Self::POST_COLUMNS);
            let row: Option<PostRow> = sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?;
            row.map(PostRecord::try_from).transpose()
        })
    }

    /// Posts with ids greater than `after`, in id order, at most `limit` (for batch work).
    pub async fn posts_after(&self, after: i64, limit: i64) -> Result<Vec<PostRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let sql = format!(
                "SELECT {} WHERE p.id > $1 ORDER BY p.id LIMIT $2",
                Self::POST_COLUMNS
            );
            let rows: Vec<PostRow> = sqlx::query_as(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(PostRecord::try_from).collect()
        })
    }

    /// Classified posts whose indexed content changed after change sequence `seq`, in sequence
    /// order, at most `limit`, each with its sequence (the search index's catch-up feed).
    pub async fn posts_changed_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, IndexedPost)>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let sql = format!(
                "SELECT v.changed_seq, {} WHERE v.changed_seq > $1 ORDER BY v.changed_seq LIMIT $2",
                Self::POST_COLUMNS
            );
            let rows: Vec<ChangedPostRow> = sqlx::query_as(&sql)
                .bind(seq)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|r| Ok((r.changed_seq, IndexedPost::try_from(r.post)?)))
                .collect()
        })
    }

    /// The highest change sequence in the store: an index at this watermark is up to date.
    pub async fn change_seq(&self) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(
                sqlx::query_scalar("SELECT COALESCE(MAX(changed_seq), 0) FROM verdicts")
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// Ids of posts without a verdict, lowest first, at most `limit`.
    pub async fn unclassified_ids(&self, limit: i64) -> Result<Vec<i64>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_scalar(
            "SELECT p.id FROM posts p LEFT JOIN verdicts v ON v.post_id = p.id WHERE v.post_id IS NULL ORDER BY p.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?)
        })
    }

    /// Writes a consistent copy of the whole store to `file` while it stays in use (SQLite's
    /// `VACUUM INTO`: one read transaction, so the copy is a single point in time even with
    /// crawls writing). Refuses to overwrite an existing file.
    /// PostgreSQL stores are backed up with its own tools (`pg_dump`, or base backups with WAL
    /// archiving), as `docs/operations.md` describes.
    pub async fn backup_to(&self, file: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Err(StoreError::Invalid(
                "this store is on PostgreSQL: back it up with pg_dump (see docs/operations.md)"
                    .into(),
            ));
        };
        if file.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists; choose a new file name for the backup",
                file.display()
            )));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(file.to_string_lossy().into_owned())
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Number of stored posts.
    pub async fn count_posts(&self) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM posts")
                .fetch_one(pool)
                .await?)
        })
    }

    /// The snapshots a post was seen on, newest first.
    pub async fn snapshots_of(&self, post_id: i64) -> Result<Vec<SnapshotInfo>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let rows = sqlx::query(
            "SELECT s.id, s.final_url, s.status, s.sha256, s.body_len, s.fetched_at FROM snapshots s
             JOIN sightings g ON g.snapshot_id = s.id WHERE g.post_id = $1 GROUP BY s.id ORDER BY s.fetched_at DESC",
        )
        .bind(post_id)
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|r| {
                    Ok(SnapshotInfo {
                        id: r.try_get("id")?,
                        final_url: r.try_get("final_url")?,
                        status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                        sha256: r.try_get("sha256")?,
                        body_len: r.try_get("body_len")?,
                        fetched_at: r.try_get("fetched_at")?,
                    })
                })
                .collect()
        })
    }

    /// A snapshot's body bytes, checked against its recorded SHA-256.
    pub async fn snapshot_body(&self, snapshot_id: i64) -> Result<Vec<u8>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let (gz, sha): (Vec<u8>, String) =
                sqlx::query_as("SELECT body_gzip, sha256 FROM snapshots WHERE id = $1")
                    .bind(snapshot_id)
                    .fetch_optional(pool)
                    .await?
                    .ok_or(StoreError::NotFound("snapshot"))?;
            let body = gunzip(&gz)?;
            if hex::encode(Sha256::digest(&body)) != sha {
                return Err(StoreError::Corrupt(format!(
                    "snapshot {snapshot_id} no longer matches its SHA-256"
                )));
            }
            Ok(body)
        })
    }

    /// Records a URL that failed during a crawl.
    pub async fn record_fetch_error(
        &self,
        source_id: &str,
        url: &str,
        kind: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query(
            "INSERT INTO fetch_errors (source_id, url, kind, message, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(source_id)
        .bind(url)
        .bind(kind)
        .bind(message)
        .bind(Utc::now())
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    /// Records a finished source run.
    pub async fn record_run(&self, run: &RunRecord) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_scalar(
            "INSERT INTO crawl_runs (source_id, started_at, finished_at, pages, posts_new, posts_seen, errors, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&run.source_id)
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(run.pages as i64)
        .bind(run.posts_new as i64)
        .bind(run.posts_seen as i64)
        .bind(serde_json::to_string(&run.errors).expect("map serialises"))
        .bind(&run.status)
        .fetch_one(pool)
        .await?)
        })
    }

    /// The most recent crawl runs, newest first (for operators).
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let sql = format!(
                "SELECT {} FROM crawl_runs ORDER BY started_at DESC, id DESC LIMIT $1",
                Self::RUN_COLUMNS
            );
            let rows: Vec<RunRow> = sqlx::query_as(&sql).bind(limit).fetch_all(pool).await?;
            rows.into_iter().map(RunRecord::try_from).collect()
        })
    }

    /// The `crawl_runs` columns of a [`RunRow`].
    pub(crate) const RUN_COLUMNS: &'static str =
        "source_id, started_at, finished_at, pages, posts_new, posts_seen, errors, status";

    /// Creates a user; the caller hashes the password.
    pub async fn add_user(
        &self,
        username: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query_scalar(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(username)
        .bind(role)
        .bind(password_hash)
        .bind(Utc::now())
        .fetch_one(pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!("user {username:?} already exists")),
            _ => e.into(),
        })
        })
    }

    /// Sets a user's password hash.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
                .bind(password_hash)
                .bind(username)
                .execute(pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            Ok(())
        })
    }

    /// A user by name.
    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let row = sqlx::query(
                "SELECT id, username, role, password_hash, disabled FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?;
            row.as_ref()
                .map(User::from_row)
                .transpose()
                .map_err(StoreError::from)
        })
    }

    /// Stores a new session under the SHA-256 of its token.
    pub async fn create_session(
        &self,
        token: &str,
        user_id: i64,
        csrf_token: &str,
        ttl: chrono::Duration,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            let now = Utc::now();
            sqlx::query("INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hex::encode(Sha256::digest(token.as_bytes())))
            .bind(user_id)
            .bind(csrf_token)
            .bind(now)
            .bind(now + ttl)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The live session for a token, if any (expired sessions and disabled users are refused).
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let row = sqlx::query(
            "SELECT u.id, u.username, u.role, u.password_hash, u.disabled, s.csrf_token, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = $1",
        )
        .bind(hex::encode(Sha256::digest(token.as_bytes())))
        .fetch_optional(pool)
        .await?;
            let Some(row) = row else { return Ok(None) };
            let user = User::from_row(&row)?;
            let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
            if expires_at <= Utc::now() || user.disabled {
                return Ok(None);
            }
            Ok(Some(Session {
                user,
                csrf_token: row.try_get("csrf_token")?,
                expires_at,
            }))
        })
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
                .bind(hex::encode(Sha256::digest(token.as_bytes())))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
        remote: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, detail, remote) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(Utc::now())
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .bind(remote)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The newest audit entries first.
    pub async fn audit_entries(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(
            "SELECT id, at, actor, action, target, detail, remote FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?)
        })
    }

    /// Applies frontier changes, in order, in one transaction: URLs queued (no-op if already
    /// there) and URLs processed.
    pub async fn frontier_apply(&self, ops: &[FrontierOp]) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            if ops.is_empty() {
                return Ok(());
            }
            let now = Utc::now();
            let mut tx = pool.begin().await?;
            for op in ops {
                match op {
                    FrontierOp::Queued {
                        source_id,
                        url,
                        depth,
                    } => {
                        sqlx::query(
                        "INSERT INTO crawl_frontier (source_id, url, depth, state, updated_at) VALUES ($1, $2, $3, 'pending', $4)
                         ON CONFLICT(source_id, url) DO NOTHING",
                    )
                    .bind(source_id)
                    .bind(url)
                    .bind(*depth as i64)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    }
                    FrontierOp::Done { source_id, url } => {
                        sqlx::query("UPDATE crawl_frontier SET state = 'done', updated_at = $1 WHERE source_id = $2 AND url = $3")
                        .bind(now)
                        .bind(source_id)
                        .bind(url)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Forgets a source's frontier (its run finished).
    pub async fn frontier_clear(&self, source_id: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("DELETE FROM crawl_frontier WHERE source_id = $1")
                .bind(source_id)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// What the crawler needs to resume a source: its unfinished frontier, if it has pending
    /// URLs, and the cache validators of its pages.
    pub async fn source_state(&self, source_id: &str) -> Result<SourceState, StoreError> {
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT url, depth, state FROM crawl_frontier WHERE source_id = $1 ORDER BY rowid",
            )
            .bind(source_id)
            .fetch_all(pool)
            .await?;
            let mut state = SourceState::default();
            if rows.iter().any(|(_, _, s)| s == "pending") {
                for (url, depth, s) in rows {
                    if s == "pending" {
                        state
                            .pending
                            .push((url.clone(), usize::try_from(depth).unwrap_or(0)));
                    }
                    state.seen.push(url);
                }
            }
            let validators: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT url, etag, last_modified FROM http_validators WHERE source_id = $1",
            )
            .bind(source_id)
            .fetch_all(pool)
            .await?;
            state.validators = validators
                .into_iter()
                .map(|(url, etag, last_modified)| {
                    (
                        url,
                        Validators {
                            etag,
                            last_modified,
                        },
                    )
                })
                .collect();
            Ok(state)
        })
    }

    /// Remembers a page's cache validators.
    pub async fn save_validators(
        &self,
        source_id: &str,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query(
            "INSERT INTO http_validators (source_id, url, etag, last_modified, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT(source_id, url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
               updated_at = excluded.updated_at",
        )
        .bind(source_id)
        .bind(url)
        .bind(etag)
        .bind(last_modified)
        .bind(Utc::now())
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    /// Records that the posts of an unchanged page (HTTP 304) were seen again. Returns how many.
    pub async fn touch_posts_at(
        &self,
        source_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query(
            "UPDATE posts SET last_seen = $1, removed_at = NULL WHERE source_id = $2 AND url = $3",
        )
        .bind(at)
        .bind(source_id)
        .bind(url)
        .execute(pool)
        .await?
        .rows_affected())
        })
    }

    /// Records that the posts of a page that answered 404 or 410 are gone. Returns how many.
    pub async fn mark_removed_at(
        &self,
        source_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query("UPDATE posts SET removed_at = $1 WHERE source_id = $2 AND url = $3 AND removed_at IS NULL")
            .bind(at)
            .bind(source_id)
            .bind(url)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }

    /// After a complete run of a listing, records as gone every post of the source not seen since
    /// `run_started`. Returns how many.
    pub async fn mark_unseen_removed(
        &self,
        source_id: &str,
        run_started: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query("UPDATE posts SET removed_at = $1 WHERE source_id = $2 AND last_seen < $3 AND removed_at IS NULL")
            .bind(Utc::now())
            .bind(source_id)
            .bind(run_started)
            .execute(pool)
            .await?
            .rows_affected())
        })
    }

    /// robots.txt files cached by earlier runs.
    pub async fn robots_records(&self) -> Result<Vec<RobotsRecord>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(String, Vec<u8>, DateTime<Utc>)> =
                sqlx::query_as("SELECT host, body, fetched_at FROM host_robots")
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(host, body, fetched_at)| RobotsRecord {
                    host,
                    body,
                    fetched_at,
                })
                .collect())
        })
    }

    /// Keeps the crawler's robots.txt cache for the next run.
    pub async fn save_robots(&self, records: &[RobotsRecord]) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            for r in records {
                sqlx::query(
                "INSERT INTO host_robots (host, body, fetched_at) VALUES ($1, $2, $3)
                 ON CONFLICT(host) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at
                 WHERE excluded.fetched_at > host_robots.fetched_at",
            )
            .bind(&r.host)
            .bind(&r.body)
            .bind(r.fetched_at)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A post's lead state (`new` when nobody has touched it).
    pub async fn lead(&self, post_id: i64) -> Result<Lead, StoreError> {
        with_pool!(&self.pool, |pool| {
            let row = sqlx::query(
            "SELECT status, escalated_to, closed_reason, assignee, judgement, judged_by, judged_at
             FROM leads WHERE post_id = $1",
        )
        .bind(post_id)
        .fetch_optional(pool)
        .await?;
            let Some(row) = row else {
                return Ok(Lead {
                    status: LeadStatus::New,
                    escalated_to: None,
                    closed_reason: None,
                    assignee: None,
                    judgement: None,
                });
            };
            let status: String = row.try_get("status")?;
            let judged: (Option<String>, Option<String>, Option<DateTime<Utc>>) = (
                row.try_get("judgement")?,
                row.try_get("judged_by")?,
                row.try_get("judged_at")?,
            );
            let judgement = match judged {
                (None, _, _) => None,
                (Some(j), Some(by), Some(at)) => Some(JudgementRecord {
                    judgement: Judgement::parse(&j)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown judgement {j:?}")))?,
                    by,
                    at,
                }),
                (Some(_), _, _) => {
                    return Err(StoreError::Corrupt(format!(
                        "lead {post_id}: a judgement without who or when"
                    )));
                }
            };
            Ok(Lead {
                status: LeadStatus::parse(&status).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown lead status {status:?}"))
                })?,
                escalated_to: row.try_get("escalated_to")?,
                closed_reason: row.try_get("closed_reason")?,
                assignee: row.try_get("assignee")?,
                judgement,
            })
        })
    }

    /// Applies an officer's change to a lead and records it in the lead's history, in one
    /// transaction. Escalations need a known unit and closures a known reason.
    pub async fn change_lead(
        &self,
        post_id: i64,
        actor: &str,
        change: &LeadChange,
    ) -> Result<Lead, StoreError> {
        with_pool!(&self.pool, |pool| {
            let now = Utc::now();
            let mut lead = self.lead(post_id).await?;
            let detail = match change {
                LeadChange::Status { status, target } => {
                    let target = target.as_deref().filter(|t| !t.is_empty());
                    let (allowed, what): (&[&str], &str) = match status {
                        LeadStatus::Escalated => (ESCALATION_TARGETS, "unit to escalate to"),
                        LeadStatus::Closed => (CLOSE_REASONS, "reason for closing"),
                        _ => (&[], ""),
                    };
                    if !allowed.is_empty() && !target.is_some_and(|t| allowed.contains(&t)) {
                        return Err(StoreError::Invalid(format!(
                            "choose a {what}: one of {}",
                            allowed.join(", ")
                        )));
                    }
                    lead.status = *status;
                    lead.escalated_to = (*status == LeadStatus::Escalated)
                        .then(|| target.unwrap_or_default().to_string());
                    lead.closed_reason = (*status == LeadStatus::Closed)
                        .then(|| target.unwrap_or_default().to_string());
                    format!(
                        "{}{}",
                        status.as_str(),
                        target.map(|t| format!(": {t}")).unwrap_or_default()
                    )
                }
                LeadChange::Assign { to } => {
                    lead.assignee = Some(to.clone());
                    to.clone()
                }
                LeadChange::Note { text } => {
                    let text = text.trim();
                    if text.is_empty() {
                        return Err(StoreError::Invalid("the note is empty".into()));
                    }
                    text.to_string()
                }
                LeadChange::Judge { judgement } => {
                    lead.judgement = Some(JudgementRecord {
                        judgement: *judgement,
                        by: actor.to_string(),
                        at: now,
                    });
                    judgement.label().to_string()
                }
            };
            let mut tx = pool.begin().await?;
            lock_feed((&mut *tx).into()).await?;
            sqlx::query(
            "INSERT INTO leads (post_id, status, escalated_to, closed_reason, assignee, judgement, judged_by, judged_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT(post_id) DO UPDATE SET status = excluded.status, escalated_to = excluded.escalated_to,
               closed_reason = excluded.closed_reason, assignee = excluded.assignee, judgement = excluded.judgement,
               judged_by = excluded.judged_by, judged_at = excluded.judged_at, updated_at = excluded.updated_at",
        )
        .bind(post_id)
        .bind(lead.status.as_str())
        .bind(&lead.escalated_to)
        .bind(&lead.closed_reason)
        .bind(&lead.assignee)
        .bind(lead.judgement.as_ref().map(|j| j.judgement.label()))
        .bind(lead.judgement.as_ref().map(|j| &j.by))
        .bind(lead.judgement.as_ref().map(|j| j.at))
        .bind(now)
        .execute(&mut *tx)
        .await?;
            sqlx::query(
            "INSERT INTO lead_events (post_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(post_id)
        .bind(now)
        .bind(actor)
        .bind(change.action())
        .bind(&detail)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(lead)
        })
    }

    /// Officers' judgements as a labelled corpus for analysts. A lead marked as a true or false
    /// positive has that label; otherwise posts escalated, or closed as a case opened, are
    /// `illegal_recruitment` and posts closed as false positives are `not_illegal`. Returns
    /// (id, text, label) in id order.
    pub async fn labelled_posts(&self) -> Result<Vec<(i64, String, &'static str)>, StoreError> {
        with_pool!(&self.pool, |pool| {
            /// Post id, status, reason closed, judgement.
            type Row = (i64, String, Option<String>, Option<String>);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT post_id, status, closed_reason, judgement FROM leads ORDER BY post_id",
            )
            .fetch_all(pool)
            .await?;
            let mut out = Vec::new();
            for (id, status, reason, judgement) in rows {
                let label = match (
                    judgement.as_deref().and_then(Judgement::parse),
                    status.as_str(),
                    reason.as_deref(),
                ) {
                    (Some(judgement), _, _) => judgement.label(),
                    (None, "escalated", _) | (None, "closed", Some("case_opened")) => {
                        Judgement::IllegalRecruitment.label()
                    }
                    (None, "closed", Some("false_positive")) => Judgement::NotIllegal.label(),
                    _ => continue,
                };
                if let Some(post) = self.post(id).await? {
                    out.push((id, post.classified_text(), label));
                }
            }
            Ok(out)
        })
    }

    /// A lead's history, oldest first.
    pub async fn lead_history(&self, post_id: i64) -> Result<Vec<LeadEvent>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(DateTime<Utc>, String, String, String)> = sqlx::query_as(
                "SELECT at, actor, action, detail FROM lead_events WHERE post_id = $1 ORDER BY id",
            )
            .bind(post_id)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(at, actor, action, detail)| LeadEvent {
                    at,
                    actor,
                    action,
                    detail,
                })
                .collect())
        })
    }
}
