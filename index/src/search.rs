//! The tantivy full-text index over posts, their verdicts and their lead status. Derived from the
//! store: it follows the store's change sequence from a watermark kept in its own commits, and it
//! can always be deleted and rebuilt (`patroli index rebuild`).
//!
//! One writer: every change goes through [`SearchIndex::catch_up`], which reads what changed in
//! the store since the watermark, writes it in batches and commits once per batch with the new
//! watermark. The feeder task ([`crate::feed`]) calls it when nudged and on a short poll, so a
//! post stored by a crawl is searchable about a second later, and an index that missed changes
//! (a crash, another process, another node) catches up by itself.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DateTime, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc,
};
use tokio::sync::Notify;

use crate::analysis::{self, Analysis};
use crate::error::SearchError;
use crate::facets::{FacetCache, FacetFruit};
use crate::store::{IndexedPost, LeadStatus, Store};

/// Bump when the schema or the meaning of a field changes: an index of another version is
/// rebuilt from the store when opened.
const SCHEMA_VERSION: u32 = 3;
/// Memory the index writer may use before it flushes a segment.
const WRITER_MEMORY: usize = 128 * 1024 * 1024;

/// Tantivy's indexing threads: one core fewer than the machine has (tantivy's own default is
/// every core, up to 8). The index is written while the store is written — the feeder follows
/// crawls — and the store has one writer, which then keeps a core to itself: at 200,000 posts on
/// two cores, storing and indexing together went from 19,100 / 18,200 to 19,800 / 20,400
/// posts/s (alternated), while indexing alone went from 43,400 / 45,500 to 36,500 / 37,700.
fn indexing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).clamp(1, 8))
}
/// Memory of the writer taken only to check that no other process holds the index.
const MIN_WRITER_MEMORY: usize = 15_000_000;
/// Changed posts read from the store per batch when catching up.
const CATCH_UP_BATCH: i64 = 5_000;
/// Documents written between commits during a long catch-up (bounds the work a crash redoes).
const COMMIT_EVERY: usize = 100_000;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 220;
/// Buckets per facet shown.
const FACET_SIZE: usize = 12;
/// Per-segment facet counts kept by default (a few kilobytes each; see [`FacetCache`]).
pub const FACET_CACHE_ENTRIES: usize = 4_096;
/// Query words at least this long (in characters) get one-edit typo correction.
const TYPO_MIN_CHARS: usize = 5;
/// Most results one request may ask for.
pub const MAX_LIMIT: usize = 200;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 1_000;

/// Risk levels, highest first, as facets are shown.
pub const LEVELS: [&str; 4] = ["high", "medium", "low", "none"];
/// Languages as the classifier names them (Indonesian and Malay are one bucket).
pub const LANGUAGES: [&str; 4] = ["id_ms", "en", "zh", "unknown"];
/// Fields a query may name with `field:term`.
pub const QUERY_FIELDS: &[&str] = &[
    "title",
    "text",
    "exact",
    "source",
    "author",
    "destination",
    "place",
    "indicator",
    "entity",
    "lang",
    "level",
    "lead",
];

