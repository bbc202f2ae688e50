//! Facet counts over a result set: for each keyword field, how many matching documents hold each
//! value, with the number of matching documents.
//!
//! Written for this index rather than taken from tantivy's terms aggregation, which builds a
//! general aggregation tree, hashes every value and serialises its buckets through JSON: that was
//! most of a search's time on large result sets (a million matches, seven fields). Here each
//! segment counts into one array per field indexed by the value's ordinal in the segment's
//! dictionary, and ordinals become strings only once per segment, for the values that occurred.
//! The ordinals are read from plain arrays decoded once per segment ([`DenseField`]), not from
//! the bit-packed columns.
//!
//! When the query matches every document (browsing without words or filters), no document is
//! visited: each value's count is its document frequency in the segment's term dictionary, less
//! the segment's deleted documents that hold it.
//!
//! [`FacetCache`] keeps each segment's counts for recent queries. A segment never changes except
//! by gaining deletions, so its counts stay exact for as long as its number of deleted documents
//! does: a commit that adds posts leaves the older segments' counts in use and only the new
//! segment is counted. Paging, changing the sort order and repeated searches then cost only the
//! top hits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::{Cardinality, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, Query};
use tantivy::{DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::search::FacetCounts;

/// Counts the values of fast keyword `fields` over the matching documents, keeping the `size`
/// most frequent values of each (ties in value order), and counts the documents. A value is
/// counted each time a document holds it; the index writes each value once per document, so the
/// counts are numbers of documents.
pub(crate) struct FacetCollector<'a> {
    fields: Vec<&'static str>,
    size: usize,
    every_document: bool,
    values: &'a FacetValues,
}

/// What one search's facet pass found: the counts per field, in the order the fields were given,
/// and the number of matching documents.
pub(crate) struct FacetFruit {
    pub counts: Vec<FacetCounts>,
    pub docs: usize,
}

impl<'a> FacetCollector<'a> {
    /// Counts `fields`, reading the documents' values from `values`.
    fn new(fields: Vec<&'static str>, size: usize, values: &'a FacetValues) -> Self {
        FacetCollector {
            fields,
            size,
            every_document: false,
            values,
        }
    }

    /// Tells the collector the query matches every live document, so it counts from the term
    /// dictionaries instead of visiting the documents.
    pub fn matching_every_document(self, every_document: bool) -> Self {
        FacetCollector {
            every_document,
            ..self
        }
    }
}

