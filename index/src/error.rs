//! Errors of the store and the search index, each saying what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the store at {path}: {message}; check that the folder exists and is writable, or pass another --data-dir"
    )]
    DataDir { path: PathBuf, message: String },
    #[error(
        "cannot connect to the database at {url}: {message}; check that PostgreSQL is running and the URL, user and password are right"
    )]
    Connect {
        url: String,
        message: String,
        /// The server did not answer (down, restarting, unreachable), as opposed to refusing
        /// the login or not knowing the database.
        unreachable: bool,
    },
    #[error("cannot apply the database migrations: {0}; the store may be from a newer patroli")]
    Migrate(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A request the store refuses as it stands; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("the store holds damaged data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// The database cannot be reached now (down, restarting, or every connection busy for
    /// longer than the pool waits): worth retrying later, unlike the other errors.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { unreachable, .. } => *unreachable,
            StoreError::Database(e) => is_unreachable(e),
            _ => false,
        }
    }
}

/// Whether `e` means the database did not answer (rather than answered with an error).
pub(crate) fn is_unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "cannot open the search index at {path}: {message}; run `patroli index rebuild` to recreate it from the store"
    )]
    Open { path: PathBuf, message: String },
    #[error("the query could not be understood: {message}. {hint}")]
    BadQuery { message: String, hint: String },
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
