//! What the crawler hands on: plain data, no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A response as it was received: the evidence behind a post. Never modified once taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub requested_url: String,
    /// After redirects.
    pub final_url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body bytes as received (after HTTP content decoding such as gzip).
    pub body: Vec<u8>,
    /// SHA-256 of `body`, lower-case hex.
    pub sha256: String,
    pub fetched_at: DateTime<Utc>,
}

/// A post found on a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectedPost {
    pub source_id: String,
    /// The post's own address (a detail page, a `t.me/<channel>/<n>` link, a feed item link).
    pub url: String,
    /// The identifier the site gives the post, when it has one (`data-post`, feed `guid`).
    pub external_id: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub author: Option<String>,
    pub location: Option<String>,
    pub published: Option<DateTime<Utc>>,
}

/// What a crawl run sends to whoever stores its results, over a bounded channel.
#[derive(Debug)]
pub enum CrawlEvent {
    /// A page that yielded posts, with its snapshot.
    Page {
        snapshot: Snapshot,
        posts: Vec<CollectedPost>,
    },
    /// A URL joined the frontier (persisted so a crashed run can resume).
    Queued {
        source_id: String,
        url: String,
        depth: usize,
    },
    /// A URL was processed (its page, links and errors were sent before this event).
    Done { source_id: String, url: String },
    /// The server says a page is unchanged since the validators given (HTTP 304).
    NotModified { source_id: String, url: String },
    /// A page answered 404 or 410: the posts it held are gone.
    Gone {
        source_id: String,
        url: String,
        status: u16,
    },
    /// Cache validators of a page that yielded posts and no links, for conditional GET next time.
    Validators {
        source_id: String,
        url: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// A URL that failed; the run goes on.
    Error {
        source_id: String,
        url: String,
        kind: &'static str,
        message: String,
    },
}

/// Cache validators of a page, sent back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Where a source's previous, unfinished run stopped, and what is known about its pages: given to
/// the crawler so a run resumes instead of starting over, and re-fetches use conditional GET.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    /// URLs queued but not done, with their depth.
    pub pending: Vec<(String, usize)>,
    /// Every URL of the unfinished run (queued or done), so none is queued twice.
    pub seen: Vec<String>,
    /// Validators per URL.
    pub validators: std::collections::HashMap<String, Validators>,
}