/// One clause of a boolean query.
type Clause = (Occur, Box<dyn Query>);

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    exact: Field,
    source: Field,
    url: Field,
    author: Field,
    lang: Field,
    level: Field,
    score: Field,
    flagged: Field,
    kalbar: Field,
    date: Field,
    seen: Field,
    destination: Field,
    place: Field,
    indicator: Field,
    entity: Field,
    lead: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analysed = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let stemmed = analysed(analysis::STEMMED).set_stored();
    // Raw, exact-match values that are counted as facets.
    let keyword = STRING | STORED | FAST;
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        title: b.add_text_field("title", stemmed.clone()),
        body: b.add_text_field("text", stemmed),
        exact: b.add_text_field("exact", analysed(analysis::EXACT)),
        source: b.add_text_field("source", keyword.clone()),
        url: b.add_text_field("url", STORED),
        author: b.add_text_field("author", STRING | STORED),
        lang: b.add_text_field("lang", keyword.clone()),
        level: b.add_text_field("level", keyword.clone()),
        score: b.add_f64_field("score", STORED | FAST),
        flagged: b.add_u64_field("flagged", INDEXED | FAST),
        kalbar: b.add_u64_field("kalbar", INDEXED | FAST),
        date: b.add_date_field("date", INDEXED | STORED | FAST),
        seen: b.add_date_field("seen", INDEXED | FAST),
        destination: b.add_text_field("destination", keyword.clone()),
        place: b.add_text_field("place", keyword.clone()),
        indicator: b.add_text_field("indicator", keyword.clone()),
        entity: b.add_text_field("entity", STRING | STORED),
        lead: b.add_text_field("lead", keyword),
    };
    (b.build(), fields)
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Query language: words (all must match), "phrases", OR, NOT/-, field:term, prefix*. Empty
    /// means every post, by risk score.
    pub query: String,
    pub limit: usize,
    pub offset: usize,
    /// Only posts the rule set flagged.
    pub flagged_only: bool,
    /// Only posts of this risk level (`high`, `medium`, `low`, `none`).
    pub level: Option<String>,
    /// Only posts from this source id.
    pub source: Option<String>,
    /// Only posts aimed at Kalbar.
    pub kalbar_only: bool,
    /// Only posts naming this destination country (as the classifier names it, e.g. `Malaysia`).
    pub destination: Option<String>,
    /// Only posts naming a place in this Kalbar regency or city (e.g. `Sambas`).
    pub place: Option<String>,
    /// Only posts in this language bucket (`id_ms`, `en`, `zh`, `unknown`).
    pub language: Option<String>,
    /// Only posts on which this indicator fired.
    pub indicator: Option<String>,
    /// Only leads in this workflow state.
    pub lead_status: Option<LeadStatus>,
    /// Only posts dated on or after this day (publication date, else the day first seen; UTC).
    pub from: Option<NaiveDate>,
    /// Only posts dated on or before this day.
    pub to: Option<NaiveDate>,
    pub sort: Sort,
}

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (risk score first when there are no query words).
    #[default]
    Relevance,
    /// Highest risk score first.
    Score,
    /// Newest first.
    Recent,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "relevance" => Sort::Relevance,
            "score" => Sort::Score,
            "recent" => Sort::Recent,
            _ => return None,
        })
    }
}

/// Parses a `YYYY-MM-DD` date of a date filter, with a message that says how to write it.
pub fn parse_date(s: &str) -> Result<NaiveDate, SearchError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| SearchError::BadQuery {
        message: format!("{s:?} is not a date"),
        hint: "Write dates as YYYY-MM-DD, e.g. 2026-11-23.".into(),
    })
}

/// A highlighted excerpt: `highlights` are byte ranges of `text`.
#[derive(Debug, Clone, Serialize)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<Range<usize>>,
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: u64,
    pub url: String,
    pub title: String,
    pub source: String,
    pub level: String,
    /// The classifier's risk score.
    pub score: f64,
    /// Relevance to the query.
    pub relevance: f32,
    /// Publication date, else the day first seen.
    pub date: Option<chrono::DateTime<Utc>>,
    pub lead_status: String,
    pub destinations: Vec<String>,
    pub snippet: Snippet,
}

/// Result counts per value of one field, largest first.
pub type FacetCounts = Vec<(String, usize)>;

/// Facet counts over the result set. Levels are counted without the level filter, so the other
/// levels stay visible (and clickable) once one is chosen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    pub levels: FacetCounts,
    pub destinations: FacetCounts,
    pub places: FacetCounts,
    pub indicators: FacetCounts,
    pub lead_statuses: FacetCounts,
    pub languages: FacetCounts,
    pub sources: FacetCounts,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
    /// When the query as typed found nothing and a spelling correction did: the corrected query
    /// these results are for.
    pub corrected: Option<String>,
}

/// What an index commit remembers, in its payload.
#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    schema: u32,
    analysis: String,
    /// The store's change sequence this commit includes.
    watermark: i64,
}

