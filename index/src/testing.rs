//! The store the unit tests run on: a SQLite file in a temporary folder, or, with
//! `PATROLI_TEST_STORE=postgres`, a fresh PostgreSQL database of its own on the server that
//! `PATROLI_TEST_POSTGRES` names (`postgres://postgres@127.0.0.1:5432/postgres`). `.ci/run` runs
//! this crate's tests both ways, so every store test holds on both backends. The multi-worker
//! tests of the root package make their databases with [`fresh_database`] too.

use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(test)]
use crate::Store;

/// The environment variable naming the PostgreSQL server to test on.
pub const POSTGRES_ENV: &str = "PATROLI_TEST_POSTGRES";
/// Set to `postgres` to run the store tests on that server.
#[cfg(test)]
pub const BACKEND_ENV: &str = "PATROLI_TEST_STORE";

/// A store for one test (the folder holds it, or the test's tantivy index, or both).
#[cfg(test)]
pub async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = match std::env::var(BACKEND_ENV).as_deref() {
        Ok("postgres") => {
            let server = std::env::var(POSTGRES_ENV)
                .unwrap_or_else(|_| panic!("{BACKEND_ENV}=postgres needs {POSTGRES_ENV}"));
            Store::connect(&fresh_database(&server).await)
                .await
                .unwrap()
        }
        Ok("sqlite") | Err(_) => Store::open(dir.path()).await.unwrap(),
        Ok(other) => panic!("{BACKEND_ENV}={other}: use sqlite or postgres"),
    };
    (dir, store)
}

/// Creates an empty database on `server` and returns its URL. Test databases are named
/// `patroli_test_<pid>_<n>` and left behind (CI's server is thrown away with them).
pub async fn fresh_database(server: &str) -> String {
    use sqlx::{Connection, PgConnection};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("patroli_test_{}_{n}", std::process::id());
    let mut admin = PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={server}: cannot connect: {e}"));
    // The name is made of digits and ASCII letters above: no quoting needed.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    url.to_string()
}

#[cfg(test)]
impl Store {
    /// Runs `sql` as it is (tests only: the store refuses tampering with evidence and history).
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, sqlx::Error> {
        crate::db::with_pool!(&self.pool, |pool| Ok(sqlx::query(sql)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Another handle on the same database with repost candidates of its own, as another
    /// process or crawl worker has (tests only).
    pub fn another_writer(&self) -> Store {
        Store::with_pool(self.pool.clone(), self.checkpointer.clone())
    }

    /// The first column of each row `sql` returns, as text (tests only).
    pub async fn strings_raw(&self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        crate::db::with_pool!(&self.pool, |pool| sqlx::query_scalar(sql)
            .fetch_all(pool)
            .await)
    }
}
