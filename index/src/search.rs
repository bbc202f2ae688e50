//! The tantivy full-text index over posts and their verdicts. Derived from the store: it can
//! always be deleted and rebuilt (`patroli index rebuild`).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DateTime, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc,
};

use crate::error::SearchError;
use crate::store::{PostRecord, Store};

/// Name of the tokenizer registered on the index.
const TOKENIZER: &str = "patroli";
/// Memory the index writer may use before it flushes a segment.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// Posts read from the store per batch when rebuilding.
const REBUILD_BATCH: i64 = 2_000;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 220;
/// Most results one request may ask for.
pub const MAX_LIMIT: usize = 200;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 1_000;

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    source: Field,
    url: Field,
    level: Field,
    score: Field,
    flagged: Field,
    kalbar: Field,
    published: Field,
    indicator: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("text", text),
        source: b.add_text_field("source", STRING | STORED),
        url: b.add_text_field("url", STORED),
        level: b.add_text_field("level", STRING | STORED),
        score: b.add_f64_field("score", STORED | FAST),
        flagged: b.add_u64_field("flagged", INDEXED | FAST),
        kalbar: b.add_u64_field("kalbar", INDEXED | FAST),
        published: b.add_date_field("published", INDEXED | STORED | FAST),
        indicator: b.add_text_field("indicator", STRING | STORED),
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
    /// Newest publication first.
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

/// Risk levels, highest first, as facets are shown.
pub const LEVELS: [&str; 4] = ["high", "medium", "low", "none"];

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
    pub snippet: Snippet,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    /// Matches per risk level, for the query and every filter but the level.
    pub levels: Vec<(String, usize)>,
}