/// The full-text index in a directory.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    /// Held for a whole catch-up, so two never interleave their watermarks.
    feeding: tokio::sync::Mutex<()>,
    watermark: AtomicI64,
    analysis: String,
    nudge: Notify,
    fields: Fields,
    path: PathBuf,
    facet_cache: FacetCache,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it if needed. An index built with another schema or
    /// another analysis is emptied (its watermark goes back to zero), and the next catch-up
    /// rebuilds it from the store.
    pub fn open(dir: &Path, analysis: &Analysis) -> Result<SearchIndex, SearchError> {
        let open_err = |e: &dyn std::fmt::Display| SearchError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let (schema, fields) = schema();
        let fingerprint = analysis.fingerprint();
        let existing = Index::open_in_dir(dir).ok();
        let current = existing.as_ref().and_then(|index| {
            let payload = index.load_metas().ok()?.payload?;
            let payload: CommitPayload = serde_json::from_str(&payload).ok()?;
            (index.schema() == schema
                && payload.schema == SCHEMA_VERSION
                && payload.analysis == fingerprint)
                .then_some(payload.watermark)
        });
        let (index, watermark) = match (existing, current) {
            (Some(index), Some(watermark)) => (index, watermark),
            (existing, _) => {
                if let Some(index) = existing {
                    // Only a process that can take the writer's lock may start the index over:
                    // another one (a running `patroli run`) may be using it.
                    let writer: tantivy::Result<IndexWriter> = index.writer(MIN_WRITER_MEMORY);
                    if let Err(e) = writer {
                        return Err(open_err(&format!(
                            "it was built by another version or with another rule pack's slang, and it cannot be rebuilt now ({e}); stop the other patroli process using it, or pass the same --rules"
                        )));
                    }
                    drop(writer);
                    drop(index);
                    tracing::info!(path = %dir.display(), "the search index was built differently; recreating it from the store");
                    clear_dir(dir).map_err(|e| open_err(&e))?;
                }
                let directory =
                    tantivy::directory::MmapDirectory::open(dir).map_err(|e| open_err(&e))?;
                (
                    Index::create(directory, schema, Default::default())
                        .map_err(|e| open_err(&e))?,
                    0,
                )
            }
        };
        analysis.register(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e: tantivy::TantivyError| open_err(&e))?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(None),
            feeding: tokio::sync::Mutex::new(()),
            watermark: AtomicI64::new(watermark),
            analysis: fingerprint,
            nudge: Notify::new(),
            fields,
            path: dir.to_path_buf(),
            facet_cache: FacetCache::new(FACET_CACHE_ENTRIES),
        })
    }

    /// How many per-segment facet counts the cache holds.
    #[cfg(test)]
    pub(crate) fn cached_facets(&self) -> usize {
        self.facet_cache.len()
    }

    /// Keeps at most `entries` per-segment facet counts of recent searches (0: none, every
    /// search counts its facets again). Each entry takes a few kilobytes.
    pub fn with_facet_cache(self, entries: usize) -> SearchIndex {
        SearchIndex {
            facet_cache: FacetCache::new(entries),
            ..self
        }
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut guard = self.writer.lock().expect("index writer lock");
        if guard.is_none() {
            let w = self
                .index
                .writer_with_num_threads(indexing_threads(), WRITER_MEMORY)
                .map_err(|e| SearchError::Open {
                    path: self.path.clone(),
                    message: format!("{e} (is another patroli process writing to this index?)"),
                })?;
            *guard = Some(w);
        }
        f(guard.as_mut().expect("writer was just created"))
    }

    /// Commits what was written, recording `watermark`, and makes it visible to searches.
    fn commit(&self, watermark: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&CommitPayload {
            schema: SCHEMA_VERSION,
            analysis: self.analysis.clone(),
            watermark,
        })
        .expect("payload serialises");
        self.with_writer(|w| {
            let mut prepared = w.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()?;
            Ok(())
        })?;
        self.watermark.store(watermark, Ordering::SeqCst);
        self.reader.reload()?;
        Ok(())
    }

    fn document(&self, p: &IndexedPost) -> TantivyDocument {
        let f = self.fields;
        let title = p.title.clone().unwrap_or_default();
        let mut d = doc!(
            f.id => p.id as u64,
            f.body => p.text.clone(),
            // The title is searched with the text (the text stays the first value, the one
            // shown): one field to look words up in, instead of a union of two per word.
            f.body => title.clone(),
            f.exact => title.clone(),
            f.exact => p.text.clone(),
            f.title => title,
            f.source => p.source_id.clone(),
            f.url => p.url.clone(),
            f.lead => p.lead_status.as_str(),
        );
        if let Some(author) = p.author.as_deref().filter(|a| !a.is_empty()) {
            d.add_text(f.author, author.to_lowercase());
        }
        let date = p.published_at.unwrap_or(p.first_seen);
        d.add_date(f.date, DateTime::from_timestamp_secs(date.timestamp()));
        d.add_date(
            f.seen,
            DateTime::from_timestamp_secs(p.first_seen.timestamp()),
        );
        let v = &p.verdict;
        d.add_text(f.level, v.level.as_str());
        d.add_text(f.lang, v.lang.as_str());
        d.add_f64(f.score, v.score);
        d.add_u64(f.flagged, u64::from(v.flagged));
        d.add_u64(f.kalbar, u64::from(v.kalbar));
        for i in &v.indicators {
            d.add_text(f.indicator, &i.id);
        }
        let mut countries: Vec<&str> = v.destinations.iter().map(|x| x.country.as_str()).collect();
        countries.sort_unstable();
        countries.dedup();
        for c in countries {
            d.add_text(f.destination, c);
        }
        let mut regencies: Vec<&str> = v.places.iter().map(|x| x.regency.as_str()).collect();
        regencies.sort_unstable();
        regencies.dedup();
        for r in regencies {
            d.add_text(f.place, r);
        }
        for e in &v.entities {
            d.add_text(f.entity, &e.value);
        }
        d
    }

    /// The store's change sequence this index includes.
    pub fn watermark(&self) -> i64 {
        self.watermark.load(Ordering::SeqCst)
    }

    /// Asks the feeder task to catch up soon (after a batch of posts was stored or changed).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Resolves when someone calls [`SearchIndex::nudge`].
    pub(crate) async fn nudged(&self) {
        self.nudge.notified().await;
    }

    /// Applies every change the store made after this index's watermark: writes the changed
    /// posts, commits in batches with the new watermark, and makes them searchable. Returns how
    /// many posts it wrote. Safe to run at any time and again: it does nothing when up to date.
    pub async fn catch_up(&self, store: &Store) -> Result<usize, SearchError> {
        let _one_at_a_time = self.feeding.lock().await;
        let mut seq = self.watermark();
        let mut written = 0;
        let mut uncommitted = 0;
        loop {
            let batch = store.posts_changed_after(seq, CATCH_UP_BATCH).await?;
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            self.with_writer(|w| {
                for (_, p) in &batch {
                    w.delete_term(Term::from_field_u64(self.fields.id, p.id as u64));
                    w.add_document(self.document(p))?;
                }
                Ok(())
            })?;
            seq = last;
            written += batch.len();
            uncommitted += batch.len();
            if uncommitted >= COMMIT_EVERY {
                self.commit(seq)?;
                uncommitted = 0;
            }
        }
        if uncommitted > 0 {
            self.commit(seq)?;
        }
        Ok(written)
    }

    /// Recreates the index from the store. Safe to run again: the result is the same.
    pub async fn rebuild(&self, store: &Store) -> Result<usize, SearchError> {
        {
            let _one_at_a_time = self.feeding.lock().await;
            self.with_writer(|w| {
                w.delete_all_documents()?;
                Ok(())
            })?;
            self.commit(0)?;
        }
        self.catch_up(store).await
    }

    /// Number of indexed posts.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn parser(&self) -> QueryParser {
        let f = self.fields;
        // Words are looked for in their stemmed forms, in the text field (which holds the title
        // too); quoted phrases go to the exact field (see `exact_phrases`).
        let mut parser = QueryParser::for_index(&self.index, vec![f.body]);
        parser.set_conjunction_by_default();
        parser
    }

    fn parse(&self, q: &str) -> Result<Box<dyn Query>, SearchError> {
        if q.len() > MAX_QUERY_LEN {
            return Err(SearchError::BadQuery {
                message: format!("the query is {} bytes long", q.len()),
                hint: format!("Use fewer words (at most {MAX_QUERY_LEN} bytes)."),
            });
        }
        let bad = |e: tantivy::query::QueryParserError| SearchError::BadQuery {
            message: e.to_string(),
            hint: hint_for(q),
        };
        // tantivy's parser takes `word*` only at the end of a phrase of two or more words; a
        // single word with a star becomes a prefix query on the unstemmed field here.
        let (rest, prefixes) = split_prefixes(q);
        if prefixes.is_empty() {
            return self.parser().parse_query(&exact_phrases(q)).map_err(bad);
        }
        let mut clauses: Vec<Clause> = prefixes
            .into_iter()
            .map(|(negated, prefix)| {
                let term = Term::from_field_text(self.fields.exact, &prefix);
                let query: Box<dyn Query> =
                    Box::new(tantivy::query::FuzzyTermQuery::new_prefix(term, 0, false));
                (if negated { Occur::MustNot } else { Occur::Must }, query)
            })
            .collect();
        if rest.trim().is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        } else {
            clauses.push((
                Occur::Must,
                self.parser()
                    .parse_query(&exact_phrases(&rest))
                    .map_err(bad)?,
            ));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    /// The filter clauses of a request, without the level (which facets count separately).
    fn filters(&self, req: &SearchRequest) -> Result<Vec<Clause>, SearchError> {
        let f = self.fields;
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let flag = |field: Field| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_u64(field, 1),
                IndexRecordOption::Basic,
            ))
        };
        let mut clauses: Vec<Clause> = Vec::new();
        if req.flagged_only {
            clauses.push((Occur::Must, flag(f.flagged)));
        }
        if req.kalbar_only {
            clauses.push((Occur::Must, flag(f.kalbar)));
        }
        let text_filters = [
            (f.source, &req.source),
            (f.destination, &req.destination),
            (f.place, &req.place),
            (f.indicator, &req.indicator),
        ];
        for (field, value) in text_filters {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                clauses.push((Occur::Must, term(field, v)));
            }
        }
        if let Some(lang) = req.language.as_deref().filter(|l| !l.is_empty()) {
            if !LANGUAGES.contains(&lang) {
                return Err(SearchError::BadQuery {
                    message: format!("there is no language {lang:?}"),
                    hint: format!("Use one of {}.", LANGUAGES.join(", ")),
                });
            }
            clauses.push((Occur::Must, term(f.lang, lang)));
        }
        if let Some(status) = req.lead_status {
            clauses.push((Occur::Must, term(f.lead, status.as_str())));
        }
        if req.from.is_some() || req.to.is_some() {
            if let (Some(from), Some(to)) = (req.from, req.to)
                && from > to
            {
                return Err(SearchError::BadQuery {
                    message: format!("the date range starts ({from}) after it ends ({to})"),
                    hint: "Swap the dates, or leave one empty.".into(),
                });
            }
            let day = |d: NaiveDate| {
                let midnight = Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"));
                Term::from_field_date(f.date, DateTime::from_timestamp_secs(midnight.timestamp()))
            };
            use std::ops::Bound;
            let lower = req
                .from
                .map_or(Bound::Unbounded, |d| Bound::Included(day(d)));
            let upper = req.to.map_or(Bound::Unbounded, |d| {
                Bound::Excluded(day(d.succ_opt().unwrap_or(d)))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        Ok(clauses)
    }

    /// Runs a search.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        if let Some(level) = req.level.as_deref().filter(|l| !l.is_empty())
            && !LEVELS.contains(&level)
        {
            return Err(SearchError::BadQuery {
                message: format!("there is no risk level {level:?}"),
                hint: format!("Use one of {}.", LEVELS.join(", ")),
            });
        }
        let results = self.search_as_typed(req)?;
        if results.total > 0 || req.query.trim().is_empty() {
            return Ok(results);
        }
        let Some(corrected) = self.correct(req.query.trim()) else {
            return Ok(results);
        };
        let again = SearchRequest {
            query: corrected.clone(),
            ..req.clone()
        };
        let mut results = self.search_as_typed(&again)?;
        if results.total == 0 {
            return self.search_as_typed(req);
        }
        results.corrected = Some(corrected);
        Ok(results)
    }

    fn search_as_typed(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let f = self.fields;
        let limit = req.limit.clamp(1, MAX_LIMIT);
        let text_query: Option<Box<dyn Query>> = if req.query.trim().is_empty() {
            None
        } else {
            Some(self.parse(req.query.trim())?)
        };
        let mut clauses = self.filters(req)?;
        let level = req.level.as_deref().filter(|l| !l.is_empty());
        let every_document = text_query.is_none() && clauses.is_empty() && level.is_none();
        clauses.push((
            Occur::Must,
            text_query
                .as_ref()
                .map_or_else(|| Box::new(AllQuery) as Box<dyn Query>, |q| q.box_clone()),
        ));
        let searcher = self.reader.searcher();
        // Levels are counted without the level filter: by a separate pass when one is set.
        let mut level_counts = None;
        if level.is_some() {
            let without_level =
                BooleanQuery::new(clauses.iter().map(|(o, q)| (*o, q.box_clone())).collect());
            let fruit = self.facet_cache.count(
                &searcher,
                &without_level,
                &self.facet_cache.collector(vec!["level"], FACET_SIZE),
            )?;
            level_counts = fruit.counts.into_iter().next();
        }
        if let Some(level) = level {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.level, level),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);
        // The level is counted here unless a level filter is set (then it was counted above).
        let mut facet_fields = vec![
            "destination",
            "place",
            "indicator",
            "lead",
            "lang",
            "source",
        ];
        if level_counts.is_none() {
            facet_fields.push("level");
        }
        let facets = self
            .facet_cache
            .collector(facet_fields, FACET_SIZE)
            .matching_every_document(every_document);
        let top_docs = || TopDocs::with_limit(limit).and_offset(req.offset);
        let cache = &self.facet_cache;
        // Where a segment's counts are cached, ranking runs alone there and can skip documents
        // that cannot reach the top.
        let (top, counted): (Vec<(f32, DocAddress)>, FacetFruit) =
            match (req.sort, text_query.is_some()) {
                (Sort::Relevance, true) => cache.search(&searcher, &query, &top_docs(), &facets)?,
                (Sort::Recent, _) => {
                    let by_date =
                        top_docs().order_by_fast_field::<DateTime>("date", tantivy::Order::Desc);
                    let (top, counted) = cache.search(&searcher, &query, &by_date, &facets)?;
                    (top.into_iter().map(|(_, a)| (0.0, a)).collect(), counted)
                }
                _ => {
                    let by_score =
                        top_docs().order_by_fast_field::<f64>("score", tantivy::Order::Desc);
                    let (top, counted) = cache.search(&searcher, &query, &by_score, &facets)?;
                    let top = top.into_iter().map(|(s, a)| (s as f32, a)).collect();
                    (top, counted)
                }
            };
        let total = counted.docs;
        let mut counts = counted.counts;
        let level_counts = match level_counts {
            Some(counted) => counted,
            None => counts.pop().expect("the level is counted last"),
        };
        let [
            destinations,
            places,
            indicators,
            lead_statuses,
            languages,
            sources,
        ]: [FacetCounts; 6] = counts.try_into().expect("one count per facet field");
        // Every level, in order, even those with no match.
        let counted: HashMap<String, usize> = level_counts.into_iter().collect();
        let levels = LEVELS
            .iter()
            .map(|l| (l.to_string(), counted.get(*l).copied().unwrap_or(0)))
            .collect();
        let facets = Facets {
            levels,
            destinations,
            places,
            indicators,
            lead_statuses,
            languages,
            sources,
        };
        let snippets = match &text_query {
            Some(q) => Some(self.snippet_generator(&searcher, q.as_ref())?),
            None => None,
        };
        let mut hits = Vec::with_capacity(top.len());
        for (relevance, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let text = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let body = text(f.body);
            let snippet = snippets
                .as_ref()
                .map(|g| g.snippet(&body))
                .filter(|s| !s.fragment().is_empty())
                .map(|s| Snippet {
                    text: s.fragment().to_string(),
                    highlights: s.highlighted().to_vec(),
                })
                .unwrap_or_else(|| Snippet {
                    text: body.chars().take(SNIPPET_CHARS).collect(),
                    highlights: Vec::new(),
                });
            hits.push(Hit {
                id: d
                    .get_first(f.id)
                    .and_then(|v| v.as_u64())
                    .unwrap_or_default(),
                url: text(f.url),
                title: text(f.title),
                source: text(f.source),
                level: text(f.level),
                score: d
                    .get_first(f.score)
                    .and_then(|v| v.as_f64())
                    .unwrap_or_default(),
                relevance,
                date: d
                    .get_first(f.date)
                    .and_then(|v| v.as_datetime())
                    .and_then(|t| Utc.timestamp_opt(t.into_timestamp_secs(), 0).single()),
                lead_status: text(f.lead),
                destinations: d
                    .get_all(f.destination)
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                snippet,
            });
        }
        Ok(SearchResults {
            total,
            hits,
            facets,
            corrected: None,
        })
    }

    /// Snippets of the text with the query's words highlighted: its stemmed words as they are,
    /// and the words of its exact phrases by their stems, since snippets are cut from the text
    /// as the stemmed field reads it.
    fn snippet_generator(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
    ) -> Result<SnippetGenerator, SearchError> {
        let f = self.fields;
        let mut words: Vec<(Field, String)> = Vec::new();
        query.query_terms(&mut |term, _| {
            if let Some(text) = term.value().as_str()
                && (term.field() == f.body || term.field() == f.exact)
            {
                words.push((term.field(), text.to_string()));
            }
        });
        let mut stems = self.index.tokenizer_for_field(f.body)?;
        let mut terms = BTreeMap::new();
        for (field, word) in words {
            let mut found = Vec::new();
            if field == f.body {
                found.push(word);
            } else {
                let mut stream = stems.token_stream(&word);
                while stream.advance() {
                    found.push(stream.token().text.clone());
                }
            }
            for stem in found {
                let freq = searcher.doc_freq(&Term::from_field_text(f.body, &stem))?;
                if freq > 0 {
                    // Rarer words weigh more when the snippet's window is chosen.
                    terms.insert(stem, 1.0 / (1.0 + freq as f32));
                }
            }
        }
        Ok(SnippetGenerator::new(
            terms,
            self.index.tokenizer_for_field(f.body)?,
            f.body,
            SNIPPET_CHARS,
        ))
    }

    /// A spelling correction of `q`: each word of at least [`TYPO_MIN_CHARS`] characters that
    /// occurs nowhere in the index is replaced by the most frequent indexed word one edit away
    /// (a letter inserted, deleted, changed or two swapped). `None` when nothing was corrected.
    fn correct(&self, q: &str) -> Option<String> {
        let searcher = self.reader.searcher();
        let exact = self.fields.exact;
        let freq = |w: &str| {
            searcher
                .doc_freq(&Term::from_field_text(exact, w))
                .unwrap_or(0)
        };
        let mut out = String::with_capacity(q.len());
        let mut changed = false;
        let mut rest = q;
        while let Some(start) = rest.find(|c: char| c.is_alphanumeric()) {
            out.push_str(&rest[..start]);
            let word_len = rest[start..]
                .find(|c: char| !c.is_alphanumeric())
                .unwrap_or(rest.len() - start);
            let word = &rest[start..start + word_len];
            rest = &rest[start + word_len..];
            let lower = word.to_lowercase();
            let operator = matches!(word, "AND" | "OR" | "NOT");
            let field_name = rest.starts_with(':');
            if operator
                || field_name
                || lower.chars().count() < TYPO_MIN_CHARS
                || !lower.chars().all(|c| c.is_ascii_alphanumeric())
                || freq(&lower) > 0
            {
                out.push_str(word);
                continue;
            }
            match one_edit(&lower)
                .into_iter()
                .map(|c| (freq(&c), c))
                .filter(|(n, _)| *n > 0)
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            {
                Some((_, best)) => {
                    out.push_str(&best);
                    changed = true;
                }
                None => out.push_str(word),
            }
        }
        out.push_str(rest);
        changed.then_some(out)
    }
}

