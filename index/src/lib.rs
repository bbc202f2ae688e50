//! The index crate owns persistence: the SQL [`Store`] (the source of truth for posts, evidence
//! snapshots, verdicts, users, sessions, API tokens, crawl runs and the append-only audit log)
//! and the tantivy [`SearchIndex`] derived from it.
//!
//! It is the only crate that contains SQL, and every statement in it is parameterised. The
//! search index is never the only copy of anything: it follows the store's change sequence from
//! a watermark (`SearchIndex::catch_up`, driven by the [`feed`] task), and
//! `SearchIndex::rebuild` recreates it from the store.

mod analysis;
mod error;
pub mod evidence;
mod feed;
mod search;
mod simhash;
mod store;
mod tokens;

pub use analysis::Analysis;
pub use error::{SearchError, StoreError};
pub use feed::{BATCH_WINDOW, POLL_INTERVAL, feed};
pub use search::{
    FacetCounts, Facets, Hit, LANGUAGES, LEVELS, MAX_LIMIT, MAX_QUERY_LEN, QUERY_FIELDS,
    SearchIndex, SearchRequest, SearchResults, Snippet, Sort, parse_date,
};
pub use store::{
    AuditEntry, CLOSE_REASONS, Cluster, DB_FILE, ESCALATION_TARGETS, FrontierOp, Lead, LeadChange,
    LeadEvent, LeadStatus, Network, NetworkLink, PostOutcome, PostRecord, RunRecord, Session,
    SnapshotInfo, Store, User,
};
pub use tokens::{ApiToken, MAX_TOKEN_LABEL, TokenCheck};

#[cfg(test)]
mod tests;