/// The full-text index in a directory.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    path: PathBuf,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it if needed.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let open_err = |e: &dyn std::fmt::Display| SearchError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(|e| open_err(&e))?;
        let index = Index::open_or_create(directory, schema).map_err(|e| open_err(&e))?;
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e: tantivy::TantivyError| open_err(&e))?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            path: dir.to_path_buf(),
        })
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut guard = self.writer.lock().expect("index writer lock");
        if guard.is_none() {
            let w = self
                .index
                .writer(WRITER_MEMORY)
                .map_err(|e| SearchError::Open {
                    path: self.path.clone(),
                    message: format!("{e} (is another patroli process writing to this index?)"),
                })?;
            *guard = Some(w);
        }
        f(guard.as_mut().expect("writer was just created"))
    }

    fn document(&self, p: &PostRecord) -> TantivyDocument {
        let f = self.fields;
        let mut d = doc!(
            f.id => p.id as u64,
            f.title => p.title.clone().unwrap_or_default(),
            f.body => p.text.clone(),
            f.source => p.source_id.clone(),
            f.url => p.url.clone(),
        );
        if let Some(published) = p.published_at {
            d.add_date(
                f.published,
                DateTime::from_timestamp_secs(published.timestamp()),
            );
        }
        match &p.verdict {
            Some(v) => {
                d.add_text(f.level, v.level.as_str());
                d.add_f64(f.score, v.score);
                d.add_u64(f.flagged, u64::from(v.flagged));
                d.add_u64(f.kalbar, u64::from(v.kalbar));
                for id in v.indicator_ids() {
                    d.add_text(f.indicator, id);
                }
            }
            None => {
                d.add_text(f.level, "none");
                d.add_f64(f.score, 0.0);
                d.add_u64(f.flagged, 0);
                d.add_u64(f.kalbar, 0);
            }
        }
        d
    }

    /// Adds or replaces posts and commits, so they are searchable when this returns.
    pub fn upsert(&self, posts: &[PostRecord]) -> Result<(), SearchError> {
        self.with_writer(|w| {
            for p in posts {
                w.delete_term(Term::from_field_u64(self.fields.id, p.id as u64));
                w.add_document(self.document(p))?;
            }
            w.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// Recreates the index from the store. Safe to run again: the result is the same.
    pub async fn rebuild(&self, store: &Store) -> Result<usize, SearchError> {
        self.with_writer(|w| {
            w.delete_all_documents()?;
            Ok(())
        })?;
        let mut after = 0;
        let mut count = 0;
        loop {
            let batch = store.posts_after(after, REBUILD_BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            count += batch.len();
            self.with_writer(|w| {
                for p in &batch {
                    w.add_document(self.document(p))?;
                }
                Ok(())
            })?;
        }
        self.with_writer(|w| {
            w.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(count)
    }

    /// Number of indexed posts.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn parse(&self, q: &str) -> Result<Box<dyn Query>, SearchError> {
        if q.len() > MAX_QUERY_LEN {
            return Err(SearchError::BadQuery {
                message: format!("the query is {} bytes long", q.len()),
                hint: format!("Use fewer words (at most {MAX_QUERY_LEN} bytes)."),
            });
        }
        let f = self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.body]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, 2.0);
        parser.parse_query(q).map_err(|e| SearchError::BadQuery {
            message: e.to_string(),
            hint: hint_for(q),
        })
    }

    /// Runs a search.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, SearchError> {
        let f = self.fields;
        let limit = req.limit.clamp(1, MAX_LIMIT);
        let text_query: Option<Box<dyn Query>> = if req.query.trim().is_empty() {
            None
        } else {
            Some(self.parse(req.query.trim())?)
        };
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
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match &text_query {
            Some(q) => clauses.push((Occur::Must, q.box_clone())),
            None => clauses.push((Occur::Must, Box::new(AllQuery))),
        }
        if req.flagged_only {
            clauses.push((Occur::Must, flag(f.flagged)));
        }
        if req.kalbar_only {
            clauses.push((Occur::Must, flag(f.kalbar)));
        }
        if let Some(source) = req.source.as_deref().filter(|s| !s.is_empty()) {
            clauses.push((Occur::Must, term(f.source, source)));
        }
        let searcher = self.reader.searcher();
        let mut levels = Vec::with_capacity(LEVELS.len());
        for level in LEVELS {
            let mut with_level: Vec<(Occur, Box<dyn Query>)> =
                clauses.iter().map(|(o, q)| (*o, q.box_clone())).collect();
            with_level.push((Occur::Must, term(f.level, level)));
            levels.push((
                level.to_string(),
                searcher.search(&BooleanQuery::new(with_level), &Count)?,
            ));
        }
        if let Some(level) = req.level.as_deref().filter(|l| !l.is_empty()) {
            clauses.push((Occur::Must, term(f.level, level)));
        }
        let query = BooleanQuery::new(clauses);
        let total = searcher.search(&query, &Count)?;
        let collector = || TopDocs::with_limit(limit).and_offset(req.offset);
        let by_fast = |field: &str| -> Result<Vec<(f32, tantivy::DocAddress)>, SearchError> {
            Ok(match field {
                "published" => searcher
                    .search(
                        &query,
                        &collector()
                            .order_by_fast_field::<DateTime>("published", tantivy::Order::Desc),
                    )?
                    .into_iter()
                    .map(|(_, a)| (0.0, a))
                    .collect(),
                _ => searcher
                    .search(
                        &query,
                        &collector().order_by_fast_field::<f64>("score", tantivy::Order::Desc),
                    )?
                    .into_iter()
                    .map(|(s, a)| (s as f32, a))
                    .collect(),
            })
        };
        let top: Vec<(f32, tantivy::DocAddress)> = match (req.sort, text_query.is_some()) {
            (Sort::Relevance, true) => searcher.search(&query, &collector())?,
            (Sort::Recent, _) => by_fast("published")?,
            _ => by_fast("score")?,
        };
        let snippets = match &text_query {
            Some(q) => {
                let mut g = SnippetGenerator::create(&searcher, q.as_ref(), f.body)?;
                g.set_max_num_chars(SNIPPET_CHARS);
                Some(g)
            }
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
                snippet,
            });
        }
        Ok(SearchResults {
            total,
            hits,
            levels,
        })
    }
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
        "Search fields are title: and text:, e.g. title:sawit; or drop the colon.".into()
    } else {
        "Use plain words, \"exact phrases\", OR, -word to exclude, word* for a prefix.".into()
    }
}
