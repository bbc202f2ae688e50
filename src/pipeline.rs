//! The glue between stages: crawl events are stored, classified and indexed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use patroli_classifier::Verdict;
use patroli_crawler::{
    CollectedPost, CrawlEvent, FetchConfig, Fetcher, Snapshot, Source, SourceKind,
    crawl_with_state, fetcher_for,
};
use patroli_index::{
    ActiveRules, Backend, FrontierOp, PostOutcome, PostRecord, RunRecord, SearchIndex, Store,
};
use tokio::sync::mpsc;
use tracing::warn;

use crate::workers::{Leases, StoreSlots};

/// Crawl events waiting to be stored, at most (back-pressure on the crawler).
const EVENT_QUEUE: usize = 64;
/// Fetched pages stored per transaction, at most: when pages queue up faster than they are
/// stored, the ones waiting are stored together and committed once.
pub const PAGES_PER_COMMIT: usize = 16;
/// Frontier changes written per transaction.
const FRONTIER_BATCH: usize = 256;
/// Stored posts buffered before they are classified together.
const CLASSIFY_BATCH: usize = 500;
/// Longest time a stored post waits to be classified (and then indexed by the feeder, within
/// its batch window: a post is searchable about a second and a half after it was stored).
const CLASSIFY_DELAY: Duration = Duration::from_secs(1);

/// The error kind the crawler gives a URL that robots.txt disallows.
const ROBOTS: &str = "robots";

/// The stages a crawl feeds.
#[derive(Clone)]
pub struct Pipeline {
    pub store: Store,
    pub index: Arc<SearchIndex>,
    /// The rule set in use, shared with the dashboard: an activation there applies to the next
    /// batch classified here.
    pub rules: ActiveRules,
    pub fetch: FetchConfig,
    /// How long a run's lease lasts unless renewed (see `workers`).
    pub lease: std::time::Duration,
    /// Called after every processed URL with the run's counts so far (progress display).
    pub progress: Option<ProgressFn>,
}

/// A progress observer.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Counts of a run under way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub pages: usize,
    pub posts: usize,
    pub queued: usize,
}

/// What one crawl run did, per source.
#[derive(Debug, Clone, Default)]
pub struct CrawlReport {
    pub runs: Vec<RunRecord>,
}

impl CrawlReport {
    pub fn posts_new(&self) -> usize {
        self.runs.iter().map(|r| r.posts_new).sum()
    }
    pub fn posts_seen(&self) -> usize {
        self.runs.iter().map(|r| r.posts_seen).sum()
    }
    /// URLs that failed (robots.txt refusals are not failures: see `robots_skipped`).
    pub fn errors(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| r.errors.iter())
            .filter(|(kind, _)| kind.as_str() != ROBOTS)
            .map(|(_, n)| n)
            .sum()
    }

    /// URLs not fetched because robots.txt disallows them.
    pub fn robots_skipped(&self) -> usize {
        self.runs.iter().filter_map(|r| r.errors.get(ROBOTS)).sum()
    }
}

#[derive(Default)]
struct Counts {
    new: usize,
    seen: usize,
}

impl Pipeline {
    /// Crawls `sources` once; every post found is stored with its evidence, classified and
    /// indexed; every failed URL is recorded; a run record is written per source.
    pub async fn crawl(&self, sources: Vec<Source>) -> anyhow::Result<CrawlReport> {
        let fetcher = self.fetcher(&sources)?;
        self.crawl_using(fetcher, sources).await
    }

    /// The fetcher for `sources`; on a shared PostgreSQL store it also keeps to the per-host
    /// request slots every worker shares.
    pub fn fetcher(&self, sources: &[Source]) -> anyhow::Result<Arc<Fetcher>> {
        let fetcher =
            fetcher_for(sources, self.fetch.clone()).context("cannot set up the HTTP client")?;
        Ok(Arc::new(match self.store.backend() {
            Backend::Postgres => {
                fetcher.with_shared_politeness(Arc::new(StoreSlots(self.store.clone())))
            }
            Backend::Sqlite => fetcher,
        }))
    }

    /// Like `crawl`, with a fetcher shared with other runs (so per-host politeness holds across
    /// runs going on at once).
    /// Sources another worker is running are skipped (see `workers`); the leases on the others
    /// are renewed while the crawl runs and given back when it ends, however it ends.
    pub async fn crawl_using(
        &self,
        fetcher: Arc<Fetcher>,
        sources: Vec<Source>,
    ) -> anyhow::Result<CrawlReport> {
        let (leases, sources) = Leases::claim(&self.store, self.lease, sources).await?;
        if sources.is_empty() {
            return Ok(CrawlReport::default());
        }
        let result = tokio::select! {
            report = self.crawl_leased(fetcher, sources) => report,
            lost = leases.keep() => Err(lost),
        };
        leases.release().await;
        result
    }

