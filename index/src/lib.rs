//! The index crate owns persistence: the SQL [`Store`] (the source of truth for posts, evidence
//! snapshots, verdicts, users, sessions, crawl runs and the append-only audit log) and the
//! tantivy [`SearchIndex`] derived from it. The queries behind the dashboard's admin, operator and
//! chart pages are in `admin.rs`.
//!
//! It is the only crate that contains SQL, and every statement in it is parameterised. The
//! search index is never the only copy of anything: `SearchIndex::rebuild` recreates it from the
//! store.

mod admin;
mod error;
pub mod evidence;
mod search;
mod simhash;
mod store;

pub use admin::{AccountChange, Breakdown, FetchErrorRecord, ROLES, UserSummary};
pub use error::{SearchError, StoreError};
pub use search::{
    Hit, LEVELS, MAX_LIMIT, MAX_QUERY_LEN, SearchIndex, SearchRequest, SearchResults, Snippet, Sort,
};
pub use store::{
    AuditEntry, CLOSE_REASONS, Cluster, DB_FILE, ESCALATION_TARGETS, FrontierOp, Lead, LeadChange,
    LeadEvent, LeadStatus, Network, NetworkLink, PostOutcome, PostRecord, RunRecord, Session,
    SnapshotInfo, Store, User,
};

#[cfg(test)]
mod tests;