/// Takes the single-word prefixes (`berangk*`, `-agen*`) out of a query of plain ANDed words:
/// the rest of the query, and each prefix (lower case) with whether it is excluded. Queries with
/// OR, parentheses or fields are left to the parser whole.
fn split_prefixes(q: &str) -> (String, Vec<(bool, String)>) {
    if q.contains(" OR ") || q.contains('(') || q.contains(':') {
        return (q.to_string(), Vec::new());
    }
    let mut rest = Vec::new();
    let mut prefixes = Vec::new();
    let mut in_quotes = false;
    for word in q.split_whitespace() {
        let starts_quote = word.starts_with('"');
        let closes = word.matches('"').count() % 2 == 1;
        let bare = word.trim_start_matches('-');
        let prefix = bare.strip_suffix('*').unwrap_or_default();
        if !in_quotes
            && !starts_quote
            && prefix.chars().count() >= 2
            && prefix.chars().all(char::is_alphanumeric)
        {
            prefixes.push((word.starts_with('-'), prefix.to_lowercase()));
        } else {
            rest.push(word);
        }
        if closes {
            in_quotes = !in_quotes;
        }
    }
    (rest.join(" "), prefixes)
}

/// Sends each quoted phrase that names no field to the unstemmed `exact` field, so that
/// `"paspor dibantu"` finds those words as written, not every form of their stems. Phrases with
/// a field (`title:"…"`) are left alone, and so is an unclosed quote (the parser reports it).
fn exact_phrases(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 16);
    let mut chars = q.chars();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            previous = c;
            continue;
        }
        // A phrase: copy it whole, escaped quotes included.
        let mut phrase = String::from('"');
        let mut closed = false;
        while let Some(p) = chars.next() {
            phrase.push(p);
            if p == '\\' {
                if let Some(escaped) = chars.next() {
                    phrase.push(escaped);
                }
            } else if p == '"' {
                closed = true;
                break;
            }
        }
        if closed && previous != ':' {
            out.push_str("exact:");
        }
        out.push_str(&phrase);
        previous = '"';
    }
    out
}