/// One segment's counts over all its live documents, from the term dictionaries: the document
/// frequency of each term of each (raw, untokenised) field, less the deleted documents' values.
fn count_segment(fields: &[&str], reader: &SegmentReader) -> tantivy::Result<SegmentFacets> {
    let mut counts = Vec::with_capacity(fields.len());
    for name in fields {
        let mut field_counts: HashMap<String, usize> = HashMap::new();
        let field = reader.schema().get_field(name)?;
        let inverted = reader.inverted_index(field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            let value = String::from_utf8_lossy(terms.key()).into_owned();
            field_counts.insert(value, terms.value().doc_freq as usize);
        }
        if let (Some(alive), Some(column)) =
            (reader.alive_bitset(), reader.fast_fields().str(name)?)
        {
            let mut value = String::new();
            for doc in (0..reader.max_doc()).filter(|d| alive.is_deleted(*d)) {
                for ord in column.term_ords(doc) {
                    if column.ord_to_str(ord, &mut value)?
                        && let Some(n) = field_counts.get_mut(value.as_str())
                    {
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
        field_counts.retain(|_, n| *n > 0);
        counts.push(field_counts);
    }
    Ok(SegmentFacets {
        counts,
        docs: reader.num_docs() as usize,
    })
}

/// Documents buffered before their values are counted, a block at a time.
const BLOCK: usize = 1024;
/// Counters per value.
const LANES: usize = 4;
/// The ordinal of a single-valued field's missing value.
const NONE: u32 = u32::MAX;

/// One field's values in one segment, decoded once into plain arrays. The column's bit-packed,
/// indexed form costs several times more to read per document, and a segment's values never
/// change (deletions only hide documents), so the arrays serve every search until the segment is
/// merged away. About 4 bytes per document and value.
pub(crate) struct DenseField {
    /// The column, to turn ordinals into values.
    column: StrColumn,
    /// For a multi-valued field, `starts[doc]..starts[doc + 1]` are the document's values in
    /// `ords`; a single-valued field has one ordinal per document (or [`NONE`]).
    starts: Option<Vec<u32>>,
    ords: Vec<u32>,
}

impl DenseField {
    fn build(column: StrColumn, max_doc: DocId) -> DenseField {
        let ords_of = column.ords();
        match ords_of.get_cardinality() {
            Cardinality::Multivalued => {
                let mut starts = Vec::with_capacity(max_doc as usize + 1);
                let mut ords = Vec::with_capacity(max_doc as usize);
                starts.push(0);
                for doc in 0..max_doc {
                    ords.extend(column.term_ords(doc).map(|o| o as u32));
                    starts.push(ords.len() as u32);
                }
                DenseField {
                    column,
                    starts: Some(starts),
                    ords,
                }
            }
            Cardinality::Full | Cardinality::Optional => {
                let ords = (0..max_doc)
                    .map(|doc| ords_of.first(doc).map_or(NONE, |o| o as u32))
                    .collect();
                DenseField {
                    column,
                    starts: None,
                    ords,
                }
            }
        }
    }
}

/// The decoded values of the segments searched lately (see [`DenseField`]).
#[derive(Default)]
pub(crate) struct FacetValues {
    fields: Mutex<HashMap<(SegmentId, &'static str), Arc<DenseField>>>,
}

impl FacetValues {
    /// The values of field `name` in the segment of `reader`; `None` when no document has one.
    fn get(
        &self,
        reader: &SegmentReader,
        name: &'static str,
    ) -> tantivy::Result<Option<Arc<DenseField>>> {
        let key = (reader.segment_id(), name);
        if let Some(field) = lock(&self.fields).get(&key) {
            return Ok(Some(field.clone()));
        }
        let Some(column) = reader.fast_fields().str(name)? else {
            return Ok(None);
        };
        // Decoded outside the lock: two searches may both decode a new segment, once.
        let field = Arc::new(DenseField::build(column, reader.max_doc()));
        lock(&self.fields).insert(key, field.clone());
        Ok(Some(field))
    }

    /// Forgets the segments `searcher` no longer has.
    fn keep_only(&self, searcher: &Searcher) {
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        lock(&self.fields).retain(|(segment, _), _| live.contains(segment));
    }
}

/// Locks a map that is only ever read or changed entry by entry: a panic elsewhere cannot leave
/// it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One field's values in a segment and the counts per ordinal ([`LANES`] counters each, summed
/// at harvest).
struct FieldCounter {
    values: Option<Arc<DenseField>>,
    counts: Vec<u32>,
}

impl FieldCounter {
    /// Counts the values of a block of documents. Consecutive documents often hold the same
    /// value; counting them into different lanes keeps each increment from waiting on the one
    /// before.
    fn add(&mut self, block: &[DocId]) {
        let Some(values) = &self.values else { return };
        let counts = &mut self.counts;
        match &values.starts {
            None => {
                for (i, &doc) in block.iter().enumerate() {
                    let ord = values.ords[doc as usize];
                    if ord != NONE {
                        counts[ord as usize * LANES + i % LANES] += 1;
                    }
                }
            }
            Some(starts) => {
                for (i, &doc) in block.iter().enumerate() {
                    let range = starts[doc as usize] as usize..starts[doc as usize + 1] as usize;
                    for &ord in &values.ords[range] {
                        counts[ord as usize * LANES + i % LANES] += 1;
                    }
                }
            }
        }
    }

    /// The counted values, as strings.
    fn harvest(self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        let Some(values) = self.values else {
            return out;
        };
        let mut value = String::new();
        for (ord, lanes) in self.counts.chunks_exact(LANES).enumerate() {
            let n: u32 = lanes.iter().sum();
            // An ordinal of the segment's own dictionary always resolves; if one did not, the
            // value is left out of the counts rather than failing the whole search.
            if n > 0
                && values
                    .column
                    .ord_to_str(ord as u64, &mut value)
                    .unwrap_or(false)
            {
                out.insert(value.clone(), n as usize);
            }
        }
        out
    }
}

/// One segment's counts, by value, per field.
#[derive(Clone)]
pub(crate) struct SegmentFacets {
    counts: Vec<HashMap<String, usize>>,
    docs: usize,
}

pub(crate) struct FacetSegmentCollector {
    fields: Vec<FieldCounter>,
    docs: usize,
    block: Vec<DocId>,
    /// The segment's counts, when they were known without visiting its documents.
    counted: Option<SegmentFacets>,
}

impl FacetSegmentCollector {
    fn flush(&mut self) {
        self.docs += self.block.len();
        for field in &mut self.fields {
            field.add(&self.block);
        }
        self.block.clear();
    }
}

impl Collector for FacetCollector<'_> {
    type Fruit = FacetFruit;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        if self.every_document {
            return Ok(FacetSegmentCollector {
                fields: Vec::new(),
                docs: 0,
                block: Vec::new(),
                counted: Some(count_segment(&self.fields, reader)?),
            });
        }
        let fields = self
            .fields
            .iter()
            .map(|name| {
                let values = self.values.get(reader, name)?;
                let terms = values.as_ref().map_or(0, |v| v.column.num_terms());
                Ok(FieldCounter {
                    values,
                    counts: vec![0; terms * LANES],
                })
            })
            .collect::<tantivy::Result<_>>()?;
        Ok(FacetSegmentCollector {
            fields,
            docs: 0,
            block: Vec::with_capacity(BLOCK),
            counted: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<SegmentFacets>) -> tantivy::Result<FacetFruit> {
        let mut docs = 0;
        let mut totals: Vec<HashMap<String, usize>> = vec![HashMap::new(); self.fields.len()];
        for segment in segments {
            docs += segment.docs;
            for (total, counts) in totals.iter_mut().zip(segment.counts) {
                for (value, n) in counts {
                    *total.entry(value).or_default() += n;
                }
            }
        }
        let counts = totals
            .into_iter()
            .map(|total| {
                let mut sorted: FacetCounts = total.into_iter().collect();
                sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                sorted.truncate(self.size);
                sorted
            })
            .collect();
        Ok(FacetFruit { counts, docs })
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = SegmentFacets;

    #[inline]
    fn collect(&mut self, doc: DocId, _score: Score) {
        if self.counted.is_some() {
            return;
        }
        self.block.push(doc);
        if self.block.len() == BLOCK {
            self.flush();
        }
    }

    fn harvest(mut self) -> SegmentFacets {
        if let Some(counted) = self.counted {
            return counted;
        }
        self.flush();
        SegmentFacets {
            counts: self.fields.into_iter().map(FieldCounter::harvest).collect(),
            docs: self.docs,
        }
    }
}

/// Which segment, in which state, for which counting of which query.
type CacheKey = (SegmentId, DocId, String);

/// Recent per-segment counts (see the module's notes), at most `capacity` of them, and the
/// segments' decoded values they are counted from.
pub(crate) struct FacetCache {
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, SegmentFacets>>,
    values: FacetValues,
}

impl FacetCache {
    /// A cache of at most `capacity` segment counts; 0 turns it off (the decoded values are
    /// kept either way).
    pub fn new(capacity: usize) -> FacetCache {
        FacetCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
            values: FacetValues::default(),
        }
    }

    /// A collector of `fields` reading this cache's decoded values.
    pub fn collector(&self, fields: Vec<&'static str>, size: usize) -> FacetCollector<'_> {
        FacetCollector::new(fields, size, &self.values)
    }

    /// Runs `collector` for `query` over every segment of `searcher`, taking each segment's
    /// counts from the cache when they are there.
    pub fn count(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        collector: &FacetCollector,
    ) -> tantivy::Result<FacetFruit> {
        let (_, counted) = self.collect::<Count>(searcher, query, None, collector)?;
        Ok(counted)
    }

    /// Runs `top` and `facets` for `query` over every segment of `searcher` (see
    /// [`FacetCache::collect`]).
    pub fn search<C: Collector>(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        top: &C,
        facets: &FacetCollector,
    ) -> tantivy::Result<(C::Fruit, FacetFruit)> {
        let (top, counted) = self.collect(searcher, query, Some(top), facets)?;
        Ok((top.expect("a top collector gives a fruit"), counted))
    }

    /// Runs `top` (if any) and `facets` for `query` over every segment of `searcher`, in one
    /// pass over the matching documents of each segment whose counts are not cached, and with
    /// `top` alone (free to skip documents that cannot reach it) where they are.
    fn collect<C: Collector>(
        &self,
        searcher: &Searcher,
        query: &dyn Query,
        top: Option<&C>,
        facets: &FacetCollector,
    ) -> tantivy::Result<(Option<C::Fruit>, FacetFruit)> {
        // The query's own description names exactly the documents it matches.
        let what = format!("{:?} {} {query:?}", facets.fields, facets.every_document);
        let scores = top.is_some_and(|top| top.requires_scoring());
        let scoring = if scores {
            EnableScoring::enabled_from_searcher(searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let weight = query.weight(scoring)?;
        self.values.keep_only(searcher);
        let readers = searcher.segment_readers();
        let (mut tops, mut counts) = (
            Vec::with_capacity(readers.len()),
            Vec::with_capacity(readers.len()),
        );
        for (ord, reader) in readers.iter().enumerate() {
            let ord = ord as u32;
            let key = (reader.segment_id(), reader.num_deleted_docs(), what.clone());
            let cached = if self.capacity == 0 {
                None
            } else {
                lock(&self.entries).get(&key).cloned()
            };
            if let Some(counted) = cached {
                if let Some(top) = top {
                    tops.push(top.collect_segment(weight.as_ref(), ord, reader)?);
                }
                counts.push(counted);
                continue;
            }
            let mut top_segment = top.map(|top| top.for_segment(ord, reader)).transpose()?;
            let mut facet_segment = facets.for_segment(ord, reader)?;
            let alive = reader.alive_bitset();
            let is_alive = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
            if scores {
                weight.for_each(reader, &mut |doc, score| {
                    if is_alive(doc) {
                        if let Some(top) = &mut top_segment {
                            top.collect(doc, score);
                        }
                        facet_segment.collect(doc, score);
                    }
                })?;
            } else {
                weight.for_each_no_score(reader, &mut |docs| {
                    for &doc in docs.iter().filter(|d| is_alive(**d)) {
                        if let Some(top) = &mut top_segment {
                            top.collect(doc, 0.0);
                        }
                        facet_segment.collect(doc, 0.0);
                    }
                })?;
            }
            let counted = facet_segment.harvest();
            if self.capacity > 0 {
                self.keep(searcher, key, counted.clone());
            }
            if let Some(top) = top_segment {
                tops.push(top.harvest());
            }
            counts.push(counted);
        }
        let top = top.map(|top| top.merge_fruits(tops)).transpose()?;
        Ok((top, facets.merge_fruits(counts)?))
    }

    fn keep(&self, searcher: &Searcher, key: CacheKey, counted: SegmentFacets) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity {
            // Segments merged away or with more deletions first; everything if that is not
            // enough.
            let live: HashSet<(SegmentId, DocId)> = searcher
                .segment_readers()
                .iter()
                .map(|r| (r.segment_id(), r.num_deleted_docs()))
                .collect();
            entries.retain(|(segment, deleted, _), _| live.contains(&(*segment, *deleted)));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, counted);
    }

    /// How many segment counts are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tantivy::query::{AllQuery, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema};
    use tantivy::{Index, TantivyDocument, Term};

    use super::{FacetCollector, FacetValues};

    /// Random documents over several segments, some deleted, with a single-valued and a
    /// multi-valued keyword field (and one field no document has): the collector's counts over
    /// a filtered query equal a count made by hand.
    #[test]
    fn counts_match_a_count_by_hand_across_segments_and_deletes() {
        let mut b = Schema::builder();
        let id = b.add_u64_field("id", INDEXED);
        let keep = b.add_u64_field("keep", INDEXED);
        let level = b.add_text_field("level", STRING | FAST);
        let dest = b.add_text_field("destination", STRING | FAST);
        let lead = b.add_text_field("lead", STRING | FAST);
        b.add_text_field("unused", STRING | FAST);
        let index = Index::create_in_ram(b.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let levels = ["high", "medium", "low", "none"];
        let countries = ["MY", "KH", "MM", "LA", "TH", "SG"];
        let mut docs = Vec::new();
        for n in 0..3_000u64 {
            let doc_level = levels[rng.usize(..levels.len())];
            // The index writes each value once per document.
            let mut doc_dests: Vec<&str> = (0..rng.usize(0..4))
                .map(|_| countries[rng.usize(..countries.len())])
                .collect();
            doc_dests.sort_unstable();
            doc_dests.dedup();
            let kept = rng.bool();
            // A value only some documents have.
            let doc_lead = rng.bool().then(|| ["new", "escalated"][rng.usize(..2)]);
            let mut d = TantivyDocument::default();
            if let Some(status) = doc_lead {
                d.add_text(lead, status);
            }
            d.add_u64(id, n);
            d.add_u64(keep, kept as u64);
            d.add_text(level, doc_level);
            for c in &doc_dests {
                d.add_text(dest, c);
            }
            writer.add_document(d).unwrap();
            docs.push((n, kept, doc_level, doc_dests, doc_lead));
            if n % 700 == 699 {
                writer.commit().unwrap();
            }
        }
        writer.commit().unwrap();
        let deleted: Vec<u64> = (0..3_000).filter(|n| n % 11 == 0).collect();
        for n in &deleted {
            writer.delete_term(Term::from_field_u64(id, *n));
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() > 1, "several segments");

        let query = TermQuery::new(Term::from_field_u64(keep, 1), IndexRecordOption::Basic);
        let values = FacetValues::default();
        let fruit = searcher
            .search(
                &query,
                &FacetCollector::new(vec!["level", "destination", "unused", "lead"], 5, &values),
            )
            .unwrap();

        let mut by_level: HashMap<&str, usize> = HashMap::new();
        let mut by_dest: HashMap<&str, usize> = HashMap::new();
        let mut by_lead: HashMap<&str, usize> = HashMap::new();
        let mut matching = 0;
        for (n, kept, doc_level, doc_dests, doc_lead) in &docs {
            if !kept || deleted.contains(n) {
                continue;
            }
            matching += 1;
            *by_level.entry(doc_level).or_default() += 1;
            for c in doc_dests {
                *by_dest.entry(c).or_default() += 1;
            }
            if let Some(status) = doc_lead {
                *by_lead.entry(status).or_default() += 1;
            }
        }
        let expect = |m: HashMap<&str, usize>| {
            let mut v: Vec<(String, usize)> =
                m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(5);
            v
        };
        assert_eq!(fruit.docs, matching);
        assert_eq!(fruit.counts[0], expect(by_level));
        assert_eq!(fruit.counts[1], expect(by_dest), "the top 5 of 6");
        assert!(fruit.counts[2].is_empty());
        assert_eq!(
            fruit.counts[3],
            expect(by_lead),
            "a value not every document has"
        );

        // Counting every live document from the term dictionaries (less the deleted ones)
        // agrees with visiting them.
        let fields = || vec!["level", "destination", "unused", "lead"];
        let visited = searcher
            .search(&AllQuery, &FacetCollector::new(fields(), 5, &values))
            .unwrap();
        let from_terms = searcher
            .search(
                &AllQuery,
                &FacetCollector::new(fields(), 5, &values).matching_every_document(true),
            )
            .unwrap();
        assert_eq!(visited.docs, 3_000 - deleted.len());
        assert_eq!(from_terms.docs, visited.docs);
        assert_eq!(from_terms.counts, visited.counts);
        assert!(!visited.counts[1].is_empty());
    }
}
