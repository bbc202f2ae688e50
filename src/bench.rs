//! `patroli bench search`: the index benchmark. It generates realistic synthetic posts, ingests
//! them through the real store and search index, loads the same posts into SQLite FTS5, and
//! times about twenty representative queries on both, interleaved in one run.
//!
//! Synthetic posts are recombined from the sentences of the labelled development corpus and the
//! sample web (so their vocabulary, slang and mix of illegal, legitimate and news posts are the
//! real ones), with recruiter phone numbers drawn from a pool (so networks form) and dates over
//! the past year. Verdicts come from the real classifier; classification is not part of the
//! timed ingest (it has its own benchmark).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Duration as Days, NaiveDate, Utc};
use patroli_classifier::{Classifier, LanguageDetection, Verdict};
use patroli_crawler::{CollectedPost, Snapshot};
use patroli_index::fts5::{Fts5Baseline, Fts5Post, Fts5Query};
use patroli_index::{SearchIndex, SearchRequest, Sort, Store};

use crate::pipeline::PAGES_PER_COMMIT;
use crate::{sampleweb, seeds};

/// The labelled development corpus, the main source of sentences.
const DEV_CORPUS: &str = include_str!("../seeds/corpus/dev.jsonl");
/// Posts generated, classified and stored per step.
const CHUNK: usize = 10_000;
/// Posts per synthetic page (one evidence snapshot each), like a listing page.
const POSTS_PER_PAGE: usize = 50;
/// Distinct recruiter phone numbers; a post names one about half the time.
const RECRUITERS: u64 = 20_000;
/// Source ids the posts are spread over.
const SOURCES: &[&str] = &[
    "loker-kalbar",
    "tg-kerja-malaysia",
    "tg-info-loker-ptk",
    "forum-tki",
    "feed-lowongan",
    "fb-grup-sambas",
    "tg-admin-online",
    "loker-sarawak",
];

/// One benchmark query, written for each engine.
struct BenchQuery {
    name: &'static str,
    tantivy: SearchRequest,
    fts5: Fts5Query,
}

fn queries(today: NaiveDate) -> Vec<BenchQuery> {
    let month_ago = today - Days::days(30);
    let q = |name: &'static str, text: &str, fts: Option<&str>| BenchQuery {
        name,
        tantivy: SearchRequest {
            query: text.into(),
            limit: 20,
            ..Default::default()
        },
        fts5: Fts5Query {
            matches: fts.map(str::to_string),
            limit: 20,
            ..Default::default()
        },
    };
    let mut out = vec![
        q("one word", "sawit", Some("sawit")),
        q("two words", "sawit sarawak", Some("sawit sarawak")),
        q("phrase", "\"paspor dibantu\"", Some("\"paspor dibantu\"")),
        q("phrase 2", "\"jalan tikus\"", Some("\"jalan tikus\"")),
        q("OR", "kapal OR nelayan", Some("kapal OR nelayan")),
        q("NOT", "agen -resmi", Some("agen NOT resmi")),
        q("prefix", "berangk*", Some("berangk*")),
        q("rare word", "entikong", Some("entikong")),
        q("common word", "gaji", Some("gaji")),
        q(
            "three words",
            "admin online kamboja",
            Some("admin online kamboja"),
        ),
        q("stemmed form", "pekerjaan", Some("pekerjaan")),
        q("slang", "krj malaysia", Some("krj malaysia")),
    ];
    let mut filtered = |name: &'static str,
                        text: &str,
                        fts: Option<&str>,
                        set: &dyn Fn(&mut SearchRequest, &mut Fts5Query)| {
        let mut b = q(name, text, fts);
        set(&mut b.tantivy, &mut b.fts5);
        out.push(b);
    };
    filtered("word + level", "gaji", Some("gaji"), &|t, f| {
        t.level = Some("high".into());
        f.level = Some("high".into());
    });
    filtered("word + destination", "kerja", Some("kerja"), &|t, f| {
        t.destination = Some("MY".into());
        f.destination = Some("MY".into());
    });
    filtered(
        "words + Kalbar",
        "kerja malaysia",
        Some("kerja malaysia"),
        &|t, f| {
            t.kalbar_only = true;
            f.kalbar_only = true;
        },
    );
    filtered("word + last 30 days", "paspor", Some("paspor"), &|t, f| {
        t.from = Some(month_ago);
        f.from = Some(month_ago.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    });
    filtered(
        "word, newest first",
        "lowongan",
        Some("lowongan"),
        &|t, f| {
            t.sort = Sort::Recent;
            f.recent = true;
        },
    );
    filtered("browse high risk by score", "", None, &|t, f| {
        t.level = Some("high".into());
        t.sort = Sort::Score;
        f.level = Some("high".into());
    });
    filtered("browse newest", "", None, &|t, f| {
        t.sort = Sort::Recent;
        f.recent = true;
    });
    filtered(
        "phrase + level + Kalbar",
        "\"gaji besar\"",
        Some("\"gaji besar\""),
        &|t, f| {
            t.level = Some("high".into());
            t.kalbar_only = true;
            f.level = Some("high".into());
            f.kalbar_only = true;
        },
    );
    out
}

