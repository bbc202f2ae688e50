//! The index crate owns persistence: the SQL [`Store`] (the source of truth for posts, evidence
//! snapshots, verdicts, users, sessions, crawl runs, activated rule sets and the append-only
//! audit log) and the tantivy [`SearchIndex`] derived from it. It also holds [`ActiveRules`],
//! the rule set in use, shared by the pipeline and the dashboard and backed by the store, and
//! [`diff`], which compares two rule sets over the stored posts.
//!
//! It is the only crate that contains SQL, and every statement in it is parameterised. The
//! search index is never the only copy of anything: `SearchIndex::rebuild` recreates it from the
//! store.

mod error;
pub mod evidence;
mod rulediff;
mod rulesets;
mod search;
mod simhash;
mod store;

pub use error::{SearchError, StoreError};
pub use rulediff::{Change, RuleDiff, diff};
pub use rulesets::{
    Activation, ActivationError, ActiveRuleSet, ActiveRules, Origin, RuleSet, Stored,
    corpus_post_id, file_name,
};
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
