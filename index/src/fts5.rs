//! SQLite FTS5 over the same posts, as the baseline the search benchmark compares tantivy with
//! (`patroli bench search`). Not used by the product: it lives here because this crate is the
//! only one that holds SQL.
//!
//! The schema gives FTS5 its best shot: a contentful FTS5 table (title, body) with the
//! `unicode61` tokenizer and diacritics removed, beside a plain table of the filter columns
//! (indexed), joined on the rowid.

use std::path::Path;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::StoreError;

/// One post as the baseline stores it.
#[derive(Debug, Clone)]
pub struct Fts5Post {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub source: String,
    pub level: String,
    pub score: f64,
    pub kalbar: bool,
    pub date: DateTime<Utc>,
    pub destinations: Vec<String>,
}

/// A query for the baseline: an FTS5 MATCH expression (or none, to browse) and filters.
#[derive(Debug, Clone, Default)]
pub struct Fts5Query {
    pub matches: Option<String>,
    pub level: Option<String>,
    pub destination: Option<String>,
    pub kalbar_only: bool,
    pub from: Option<DateTime<Utc>>,
    /// Newest first instead of best match (or highest score when browsing).
    pub recent: bool,
    pub limit: i64,
}

/// What the baseline answers: the total, the per-level counts and one page of snippets.
#[derive(Debug, Clone)]
pub struct Fts5Results {
    pub total: i64,
    pub levels: Vec<(String, i64)>,
    pub hits: Vec<(i64, String)>,
}

/// An FTS5 database in a file.
pub struct Fts5Baseline {
    pool: SqlitePool,
}

impl Fts5Baseline {
    /// Creates (or empties) the baseline database at `file`.
    pub async fn create(file: &Path) -> Result<Fts5Baseline, StoreError> {
        let _ = std::fs::remove_file(file);
        let pool = Self::pool(file, true).await?;
        for sql in [
            "CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2')",
            "CREATE TABLE meta (id INTEGER PRIMARY KEY, source TEXT, level TEXT, score REAL, kalbar INTEGER, date TEXT)",
            "CREATE TABLE meta_destination (id INTEGER, country TEXT)",
        ] {
            sqlx::query(sql).execute(&pool).await?;
        }
        Ok(Fts5Baseline { pool })
    }

    /// Opens a baseline database an earlier [`Fts5Baseline::create`] loaded.
    pub async fn open(file: &Path) -> Result<Fts5Baseline, StoreError> {
        Ok(Fts5Baseline {
            pool: Self::pool(file, false).await?,
        })
    }

    async fn pool(file: &Path, create: bool) -> Result<SqlitePool, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        Ok(SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?)
    }

    /// Adds posts in one transaction.
    pub async fn insert(&self, posts: &[Fts5Post]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for p in posts {
            sqlx::query("INSERT INTO fts (rowid, title, body) VALUES (?, ?, ?)")
                .bind(p.id)
                .bind(&p.title)
                .bind(&p.body)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO meta (id, source, level, score, kalbar, date) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(p.id)
            .bind(&p.source)
            .bind(&p.level)
            .bind(p.score)
            .bind(p.kalbar)
            .bind(p.date)
            .execute(&mut *tx)
            .await?;
            for d in &p.destinations {
                sqlx::query("INSERT INTO meta_destination (id, country) VALUES (?, ?)")
                    .bind(p.id)
                    .bind(d)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Builds the filter-column indexes (after the bulk load, as one would) and optimises the
    /// full-text index into one segment.
    pub async fn finish_load(&self) -> Result<(), StoreError> {
        for sql in [
            "CREATE INDEX meta_level ON meta(level)",
            "CREATE INDEX meta_date ON meta(date)",
            "CREATE INDEX meta_score ON meta(score)",
            "CREATE INDEX meta_destination_country ON meta_destination(country, id)",
            "INSERT INTO fts(fts) VALUES ('optimize')",
        ] {
            sqlx::query(sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Runs a query: total, level counts and a page of snippets, as the dashboard needs.
    pub async fn search(&self, q: &Fts5Query) -> Result<Fts5Results, StoreError> {
        // The SQL is built from fixed fragments only; every value is bound.
        let mut filters = String::new();
        let mut texts: Vec<&str> = Vec::new();
        if let Some(m) = &q.matches {
            filters.push_str(" AND fts MATCH ?");
            texts.push(m);
        }
        if let Some(level) = &q.level {
            filters.push_str(" AND m.level = ?");
            texts.push(level);
        }
        if let Some(d) = &q.destination {
            filters.push_str(" AND m.id IN (SELECT id FROM meta_destination WHERE country = ?)");
            texts.push(d);
        }
        if q.kalbar_only {
            filters.push_str(" AND m.kalbar = 1");
        }
        if q.from.is_some() {
            filters.push_str(" AND m.date >= ?");
        }
        let from = if q.matches.is_some() {
            "fts JOIN meta m ON m.id = fts.rowid"
        } else {
            "meta m JOIN fts ON fts.rowid = m.id"
        };
        let run = async |sql: String| -> Result<Vec<sqlx::sqlite::SqliteRow>, StoreError> {
            let mut query = sqlx::query(&sql);
            for t in &texts {
                query = query.bind(*t);
            }
            if let Some(from) = q.from {
                query = query.bind(from);
            }
            Ok(query.fetch_all(&self.pool).await?)
        };
        let levels: Vec<(String, i64)> = run(format!(
            "SELECT m.level, COUNT(*) FROM {from} WHERE 1{filters} GROUP BY m.level"
        ))
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let order = match (q.recent, q.matches.is_some()) {
            (true, _) => "m.date DESC",
            (false, true) => "bm25(fts)",
            (false, false) => "m.score DESC",
        };
        let snippet = if q.matches.is_some() {
            "snippet(fts, 1, '[', ']', '…', 24)"
        } else {
            "substr(fts.body, 1, 220)"
        };
        let hits = run(format!(
            "SELECT m.id, {snippet} FROM {from} WHERE 1{filters} ORDER BY {order} LIMIT {}",
            q.limit
        ))
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
        Ok(Fts5Results {
            total: levels.iter().map(|(_, n)| n).sum(),
            levels,
            hits,
        })
    }
}
