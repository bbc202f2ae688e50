//! Which SQL database the store lives in: the embedded SQLite file (the default, one machine) or
//! a shared PostgreSQL server (several crawl workers and dashboard nodes).
//!
//! The store's queries are written once. `with_pool!` and `with_conn!` expand a query body
//! for each backend, with the concrete sqlx pool or connection bound and `Db` naming its sqlx
//! database type, so both backends keep their native types (timestamps, booleans, blobs) and
//! their native drivers' speed. The SQL itself is the dialect both accept: `$1` placeholders,
//! `ON CONFLICT`, `RETURNING`, `IS DISTINCT FROM`, multi-row `VALUES`. The few statements that
//! must differ match on [`Backend`].

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool, SqliteConnection, SqlitePool};

use crate::error::{StoreError, is_unreachable};

/// Connections in the SQLite pool; SQLite has one writer, so a few are plenty.
const SQLITE_CONNECTIONS: u32 = 4;
/// Connections each process opens to PostgreSQL (a crawl worker or a dashboard node).
const POSTGRES_CONNECTIONS: u32 = 8;
/// Page cache per SQLite connection, in KiB (SQLite's negative `cache_size`). The default 2 MB
/// made every insert into the posts' indexes read pages back from the file once the store
/// outgrew it (a million posts stored at 841/s).
const CACHE_KIB: i64 = 64 * 1024;
/// Bytes of the SQLite file read through a memory map instead of `pread` calls.
const MMAP_BYTES: i64 = 1 << 30;
/// WAL pages written before the writer copies them back into the database file itself (SQLite's
/// default is 1,000), as a bound on the WAL: the [`Checkpointer`] does most of that copying on
/// a connection of its own, and the writer's checkpoint then only copies what came since. A
/// checkpoint is also when the WAL restarts from its beginning, which a background checkpoint
/// cannot do while writes go on. The WAL file grows to about 160 MB.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 40_000;
/// How often the [`Checkpointer`] copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// Rows SQLite's worker thread may queue for the reader (sqlx's default is 50; the worker stops
/// at a full queue until the reader has taken rows): the search feed's catch-up reads 5,000
/// posts a query. Against the default, alternated at 200,000 posts on a busy machine, storing and
/// indexing together gave 12,300 / 17,700 / 16,800 against 12,900 / 13,100 posts/s: no
/// clear gain, kept for the fewer hand-offs between the two threads.
const ROW_CHANNEL: usize = 1_024;
/// How long to wait for a connection from the pool (a PostgreSQL server that is down or
/// restarting shows as this timeout; callers retry).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of the transaction-scoped advisory lock that PostgreSQL's feed triggers take before
/// handing out a change sequence (see `migrations/postgres/0001_init.sql`).
const FEED_LOCK: i64 = 7_265_427;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool of connections to either backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One connection (usually inside a transaction) to either backend.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl<'a> From<&'a mut SqliteConnection> for Conn<'a> {
    fn from(c: &'a mut SqliteConnection) -> Self {
        Conn::Sqlite(c)
    }
}

impl<'a> From<&'a mut PgConnection> for Conn<'a> {
    fn from(c: &'a mut PgConnection) -> Self {
        Conn::Postgres(c)
    }
}

/// Evaluates `$body` once per variant of `$kind` (`Pool` or `Conn`) with `$p` bound to the
/// concrete value and the type `Db` naming its sqlx database, for `QueryBuilder::<Db>`.
macro_rules! per_backend {
    ($kind:ident, $value:expr, |$p:ident| $body:expr) => {
        match $value {
            $crate::db::$kind::Sqlite($p) => {
                #[allow(unused)]
                type Db = sqlx::Sqlite;
                $body
            }
            $crate::db::$kind::Postgres($p) => {
                #[allow(unused)]
                type Db = sqlx::Postgres;
                $body
            }
        }
    };
}

/// [`per_backend!`] over a [`Pool`]: `$p` is the `&SqlitePool` or `&PgPool`.
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        $crate::db::per_backend!(Pool, $pool, |$p| $body)
    };
}

/// [`per_backend!`] over a [`Conn`]: `$c` is the concrete `&mut` connection.
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        $crate::db::per_backend!(Conn, $conn, |$c| $body)
    };
}

