//! The crawler owns collection: it fetches public pages from configured [`Source`]s, politely
//! (one rate limiter per host shared by every source, robots.txt honoured, an identifying
//! User-Agent) and safely (only the source's hosts, no private addresses unless a source allows
//! them, bounded bodies, redirects and frontiers), extracts [`CollectedPost`]s per kind of source
//! and sends them with the page's evidence [`Snapshot`] as [`CrawlEvent`]s over a bounded channel.
//!
//! It knows nothing of SQL, tantivy, the classifier or the dashboard: whoever receives the events
//! stores them.

mod crawl;
mod extract;
mod fetch;
mod metrics;
mod model;
mod source;

pub use crawl::{Admission, RunSummary, crawl_once, crawl_with_state, fetcher_for, normalize_url};
pub use extract::{PageResult, element_text, extract};
pub use fetch::{
    FetchConfig, FetchError, FetchOutcome, Fetched, Fetcher, HostPolicy, RobotsRecord,
    SharedPoliteness, USER_AGENT, decode, is_private,
};
pub use model::{CollectedPost, CrawlEvent, Snapshot, SourceState, Validators};
pub use source::{Selectors, Source, SourceError, SourceKind, parse_sources};
