//! One crawl run over a set of sources: the frontier, admission decisions, and the events sent
//! to the store.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tracing::{Instrument, info, info_span, warn};
use url::Url;

use crate::extract::extract;
use crate::fetch::{FetchConfig, FetchError, FetchOutcome, Fetcher, HostPolicy, MAX_URL_LEN};
use crate::metrics;
use crate::model::{CrawlEvent, SourceState};
use crate::source::Source;

/// Query parameters that only track clicks; dropped so one page is one URL.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ref_src",
];
/// A URL with more query parameters than this is treated as a trap and not followed.
pub const MAX_QUERY_PARAMS: usize = 8;

/// Canonical form of a URL: no fragment, no tracking parameters, query sorted, host lower-cased
/// (the `url` crate already lower-cases hosts and removes default ports).
pub fn normalize_url(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u
}

/// Why a discovered URL was or was not queued. Each reason is counted in the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Admission {
    Allowed,
    Duplicate,
    OffScope,
    OverDepth,
    OverBudget,
    TooLong,
    TooManyParams,
}

/// How one source's run went.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub source_id: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub pages: usize,
    pub posts: usize,
    pub errors: BTreeMap<&'static str, usize>,
    /// The first few failures, as (URL, what happened), to show operators.
    pub failures: Vec<(String, String)>,
    pub admissions: BTreeMap<String, usize>,
    /// The run continued an unfinished one.
    pub resumed: bool,
    /// The frontier was exhausted: no URL was left out for the page budget and the run was not
    /// stopped. Only a complete run can tell that a post is gone from its listing.
    pub complete: bool,
}

/// Failures kept per run summary for display (all are counted and sent as events).
pub const MAX_FAILURES_SHOWN: usize = 5;

/// Builds the shared fetcher for a set of sources: one policy per host, the slowest wins.
pub fn fetcher_for(sources: &[Source], config: FetchConfig) -> Result<Fetcher, FetchError> {
    let mut policies: HashMap<String, HostPolicy> = HashMap::new();
    for s in sources {
        for host in s.hosts() {
            let p = policies.entry(host).or_insert(HostPolicy {
                rate_per_minute: s.rate_per_minute,
                burst: s.burst,
            });
            p.rate_per_minute = p.rate_per_minute.min(s.rate_per_minute);
            p.burst = p.burst.min(s.burst);
        }
    }
    let ua = sources.iter().find_map(|s| s.user_agent.clone());
    Fetcher::new(
        policies,
        HostPolicy {
            rate_per_minute: 60,
            burst: 1,
        },
        ua,
        config,
    )
}

/// Crawls every source once, concurrently (politeness is per host, shared). Pages that yield
/// posts and failed URLs are sent on `events`; the summaries are returned.
pub async fn crawl_once(
    sources: Vec<Source>,
    fetcher: Arc<Fetcher>,
    events: mpsc::Sender<CrawlEvent>,
) -> Vec<RunSummary> {
    crawl_with_state(sources, fetcher, events, HashMap::new()).await
}