/// A sentence pool and the generator's random state.
struct Generator {
    sentences: Vec<String>,
    rng: fastrand::Rng,
    today: chrono::DateTime<Utc>,
    next_id: u64,
}

impl Generator {
    fn new(seed: u64) -> anyhow::Result<Generator> {
        let mut texts: Vec<String> = DEV_CORPUS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)?;
                Ok(v["text"].as_str().unwrap_or_default().to_string())
            })
            .collect::<anyhow::Result<_>>()?;
        texts.extend(sampleweb::sample_posts()?.into_iter().map(|p| p.text));
        let mut sentences: Vec<String> = texts
            .iter()
            .flat_map(|t| split_sentences(t))
            .filter(|s| s.len() >= 12)
            .collect();
        sentences.sort();
        sentences.dedup();
        anyhow::ensure!(!sentences.is_empty(), "no sentences to build posts from");
        Ok(Generator {
            sentences,
            rng: fastrand::Rng::with_seed(seed),
            today: Utc::now(),
            next_id: 0,
        })
    }

    fn post(&mut self) -> CollectedPost {
        self.next_id += 1;
        let n = self.rng.usize(2..=6);
        let mut text = String::new();
        for _ in 0..n {
            let s = &self.sentences[self.rng.usize(..self.sentences.len())];
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(s);
        }
        if self.rng.bool() {
            let recruiter = self.rng.u64(..RECRUITERS);
            text.push_str(&format!(" WA 0812{:07}", recruiter * 37 % 10_000_000));
        }
        let title = self.rng.bool().then(|| {
            text.split_whitespace()
                .take(7)
                .collect::<Vec<_>>()
                .join(" ")
        });
        let source = SOURCES[self.rng.usize(..SOURCES.len())];
        let published = self.today - Days::minutes(self.rng.i64(0..365 * 24 * 60));
        CollectedPost {
            source_id: source.to_string(),
            url: format!("https://{source}.example/post/{}", self.next_id),
            external_id: Some(self.next_id.to_string()),
            title,
            text,
            author: Some(format!("user{}", self.rng.u32(..50_000))),
            location: None,
            published: Some(published),
        }
    }
}

/// The text the pipeline classifies: the title, a blank line, the body (as
/// `PostRecord::classified_text` does once the post is stored).
fn classified_text(p: &CollectedPost) -> String {
    match &p.title {
        Some(t) => format!("{t}\n\n{}", p.text),
        None => p.text.clone(),
    }
}

/// An evidence snapshot of `body` as fetched from `url` now.
fn snapshot_of(url: &str, body: Vec<u8>) -> Snapshot {
    Snapshot {
        requested_url: url.to_string(),
        final_url: url.to_string(),
        status: 200,
        headers: Vec::new(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)),
        body,
        fetched_at: Utc::now(),
    }
}

/// Splits a post into sentences at `.`, `!`, `?` and line breaks.
fn split_sentences(text: &str) -> Vec<String> {
    text.split_inclusive(['.', '!', '?', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Classifies posts on every core (not timed as ingest).
fn classify_all(classifier: &Classifier, posts: &[CollectedPost]) -> Vec<Verdict> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = posts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = posts
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|p| classifier.classify(&classified_text(p)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("classifier thread"))
            .collect()
    })
}