/// Every ASCII word one edit away from `w` (Norvig's candidates): deletions, swaps of
/// neighbours, replacements and insertions of a letter or digit.
fn one_edit(w: &str) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let b = w.as_bytes();
    let mut out = Vec::with_capacity(b.len() * 74 + 36);
    let make = |parts: &[&[u8]]| String::from_utf8(parts.concat()).expect("ASCII");
    for i in 0..=b.len() {
        let (l, r) = b.split_at(i);
        if !r.is_empty() {
            out.push(make(&[l, &r[1..]]));
            if r.len() > 1 {
                out.push(make(&[l, &[r[1], r[0]], &r[2..]]));
            }
            for c in ALPHABET {
                if *c != r[0] {
                    out.push(make(&[l, &[*c], &r[1..]]));
                }
            }
        }
        for c in ALPHABET {
            out.push(make(&[l, &[*c], r]));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Removes every file of an index directory (the index is derived; the store keeps the truth).
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// A suggestion for a query the parser refused.
fn hint_for(q: &str) -> String {
    let quotes = q.matches('"').count();
    let open = q.matches('(').count();
    let close = q.matches(')').count();
    if quotes % 2 == 1 {
        "Close the quotation mark, e.g. \"jalan tikus\".".into()
    } else if open != close {
        "Balance the parentheses, e.g. (sawit OR kebun) sarawak.".into()
    } else if q.contains(':') {
        format!(
            "Search fields are {}, e.g. title:sawit or destination:Malaysia; or drop the colon.",
            QUERY_FIELDS.join(", ")
        )
    } else {
        "Use plain words, \"exact phrases\", OR, -word to exclude, word* for a prefix.".into()
    }
}

#[cfg(test)]
mod tests {
    use super::exact_phrases;

    #[test]
    fn phrases_without_a_field_go_to_the_exact_field() {
        for (query, expected) in [
            ("sawit", "sawit"),
            ("\"jalan tikus\"", "exact:\"jalan tikus\""),
            ("-\"visa kerja\" sawit", "-exact:\"visa kerja\" sawit"),
            ("(\"a b\" OR c)", "(exact:\"a b\" OR c)"),
            ("title:\"a b\"", "title:\"a b\""),
            ("\"kebun saw\"*", "exact:\"kebun saw\"*"),
            ("\"say \\\"hi\\\"\"", "exact:\"say \\\"hi\\\"\""),
            ("\"unclosed", "\"unclosed"),
        ] {
            assert_eq!(exact_phrases(query), expected, "{query}");
        }
    }
}