    async fn crawl_leased(
        &self,
        fetcher: Arc<Fetcher>,
        sources: Vec<Source>,
    ) -> anyhow::Result<CrawlReport> {
        let caught_up = self.classify_leftovers().await?;
        if caught_up > 0 {
            tracing::info!(
                posts = caught_up,
                "classified and indexed posts left over by an earlier run"
            );
        }
        let mut states = HashMap::new();
        let mut kinds = HashMap::new();
        for s in &sources {
            self.store
                .upsert_source(&s.id, s.kind.as_str(), &s.legal_basis)
                .await?;
            states.insert(s.id.clone(), self.store.source_state(&s.id).await?);
            kinds.insert(s.id.clone(), s.kind);
        }
        fetcher
            .seed_robots(&self.store.robots_records().await?)
            .await;
        let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
        let crawl = tokio::spawn(crawl_with_state(sources, fetcher.clone(), tx, states));
        let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
        let mut pending: Vec<i64> = Vec::new();
        let mut last_flush = Instant::now();
        let mut progress = Progress::default();
        let mut frontier: Vec<FrontierOp> = Vec::new();
        // An event taken from the queue while gathering pages, handled next.
        let mut held: Option<CrawlEvent> = None;
        loop {
            let event = match held.take() {
                Some(e) => Some(e),
                None => match tokio::time::timeout(CLASSIFY_DELAY, rx.recv()).await {
                    Ok(Some(e)) => Some(e),
                    Ok(None) => break,
                    Err(_) => None,
                },
            };
            match event {
                Some(CrawlEvent::Page { snapshot, posts }) => {
                    let mut pages = vec![(snapshot, posts)];
                    while pages.len() < PAGES_PER_COMMIT {
                        match rx.try_recv() {
                            Ok(CrawlEvent::Page { snapshot, posts }) => {
                                pages.push((snapshot, posts))
                            }
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let refs: Vec<(&Snapshot, &[CollectedPost])> =
                        pages.iter().map(|(s, p)| (s, p.as_slice())).collect();
                    let saved = self.store.save_pages(&refs).await?;
                    let posts = pages.iter().flat_map(|(_, posts)| posts);
                    for ((id, outcome), post) in saved.into_iter().flatten().zip(posts) {
                        progress.posts += 1;
                        let c = counts.entry(post.source_id.clone()).or_default();
                        match outcome {
                            PostOutcome::New => c.new += 1,
                            PostOutcome::Seen => c.seen += 1,
                            PostOutcome::Changed => c.new += 1,
                        }
                        if outcome != PostOutcome::Seen {
                            pending.push(id);
                        }
                    }
                }
                Some(CrawlEvent::Error {
                    source_id,
                    url,
                    kind,
                    message,
                }) => {
                    self.store
                        .record_fetch_error(&source_id, &url, kind, &message)
                        .await?;
                }
                Some(CrawlEvent::Queued {
                    source_id,
                    url,
                    depth,
                }) => {
                    frontier.push(FrontierOp::Queued {
                        source_id,
                        url,
                        depth,
                    });
                    progress.queued += 1;
                }
                Some(CrawlEvent::Done { source_id, url }) => {
                    frontier.push(FrontierOp::Done { source_id, url });
                    progress.pages += 1;
                    if let Some(report) = &self.progress {
                        report(&progress);
                    }
                }
                Some(CrawlEvent::NotModified { source_id, url }) => {
                    let n = self
                        .store
                        .touch_posts_at(&source_id, &url, Utc::now())
                        .await?;
                    counts.entry(source_id).or_default().seen += n as usize;
                }
                Some(CrawlEvent::Gone { source_id, url, .. }) => {
                    self.store
                        .mark_removed_at(&source_id, &url, Utc::now())
                        .await?;
                }
                Some(CrawlEvent::Validators {
                    source_id,
                    url,
                    etag,
                    last_modified,
                }) => {
                    self.store
                        .save_validators(
                            &source_id,
                            &url,
                            etag.as_deref(),
                            last_modified.as_deref(),
                        )
                        .await?;
                }
                None => {}
            }
            // Stored posts are classified, and frontier changes made durable, in batches: when a
            // batch is full or a second has passed. A crash loses at most the frontier changes of
            // that second, whose URLs are then fetched again (their posts are recognised as seen,
            // not duplicated).
            let due = last_flush.elapsed() >= CLASSIFY_DELAY;
            if frontier.len() >= FRONTIER_BATCH || (due && !frontier.is_empty()) {
                self.store
                    .frontier_apply(&std::mem::take(&mut frontier))
                    .await?;
            }
            if pending.len() >= CLASSIFY_BATCH || (due && !pending.is_empty()) {
                self.classify_and_index(&std::mem::take(&mut pending))
                    .await?;
            }
            if due {
                last_flush = Instant::now();
            }
        }
        self.store.frontier_apply(&frontier).await?;
        self.classify_and_index(&pending).await?;
        // A crawl returns with everything it stored searchable, feeder or not.
        self.index.catch_up(&self.store).await?;
        let summaries = crawl.await.context("the crawl task failed")?;
        self.store
            .save_robots(&fetcher.robots_cache().await)
            .await?;
        let mut report = CrawlReport::default();
        for s in summaries {
            let c = counts.remove(&s.source_id).unwrap_or_default();
            let errors: BTreeMap<String, usize> =
                s.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let status = if s.pages > 0 && errors.values().sum::<usize>() == s.pages {
                "failed"
            } else if c.new == 0 {
                "stalled"
            } else {
                "ok"
            };
            if status == "stalled" {
                warn!(source = %s.source_id, "the run found no new posts");
            }
            if s.complete {
                self.store.frontier_clear(&s.source_id).await?;
                // Listings are crawled whole: a post no longer there was taken down. Feeds and
                // channel previews only show recent items, so absence there means nothing.
                let listing = matches!(
                    kinds.get(&s.source_id),
                    Some(SourceKind::Jobposting | SourceKind::HtmlListing)
                );
                let failed = errors.keys().any(|k| k != ROBOTS);
                if listing && !failed && !s.resumed {
                    let gone = self
                        .store
                        .mark_unseen_removed(&s.source_id, s.started)
                        .await?;
                    if gone > 0 {
                        tracing::info!(source = %s.source_id, gone, "posts gone from their listing");
                    }
                }
            }
            let run = RunRecord {
                source_id: s.source_id,
                started_at: s.started,
                finished_at: s.finished,
                pages: s.pages,
                posts_new: c.new,
                posts_seen: c.seen,
                errors,
                failures: s.failures,
                status: status.to_string(),
            };
            self.store.record_run(&run).await?;
            report.runs.push(run);
        }
        Ok(report)
    }

    /// Classifies stored posts (off the async executor) and asks the index to pick them up.
    pub async fn classify_and_index(&self, ids: &[i64]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut posts: Vec<PostRecord> = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.store.post(*id).await? {
                posts.push(p);
            }
        }
        let classifier = self.rules.classifier();
        let posts = tokio::task::spawn_blocking(move || {
            for p in &mut posts {
                p.verdict = Some(classifier.classify(&p.classified_text()));
            }
            posts
        })
        .await?;
        // The verdicts go to the store, which gives each post a new change sequence; the index
        // follows from its watermark (nudged here, so within a second while the feeder runs).
        // A crash in between loses nothing: the next catch-up starts from the last commit.
        let verdicts: Vec<(i64, &Verdict)> = posts
            .iter()
            .filter_map(|p| Some((p.id, p.verdict.as_ref()?)))
            .collect();
        self.store.save_verdicts(&verdicts).await?;
        self.index.nudge();
        Ok(())
    }

    /// Classifies and indexes every stored post that has no verdict yet: posts stored by a run
    /// that crashed before it classified them, and posts whose text changed. Returns how many.
    pub async fn classify_leftovers(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let ids = self.store.unclassified_ids(CLASSIFY_BATCH as i64).await?;
            if ids.is_empty() {
                return Ok(done);
            }
            self.classify_and_index(&ids).await?;
            done += ids.len();
        }
    }
}

/// Crawls `sources` once without storing anything: each post found is handed to `emit` (for
/// `crawl --once --dry-run`, to try a new source, and for the crawl benchmark).
pub async fn collect_only(
    sources: Vec<Source>,
    config: FetchConfig,
    mut emit: impl FnMut(&patroli_crawler::CollectedPost) -> std::io::Result<()>,
) -> anyhow::Result<Vec<patroli_crawler::RunSummary>> {
    let fetcher = Arc::new(fetcher_for(&sources, config).context("cannot set up the HTTP client")?);
    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let crawl = tokio::spawn(patroli_crawler::crawl_once(sources, fetcher, tx));
    while let Some(event) = rx.recv().await {
        if let CrawlEvent::Page { posts, .. } = event {
            for p in &posts {
                emit(p)?;
            }
        }
    }
    crawl.await.context("the crawl task failed")
}