/// Like `crawl_once`, resuming each source from its `SourceState` (keyed by source id) when it
/// has one: the pending URLs are fetched, the seen ones are not queued again, and pages with
/// validators are fetched conditionally.
pub async fn crawl_with_state(
    sources: Vec<Source>,
    fetcher: Arc<Fetcher>,
    events: mpsc::Sender<CrawlEvent>,
    mut states: HashMap<String, SourceState>,
) -> Vec<RunSummary> {
    let tasks: Vec<_> = sources
        .into_iter()
        .map(|source| {
            let fetcher = fetcher.clone();
            let events = events.clone();
            let state = states.remove(&source.id).unwrap_or_default();
            let span = info_span!("crawl", source = %source.id);
            tokio::spawn(
                async move { crawl_source(&source, &fetcher, &events, state).await }
                    .instrument(span),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(summary) => out.push(summary),
            Err(e) => warn!(error = %e, "a crawl task panicked"),
        }
    }
    out
}

/// Sends an event; false when the receiver is gone (the run then stops).
async fn send(events: &mpsc::Sender<CrawlEvent>, event: CrawlEvent) -> bool {
    events.send(event).await.is_ok()
}

async fn crawl_source(
    source: &Source,
    fetcher: &Fetcher,
    events: &mpsc::Sender<CrawlEvent>,
    state: SourceState,
) -> RunSummary {
    let mut summary = RunSummary {
        source_id: source.id.clone(),
        started: Utc::now(),
        finished: Utc::now(),
        pages: 0,
        posts: 0,
        errors: BTreeMap::new(),
        failures: Vec::new(),
        admissions: BTreeMap::new(),
        resumed: !state.pending.is_empty(),
        complete: false,
    };
    let id = || source.id.clone();
    let mut queue: VecDeque<(Url, usize)> = VecDeque::new();
    let mut seen: HashSet<Url> = HashSet::new();
    if summary.resumed {
        seen.extend(state.seen.iter().filter_map(|u| Url::parse(u).ok()));
        queue.extend(
            state
                .pending
                .iter()
                .filter_map(|(u, d)| Url::parse(u).ok().map(|u| (u, *d))),
        );
        info!(pending = queue.len(), "resuming an unfinished run");
    } else {
        for u in &source.start_urls {
            if admit(source, u, 0, &mut seen, &mut summary.admissions) == Admission::Allowed {
                let u = normalize_url(u);
                let queued = CrawlEvent::Queued {
                    source_id: id(),
                    url: u.to_string(),
                    depth: 0,
                };
                if !send(events, queued).await {
                    return summary;
                }
                queue.push_back((u, 0));
            }
        }
    }
    let mut stopped = false;
    let allows = |u: &Url| source.allows(u);
    let fetch = |url: Url, depth: usize| {
        let validators = state.validators.get(url.as_str());
        let allows = &allows;
        async move {
            let fetched = fetcher
                .fetch_conditional(&url, source.allow_private, allows, validators)
                .await;
            (url, depth, fetched)
        }
    };
    // Up to `concurrency` fetches of this source are in flight; the per-host limiter still
    // decides when each request may go out.
    let mut inflight = FuturesUnordered::new();
    loop {
        while inflight.len() < source.concurrency {
            let Some((url, depth)) = queue.pop_front() else {
                break;
            };
            inflight.push(fetch(url, depth));
        }
        let Some((url, depth, fetched)) = inflight.next().await else {
            break;
        };
        summary.pages += 1;
        metrics::PAGES.with_label_values(&[&source.id]).inc();
        metrics::QUEUE
            .with_label_values(&[&source.id])
            .set(queue.len() as i64);
        let mut out: Vec<CrawlEvent> = Vec::new();
        match fetched {
            Ok(FetchOutcome::NotModified) => out.push(CrawlEvent::NotModified {
                source_id: id(),
                url: url.to_string(),
            }),
            Ok(FetchOutcome::Page(fetched)) => {
                metrics::BYTES
                    .with_label_values(&[&source.id])
                    .inc_by(fetched.snapshot.body.len() as u64);
                let result = extract(source, &url, &fetched.snapshot.body, &fetched.text);
                // Further pages of a listing stay at its depth; links go one level deeper.
                let next = result
                    .pages
                    .iter()
                    .map(|u| (u, depth))
                    .chain(result.links.iter().map(|u| (u, depth + 1)));
                for (link, next_depth) in next {
                    if admit(source, link, next_depth, &mut seen, &mut summary.admissions)
                        == Admission::Allowed
                    {
                        let link = normalize_url(link);
                        out.push(CrawlEvent::Queued {
                            source_id: id(),
                            url: link.to_string(),
                            depth: next_depth,
                        });
                        queue.push_back((link, next_depth));
                    }
                }
                if !result.posts.is_empty() {
                    summary.posts += result.posts.len();
                    metrics::POSTS
                        .with_label_values(&[&source.id])
                        .inc_by(result.posts.len() as u64);
                    let header = |name: &str| {
                        fetched
                            .snapshot
                            .headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone())
                    };
                    let (etag, last_modified) = (header("etag"), header("last-modified"));
                    let cacheable = result.links.is_empty()
                        && result.pages.is_empty()
                        && (etag.is_some() || last_modified.is_some());
                    out.insert(
                        0,
                        CrawlEvent::Page {
                            snapshot: fetched.snapshot,
                            posts: result.posts,
                        },
                    );
                    if cacheable {
                        out.push(CrawlEvent::Validators {
                            source_id: id(),
                            url: url.to_string(),
                            etag,
                            last_modified,
                        });
                    }
                }
            }
            Err(e) => {
                *summary.errors.entry(e.kind()).or_default() += 1;
                metrics::ERRORS
                    .with_label_values(&[&source.id, e.kind()])
                    .inc();
                if summary.failures.len() < MAX_FAILURES_SHOWN {
                    summary.failures.push((url.to_string(), e.to_string()));
                }
                warn!(url = %url, kind = e.kind(), error = %e, "fetch failed");
                if let FetchError::Status(status @ (404 | 410)) = e {
                    out.push(CrawlEvent::Gone {
                        source_id: id(),
                        url: url.to_string(),
                        status,
                    });
                }
                out.push(CrawlEvent::Error {
                    source_id: id(),
                    url: url.to_string(),
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
        out.push(CrawlEvent::Done {
            source_id: id(),
            url: url.to_string(),
        });
        for event in out {
            if !send(events, event).await {
                stopped = true;
                break;
            }
        }
        if stopped {
            break;
        }
    }
    metrics::QUEUE.with_label_values(&[&source.id]).set(0);
    summary.complete = !stopped && !summary.admissions.contains_key("OverBudget");
    summary.finished = Utc::now();
    info!(
        pages = summary.pages,
        posts = summary.posts,
        errors = summary.errors.values().sum::<usize>(),
        complete = summary.complete,
        "source crawled"
    );
    summary
}

/// Decides whether a discovered URL is queued, and counts the decision.
fn admit(
    source: &Source,
    url: &Url,
    depth: usize,
    seen: &mut HashSet<Url>,
    admissions: &mut BTreeMap<String, usize>,
) -> Admission {
    let url = normalize_url(url);
    let decision = if url.as_str().len() > MAX_URL_LEN {
        Admission::TooLong
    } else if !source.allows(&url) {
        Admission::OffScope
    } else if url.query_pairs().count() > MAX_QUERY_PARAMS {
        Admission::TooManyParams
    } else if depth > source.max_depth {
        Admission::OverDepth
    } else if seen.contains(&url) {
        Admission::Duplicate
    } else if seen.len() >= source.max_pages {
        Admission::OverBudget
    } else {
        seen.insert(url);
        Admission::Allowed
    };
    *admissions.entry(format!("{decision:?}")).or_default() += 1;
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_urls() {
        let u = Url::parse("HTTP://Loker.Example:80/a?utm_source=fb&z=1&fbclid=x&a=2#top").unwrap();
        assert_eq!(normalize_url(&u).as_str(), "http://loker.example/a?a=2&z=1");
        let u = Url::parse("https://t.me/s/x?utm_medium=1").unwrap();
        assert_eq!(normalize_url(&u).as_str(), "https://t.me/s/x");
    }
}