pub(crate) use {per_backend, with_conn, with_pool};

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens (creating if needed) the SQLite file at `path`, applies its migrations and starts
    /// its [`Checkpointer`].
    pub(crate) async fn open_sqlite(path: &Path) -> Result<(Pool, Checkpointer), StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("mmap_size", MMAP_BYTES.to_string())
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            .row_buffer_size(ROW_CHANNEL);
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::DataDir {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let checkpointer =
            Checkpointer::start(&options)
                .await
                .map_err(|e| StoreError::DataDir {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        Ok((Pool::Sqlite(pool), checkpointer))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:password@host/db`) and
    /// applies its migrations. Several processes may do this at once: sqlx takes an advisory
    /// lock around migrations.
    pub(crate) async fn connect_postgres(url: &str) -> Result<Pool, StoreError> {
        let failed = |e: sqlx::Error| StoreError::Connect {
            url: redact(url),
            message: e.to_string(),
            unreachable: is_unreachable(&e),
        };
        // No JIT: the store's queries are short lookups and page-sized writes, for which
        // compiling a plan costs more than running it (10 ms against under 1 ms for a lead
        // page's reads while the planner's statistics still overestimate a fresh table).
        // A plan made for each execution: a prepared statement's generic plan, fixed while a
        // table was small, went on scanning all of `posts` for a lookup by key as it grew.
        let options = PgConnectOptions::from_str(url)
            .map_err(failed)?
            .options([("jit", "off"), ("plan_cache_mode", "force_custom_plan")]);
        // One connection first, so a server that is down or refuses the login says so at once
        // (the pool would retry until its timeout and report only that).
        PgConnection::connect_with(&options)
            .await
            .map_err(failed)?
            .close()
            .await
            .map_err(failed)?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(failed)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Pool::Postgres(pool))
    }
}

/// Copies a SQLite store's WAL back into the database file every [`CHECKPOINT_EVERY`], on a
/// connection of its own, until dropped or stopped.
///
/// Left to SQLite, the connection whose commit takes the WAL past its limit copies it back before
/// its statement returns, and waits for the file to reach the disk: the next write waits with it.
/// A passive checkpoint here takes no lock writers need, so they go on meanwhile. On the
/// benchmark's million posts (two alternated pairs): storing pages and verdicts went from 21,300
/// and 23,100 to 23,800 and 25,000 posts/s, storing and indexing together from 18,200 and 18,800
/// to 19,500 and 19,500 (with every sync turned off, the bound this can reach: 24,100 and 19,500).
pub(crate) struct Checkpointer {
    /// Set to ask the task to stop; dropped, it stops too.
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    async fn start(options: &SqliteConnectOptions) -> Result<Checkpointer, sqlx::Error> {
        let mut conn = SqliteConnection::connect_with(options).await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Asked to stop, or every handle dropped.
                    _ = stopped.changed() => break,
                    _ = every.tick() => {}
                }
                // Copies nothing, and syncs nothing, when the WAL holds nothing new.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(error = %e, "background WAL checkpoint failed; writers will checkpoint by themselves");
                }
            }
            // Closed, not left to a later drop: a new store in the same place must not meet
            // this connection's hold on the old file.
            let _ = conn.close().await;
        });
        Ok(Checkpointer {
            stop,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Stops checkpointing and closes the connection (the store is closing).
    pub(crate) async fn stop(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().expect("checkpointer lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Takes the search feed's lock in a transaction that will fire the feed's triggers (a post's
/// text changed, a verdict or a lead written), before it locks any existing post's row. On
/// PostgreSQL the triggers take it anyway, but only once a row is locked; a transaction that
/// locked post A and then wanted the feed lock could deadlock with one that held the feed lock
/// and then wanted post A. Taking it first gives every writer the same order. It serialises
/// those transactions (as SQLite's single writer serialises every one), page transactions
/// included: under it a page's writer catches up with the repost fingerprint log, which must
/// grow in commit order (`Store::save_pages`). SQLite needs nothing: its write lock covers the
/// whole file.
pub(crate) async fn lock_feed(conn: Conn<'_>) -> Result<(), sqlx::Error> {
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_LOCK)
            .execute(c)
            .await?;
    }
    Ok(())
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(a database URL that does not parse)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://patroli:rahasia@db.polres:5432/patroli"),
            "postgres://patroli:***@db.polres:5432/patroli"
        );
        assert_eq!(
            redact("postgres://patroli@db/patroli"),
            "postgres://patroli@db/patroli"
        );
        assert!(!redact("not a url: rahasia").contains("rahasia"));
    }
}