/// Sizes of everything under `path`, in bytes.
fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| disk_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Latencies of one query class on both engines.
struct Timings {
    name: &'static str,
    total: usize,
    tantivy: Vec<Duration>,
    /// The same searches on an index that keeps facet counts between searches.
    cached: Vec<Duration>,
    fts5: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Posts stored one at a time while the feeder runs, to time how soon each is searchable.
const FRESHNESS_TRIALS: usize = 20;

/// How long a post stored the way a crawl stores it takes to become searchable, with the feeder
/// task running as under `patroli run`.
async fn freshness(
    store: &Store,
    index: &Arc<SearchIndex>,
    classifier: &Classifier,
    generator: &mut Generator,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let feeder = tokio::spawn(patroli_index::feed(index.clone(), store.clone(), async {
        let _ = stopped.await;
    }));
    let mut waits = Vec::with_capacity(FRESHNESS_TRIALS);
    for trial in 0..FRESHNESS_TRIALS {
        let mut post = generator.post();
        let marker = format!("penandauji{trial}x{}", generator.rng.u32(..));
        post.text.push(' ');
        post.text.push_str(&marker);
        let verdict = classifier.classify(&classified_text(&post));
        let snapshot = snapshot_of(&post.url, post.text.clone().into_bytes());
        let start = Instant::now();
        let id = store.save_page(&snapshot, &[post]).await?[0].0;
        store.save_verdicts(&[(id, &verdict)]).await?;
        index.nudge();
        let query = SearchRequest {
            query: marker,
            limit: 1,
            ..Default::default()
        };
        while index.search(&query)?.total == 0 {
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(30),
                "a stored post was not searchable after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        waits.push(start.elapsed());
    }
    let _ = stop.send(());
    feeder.await?;
    waits.sort();
    println!(
        "\nFreshness: a post stored and classified while the feeder runs is searchable after {} ms (median) and {} ms at most, over {FRESHNESS_TRIALS} posts (the feeder waits {} ms after a nudge to batch).",
        ms(percentile(&waits, 50.0)),
        ms(*waits.last().expect("trials ran")),
        patroli_index::BATCH_WINDOW.as_millis()
    );
    Ok(())
}

/// Stores `posts` as pages of [`POSTS_PER_PAGE`], [`PAGES_PER_COMMIT`] to a transaction as the
/// pipeline does with a backlog, then their verdicts in batches of 1,000, as the pipeline does.
/// Returns the posts' ids and the time each part took.
async fn store_chunk(
    store: &Store,
    posts: &[CollectedPost],
    verdicts: &[Verdict],
) -> anyhow::Result<(Vec<i64>, Duration, Duration)> {
    let t = Instant::now();
    let mut ids = Vec::with_capacity(posts.len());
    let pages: Vec<(Snapshot, &[CollectedPost])> = posts
        .chunks(POSTS_PER_PAGE)
        .map(|page| {
            let body = format!("synthetic page of {} posts", page.len());
            (snapshot_of(&page[0].url, body.into_bytes()), page)
        })
        .collect();
    for batch in pages.chunks(PAGES_PER_COMMIT) {
        let refs: Vec<(&Snapshot, &[CollectedPost])> = batch.iter().map(|(s, p)| (s, *p)).collect();
        for saved in store.save_pages(&refs).await? {
            ids.extend(saved.into_iter().map(|(id, _)| id));
        }
    }
    let pages = t.elapsed();
    let t = Instant::now();
    let pairs: Vec<(i64, &Verdict)> = ids.iter().copied().zip(verdicts.iter()).collect();
    for batch in pairs.chunks(1_000) {
        store.save_verdicts(batch).await?;
    }
    Ok((ids, pages, t.elapsed()))
}

/// Stores `posts` and their verdicts as [`store_chunk`] does into a new store in `dir`, while
/// the feeder keeps a new index in step as under `patroli run` (nudged after each chunk's
/// verdicts). Returns the time until every post is searchable; `dir` is removed afterwards.
async fn store_with_feeder(
    dir: &Path,
    posts: &[CollectedPost],
    verdicts: &[Verdict],
) -> anyhow::Result<Duration> {
    let _ = std::fs::remove_dir_all(dir);
    let store = Store::open(dir).await?;
    for s in SOURCES {
        store
            .upsert_source(s, "telegram", "synthetic benchmark source")
            .await?;
    }
    let index = Arc::new(open_index(dir)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let t = Instant::now();
    let feeder = tokio::spawn(patroli_index::feed(index.clone(), store.clone(), async {
        let _ = stopped.await;
    }));
    for (posts, verdicts) in posts.chunks(CHUNK).zip(verdicts.chunks(CHUNK)) {
        store_chunk(&store, posts, verdicts).await?;
        index.nudge();
    }
    // The feeder's last catch-up, on shutdown, indexes whatever is left.
    let _ = stop.send(());
    feeder.await?;
    let elapsed = t.elapsed();
    anyhow::ensure!(
        index.len() == posts.len() as u64,
        "indexed {} of {} posts",
        index.len(),
        posts.len()
    );
    store.close().await;
    drop(index);
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(elapsed)
}

/// Options of a run.
pub struct Options {
    pub posts: usize,
    pub dir: PathBuf,
    pub rounds: usize,
    pub seed: u64,
    /// Time the queries on the data an earlier run left in `dir`, without ingesting.
    pub reuse: bool,
}

/// The search index of the store in `store_dir`, with the built-in pack's analysis.
fn open_index(store_dir: &Path) -> anyhow::Result<SearchIndex> {
    Ok(SearchIndex::open(
        &store_dir.join("index"),
        &seeds::analysis(None)?,
    )?)
}

/// Generates, classifies and ingests the posts into a new store, index and FTS5 database, and
/// prints the ingest table.
async fn ingest(
    opts: &Options,
    classifier: &Classifier,
    generator: &mut Generator,
) -> anyhow::Result<(Store, Arc<SearchIndex>, Fts5Baseline)> {
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let store_dir = opts.dir.join("store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let store = Store::open(&store_dir).await?;
    // Every timed search counts its facets: the cache is measured separately.
    let index = Arc::new(open_index(&store_dir)?.with_facet_cache(0));
    let fts_file = opts.dir.join("fts5.db");
    let fts = Fts5Baseline::create(&fts_file).await?;
    for s in SOURCES {
        store
            .upsert_source(s, "telegram", "synthetic benchmark source")
            .await?;
    }
    eprintln!(
        "generating and classifying {} posts ({} sentences to draw from)…",
        opts.posts,
        generator.sentences.len()
    );
    let posts: Vec<CollectedPost> = (0..opts.posts).map(|_| generator.post()).collect();
    let t = Instant::now();
    let verdicts = classify_all(classifier, &posts);
    let classify_time = t.elapsed();
    eprintln!("storing them, chunk by chunk…");
    let (mut store_time, mut verdict_time, mut fts_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for (posts, verdicts) in posts.chunks(CHUNK).zip(verdicts.chunks(CHUNK)) {
        let (ids, pages, verdicts_stored) = store_chunk(&store, posts, verdicts).await?;
        store_time += pages;
        verdict_time += verdicts_stored;

        let rows: Vec<Fts5Post> = posts
            .iter()
            .zip(verdicts)
            .zip(&ids)
            .map(|((p, v), id)| Fts5Post {
                id: *id,
                title: p.title.clone().unwrap_or_default(),
                body: p.text.clone(),
                source: p.source_id.clone(),
                level: v.level.as_str().to_string(),
                score: v.score,
                kalbar: v.kalbar,
                date: p.published.unwrap_or_else(Utc::now),
                destinations: v
                    .destinations
                    .iter()
                    .map(|d| d.country.to_string())
                    .collect(),
            })
            .collect();
        let t = Instant::now();
        fts.insert(&rows).await?;
        fts_time += t.elapsed();
    }
    let t = Instant::now();
    fts.finish_load().await?;
    fts_time += t.elapsed();
    eprintln!("indexing from the store (tantivy)…");
    let t = Instant::now();
    let indexed = index.catch_up(&store).await?;
    let index_time = t.elapsed();
    anyhow::ensure!(
        indexed == opts.posts,
        "indexed {indexed} of {} posts",
        opts.posts
    );
    eprintln!("the same posts again, into a new store with the feeder running…");
    let together = store_with_feeder(&opts.dir.join("together"), &posts, &verdicts).await?;

    let rate = |n: usize, d: Duration| format!("{:.0}", n as f64 / d.as_secs_f64());
    let mib = |b: u64| format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0));
    let store_file = store_dir.join(patroli_index::DB_FILE);
    println!("## Index benchmark: {} posts\n", opts.posts);
    println!(
        "Command: `cargo run --release -- bench search --posts {} --dir {}`\n",
        opts.posts,
        opts.dir.display()
    );
    println!("| ingest | time | posts/s | on disk |");
    println!("|---|---|---|---|");
    println!(
        "| classify (not part of ingest; {} threads) | {:.1} s | {} | — |",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        classify_time.as_secs_f64(),
        rate(opts.posts, classify_time)
    );
    println!(
        "| patroli store: pages (posts, evidence snapshots, sightings, repost clusters) | {:.1} s | {} | {} |",
        store_time.as_secs_f64(),
        rate(opts.posts, store_time),
        mib(disk_size(&store_file)
            + disk_size(&store_dir.join(format!("{}-wal", patroli_index::DB_FILE))))
    );
    println!(
        "| patroli store: verdicts (with explanations and contacts) | {:.1} s | {} | (above) |",
        verdict_time.as_secs_f64(),
        rate(opts.posts, verdict_time)
    );
    let store_time = store_time + verdict_time;
    println!(
        "| patroli index (tantivy, from the store) | {:.1} s | {} | {} |",
        index_time.as_secs_f64(),
        rate(opts.posts, index_time),
        mib(disk_size(&store_dir.join("index")))
    );
    println!(
        "| patroli store + index, one after the other | {:.1} s | {} | — |",
        (store_time + index_time).as_secs_f64(),
        rate(opts.posts, store_time + index_time)
    );
    println!(
        "| **patroli store and index together**, the feeder following the store as under `patroli run` (a new store, same posts) | {:.1} s | **{}** | — |",
        together.as_secs_f64(),
        rate(opts.posts, together)
    );
    println!(
        "| SQLite FTS5 (text + filter columns, optimised) | {:.1} s | {} | {} |",
        fts_time.as_secs_f64(),
        rate(opts.posts, fts_time),
        mib(disk_size(&fts_file) + disk_size(&opts.dir.join("fts5.db-wal")))
    );

    Ok((store, index, fts))
}

/// Runs the benchmark and prints a Markdown report.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    let store_dir = opts.dir.join("store");
    let fts_file = opts.dir.join("fts5.db");
    let classifier = seeds::classifier(None, None, LanguageDetection::Off)?;
    let mut generator = Generator::new(opts.seed)?;
    let (store, index, fts) = if opts.reuse {
        let store = Store::open(&store_dir).await?;
        let index = Arc::new(open_index(&store_dir)?.with_facet_cache(0));
        anyhow::ensure!(
            !index.is_empty() && fts_file.exists(),
            "{} holds no data from an earlier run: run without --reuse first",
            opts.dir.display()
        );
        println!(
            "## Index benchmark: queries on the {} posts kept in {}\n",
            index.len(),
            opts.dir.display()
        );
        let fts = Fts5Baseline::open(&fts_file).await?;
        (store, index, fts)
    } else {
        ingest(&opts, &classifier, &mut generator).await?
    };
    let today = Utc::now().date_naive();
    let mut timings: Vec<Timings> = queries(today)
        .iter()
        .map(|q| Timings {
            name: q.name,
            total: 0,
            tantivy: Vec::new(),
            cached: Vec::new(),
            fts5: Vec::new(),
        })
        .collect();
    let qs = queries(today);
    // The same index, keeping facet counts between searches as `patroli serve` does.
    let cached = open_index(&store_dir)?;
    // Warm both engines (and the cache) once, then interleave: each round runs every query on
    // each engine.
    for q in &qs {
        index.search(&q.tantivy)?;
        cached.search(&q.tantivy)?;
        fts.search(&q.fts5).await?;
    }
    for _ in 0..opts.rounds {
        for (q, t) in qs.iter().zip(timings.iter_mut()) {
            let start = Instant::now();
            let r = index.search(&q.tantivy)?;
            t.tantivy.push(start.elapsed());
            t.total = r.total;
            let start = Instant::now();
            cached.search(&q.tantivy)?;
            t.cached.push(start.elapsed());
            let start = Instant::now();
            fts.search(&q.fts5).await?;
            t.fts5.push(start.elapsed());
        }
    }
    println!(
        "\nSearch latency, {} rounds of {} queries, interleaved; each query returns the total, facet counts and 20 hits with snippets (tantivy: 7 facets; FTS5: the level facet only). \"tantivy\" counts the facets of every search; \"cached\" is the same index keeping facet counts between searches, as `patroli serve` does (every query was run once before).\n",
        opts.rounds,
        qs.len()
    );
    println!(
        "| query | matches | tantivy p50 ms | tantivy p99 ms | cached p50 ms | cached p99 ms | FTS5 p50 ms | FTS5 p99 ms | FTS5 / tantivy (p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut all_t, mut all_c, mut all_f) = (Vec::new(), Vec::new(), Vec::new());
    for t in &mut timings {
        t.tantivy.sort();
        t.cached.sort();
        t.fts5.sort();
        all_t.extend(&t.tantivy);
        all_c.extend(&t.cached);
        all_f.extend(&t.fts5);
        let (tp50, fp50) = (percentile(&t.tantivy, 50.0), percentile(&t.fts5, 50.0));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1}× |",
            t.name,
            t.total,
            ms(tp50),
            ms(percentile(&t.tantivy, 99.0)),
            ms(percentile(&t.cached, 50.0)),
            ms(percentile(&t.cached, 99.0)),
            ms(fp50),
            ms(percentile(&t.fts5, 99.0)),
            fp50.as_secs_f64() / tp50.as_secs_f64().max(1e-9)
        );
    }
    all_t.sort();
    all_c.sort();
    all_f.sort();
    println!(
        "| **all queries** | | **{}** | **{}** | {} | {} | {} | {} | {:.1}× |",
        ms(percentile(&all_t, 50.0)),
        ms(percentile(&all_t, 99.0)),
        ms(percentile(&all_c, 50.0)),
        ms(percentile(&all_c, 99.0)),
        ms(percentile(&all_f, 50.0)),
        ms(percentile(&all_f, 99.0)),
        percentile(&all_f, 50.0).as_secs_f64() / percentile(&all_t, 50.0).as_secs_f64().max(1e-9)
    );
    if !opts.reuse {
        // It stores new posts: left out when timing queries on a kept data set.
        freshness(&store, &index, &classifier, &mut generator).await?;
    }
    println!(
        "\nThe store and index are kept in {} (serve them with `patroli serve --data-dir {}`).",
        store_dir.display(),
        store_dir.display()
    );
    Ok(())
}

/// Options of `bench backends`.
pub struct BackendOptions {
    pub posts: usize,
    /// Working folder (emptied first): the SQLite store and both search indexes.
    pub dir: PathBuf,
    /// An empty PostgreSQL database.
    pub postgres: String,
    /// Lead pages read, and lead changes made, on each backend.
    pub reads: usize,
    pub seed: u64,
}

/// One backend under test.
struct Side {
    name: &'static str,
    store: Store,
    index: SearchIndex,
    pages: Duration,
    verdicts: Duration,
    indexed: Duration,
    reads: Vec<Duration>,
    changes: Vec<Duration>,
}

/// Everything the lead page reads from the store for post `id`.
async fn read_lead_page(store: &Store, id: i64) -> anyhow::Result<()> {
    anyhow::ensure!(store.post(id).await?.is_some(), "post {id} is missing");
    store.lead(id).await?;
    store.lead_history(id).await?;
    store.network_of(id).await?;
    store.cluster_of(id).await?;
    store.snapshots_of(id).await?;
    Ok(())
}

/// The store on SQLite and on PostgreSQL, side by side on the same posts in the same run: ingest
/// (pages, verdicts), the search index catching up from each, the reads behind a lead page and
/// a lead change. Chunks of posts and the reads alternate between the backends, so load from
/// elsewhere on the machine falls on both alike. Prints a Markdown report.
pub async fn backends(opts: BackendOptions) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&opts.dir);
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let analysis = seeds::analysis(None)?;
    let postgres = Store::connect(&opts.postgres).await?;
    anyhow::ensure!(
        postgres.count_posts().await? == 0,
        "{} already holds posts; give the benchmark an empty database",
        patroli_index::redact_url(&opts.postgres)
    );
    let mut sides = [
        Side {
            name: "SQLite",
            store: Store::open(&opts.dir.join("sqlite")).await?,
            index: SearchIndex::open(&opts.dir.join("sqlite-index"), &analysis)?,
            pages: Duration::ZERO,
            verdicts: Duration::ZERO,
            indexed: Duration::ZERO,
            reads: Vec::new(),
            changes: Vec::new(),
        },
        Side {
            name: "PostgreSQL",
            store: postgres,
            index: SearchIndex::open(&opts.dir.join("postgres-index"), &analysis)?,
            pages: Duration::ZERO,
            verdicts: Duration::ZERO,
            indexed: Duration::ZERO,
            reads: Vec::new(),
            changes: Vec::new(),
        },
    ];
    for side in &sides {
        for s in SOURCES {
            side.store
                .upsert_source(s, "telegram", "synthetic benchmark source")
                .await?;
        }
    }
    let classifier = seeds::classifier(None, None, LanguageDetection::Off)?;
    let mut generator = Generator::new(opts.seed)?;
    let mut done = 0;
    while done < opts.posts {
        let n = CHUNK.min(opts.posts - done);
        let posts: Vec<CollectedPost> = (0..n).map(|_| generator.post()).collect();
        let verdicts = classify_all(&classifier, &posts);
        // Alternate which backend goes first.
        let order = if (done / CHUNK) % 2 == 0 {
            [0, 1]
        } else {
            [1, 0]
        };
        for i in order {
            let side = &mut sides[i];
            let (ids, pages, stored) = store_chunk(&side.store, &posts, &verdicts).await?;
            anyhow::ensure!(ids.len() == n, "{}: stored {} of {n}", side.name, ids.len());
            side.pages += pages;
            side.verdicts += stored;
        }
        done += n;
        eprint!("\r  {done} posts on both");
    }
    eprintln!();
    // What the database's own upkeep does in time after a bulk load (PostgreSQL's autovacuum
    // had not yet run in this short a run), before the timed reads.
    for side in &sides {
        side.store.analyze().await?;
    }
    for side in &mut sides {
        let t = Instant::now();
        let indexed = side.index.catch_up(&side.store).await?;
        side.indexed = t.elapsed();
        anyhow::ensure!(indexed == opts.posts, "{}: indexed {indexed}", side.name);
    }
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let ids: Vec<i64> = (0..opts.reads)
        .map(|_| rng.i64(1..=opts.posts as i64))
        .collect();
    for id in &ids {
        for side in &mut sides {
            let t = Instant::now();
            read_lead_page(&side.store, *id).await?;
            side.reads.push(t.elapsed());
        }
    }
    let assign = patroli_index::LeadChange::Assign { to: "budi".into() };
    for id in &ids {
        for side in &mut sides {
            let t = Instant::now();
            side.store.change_lead(*id, "bench", &assign).await?;
            side.changes.push(t.elapsed());
        }
    }
    let rate = |d: Duration| opts.posts as f64 / d.as_secs_f64();
    println!("## Store backends: {} posts\n", opts.posts);
    println!(
        "Command: `cargo run --release -- bench backends --posts {} --reads {} --postgres URL`\n",
        opts.posts, opts.reads
    );
    println!("| | SQLite | PostgreSQL | PostgreSQL / SQLite |");
    println!("|---|---|---|---|");
    let [sqlite, pg] = &mut sides;
    for (what, a, b) in [
        ("store pages, posts/s", rate(sqlite.pages), rate(pg.pages)),
        (
            "store verdicts, posts/s",
            rate(sqlite.verdicts),
            rate(pg.verdicts),
        ),
        (
            "index from the store, posts/s",
            rate(sqlite.indexed),
            rate(pg.indexed),
        ),
    ] {
        println!("| {what} | {a:.0} | {b:.0} | {:.2}× |", b / a);
    }
    for (what, a, b) in [
        ("lead page reads", &mut sqlite.reads, &mut pg.reads),
        ("lead change", &mut sqlite.changes, &mut pg.changes),
    ] {
        a.sort();
        b.sort();
        for p in [50.0, 99.0] {
            let (x, y) = (percentile(a, p), percentile(b, p));
            println!(
                "| {what}, p{p:.0} ms | {} | {} | {:.2}× |",
                ms(x),
                ms(y),
                y.as_secs_f64() / x.as_secs_f64().max(1e-9)
            );
        }
    }
    Ok(())
}
