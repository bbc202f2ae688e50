//! The index crate owns persistence: the SQL [`Store`] (the source of truth for posts, evidence
//! snapshots, verdicts, users, sessions, API tokens, crawl runs, activated rule sets and the append-only
//! audit log) and the tantivy [`SearchIndex`] derived from it. It also holds [`ActiveRules`],
//! the rule set in use, shared by the pipeline and the dashboard and backed by the store, and
//! [`diff`], which compares two rule sets over the stored posts. The queries behind the
//! dashboard's admin, operator and chart pages are in `admin.rs`.
//!
//! It is the only crate that contains SQL, and every statement in it is parameterised. The
//! search index is never the only copy of anything: it follows the store's change sequence from
//! a watermark (`SearchIndex::catch_up`, driven by the [`feed`] task), and
//! `SearchIndex::rebuild` recreates it from the store.

mod admin;
mod analysis;
mod crawlshare;
mod db;
mod error;
pub mod evidence;
mod facets;
mod feed;
pub mod fts5;
mod reposts;
mod rulediff;
mod rulesets;
mod search;
mod simhash;
mod store;
mod tokens;

pub use admin::{AccountChange, Breakdown, FetchErrorRecord, ROLES, UserSummary};
pub use analysis::Analysis;
pub use crawlshare::{Claim, Lease};
pub use db::redact as redact_url;
pub use error::{SearchError, StoreError};
pub use feed::{BATCH_WINDOW, POLL_INTERVAL, feed};
pub use rulediff::{Change, RuleDiff, diff};
pub use rulesets::{
    Activation, ActivationError, ActiveRuleSet, ActiveRules, Origin, RuleSet, Stored,
    corpus_post_id, file_name,
};
pub use search::{
    FACET_CACHE_ENTRIES, FacetCounts, Facets, Hit, LANGUAGES, LEVELS, MAX_LIMIT, MAX_QUERY_LEN,
    QUERY_FIELDS, SearchIndex, SearchRequest, SearchResults, Snippet, Sort, parse_date,
};
pub use store::{
    AuditEntry, Backend, CLOSE_REASONS, Cluster, DB_FILE, ESCALATION_TARGETS, FrontierOp,
    IndexedPost, IndexedVerdict, Judgement, JudgementRecord, Lead, LeadChange, LeadEvent,
    LeadStatus, Network, NetworkLink, PostOutcome, PostRecord, RunRecord, Session, SnapshotInfo,
    Store, User,
};
pub use tokens::{ApiToken, MAX_TOKEN_LABEL, TokenCheck};

#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;
