//! Facet counts over a result set: for each keyword field, how many matching documents hold each
//! value, with the number of matching documents.
//!
//! Written for this index rather than taken from tantivy's terms aggregation, which builds a
//! general aggregation tree, hashes every value and serialises its buckets through JSON: that was
//! most of a search's time on large result sets (a million matches, seven fields). Here each
//! segment counts into one array per field indexed by the value's ordinal in the segment's
//! dictionary, and ordinals become strings only once per segment, for the values that occurred.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnIndex, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::search::FacetCounts;

/// Counts the values of fast keyword `fields` over the matching documents, keeping the `size`
/// most frequent values of each (ties in value order), and counts the documents. A value is
/// counted each time a document holds it; the index writes each value once per document, so the
/// counts are numbers of documents.
pub(crate) struct FacetCollector {
    fields: Vec<&'static str>,
    size: usize,
}

/// What one search's facet pass found: the counts per field, in the order the fields were given,
/// and the number of matching documents.
pub(crate) struct FacetFruit {
    pub counts: Vec<FacetCounts>,
    pub docs: usize,
}

impl FacetCollector {
    pub fn new(fields: Vec<&'static str>, size: usize) -> FacetCollector {
        FacetCollector { fields, size }
    }
}

/// One field's column in a segment and the counts per ordinal.
struct FieldCounter {
    column: Option<StrColumn>,
    counts: Vec<u32>,
}

impl FieldCounter {
    #[inline]
    fn add(&mut self, doc: DocId) {
        let Some(column) = &self.column else { return };
        let ords = column.ords();
        match &ords.index {
            ColumnIndex::Empty { .. } => {}
            // Single-valued columns are read directly; the general path would build an iterator.
            ColumnIndex::Full => self.counts[ords.values.get_val(doc) as usize] += 1,
            _ => {
                for ord in ords.values_for_doc(doc) {
                    self.counts[ord as usize] += 1;
                }
            }
        }
    }

    /// The counted values, as strings.
    fn harvest(self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        let Some(column) = self.column else {
            return out;
        };
        let mut value = String::new();
        for (ord, &n) in self.counts.iter().enumerate() {
            // An ordinal of the segment's own dictionary always resolves; if one did not, the
            // value is left out of the counts rather than failing the whole search.
            if n > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                out.insert(value.clone(), n as usize);
            }
        }
        out
    }
}

/// One segment's counts, by value, per field.
pub(crate) struct SegmentFacets {
    counts: Vec<HashMap<String, usize>>,
    docs: usize,
}

pub(crate) struct FacetSegmentCollector {
    fields: Vec<FieldCounter>,
    docs: usize,
}

impl Collector for FacetCollector {
    type Fruit = FacetFruit;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let fields = self
            .fields
            .iter()
            .map(|name| {
                let column = reader.fast_fields().str(name)?;
                let terms = column.as_ref().map_or(0, |c| c.num_terms());
                Ok(FieldCounter {
                    column,
                    counts: vec![0; terms],
                })
            })
            .collect::<tantivy::Result<_>>()?;
        Ok(FacetSegmentCollector { fields, docs: 0 })
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
        self.docs += 1;
        for field in &mut self.fields {
            field.add(doc);
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.docs += docs.len();
        for field in &mut self.fields {
            for &doc in docs {
                field.add(doc);
            }
        }
    }

    fn harvest(self) -> SegmentFacets {
        SegmentFacets {
            counts: self.fields.into_iter().map(FieldCounter::harvest).collect(),
            docs: self.docs,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tantivy::query::TermQuery;
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema};
    use tantivy::{Index, TantivyDocument, Term};

    use super::FacetCollector;

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
            let mut d = TantivyDocument::default();
            d.add_u64(id, n);
            d.add_u64(keep, kept as u64);
            d.add_text(level, doc_level);
            for c in &doc_dests {
                d.add_text(dest, c);
            }
            writer.add_document(d).unwrap();
            docs.push((n, kept, doc_level, doc_dests));
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
        let fruit = searcher
            .search(
                &query,
                &FacetCollector::new(vec!["level", "destination", "unused"], 5),
            )
            .unwrap();

        let mut by_level: HashMap<&str, usize> = HashMap::new();
        let mut by_dest: HashMap<&str, usize> = HashMap::new();
        let mut matching = 0;
        for (n, kept, doc_level, doc_dests) in &docs {
            if !kept || deleted.contains(n) {
                continue;
            }
            matching += 1;
            *by_level.entry(doc_level).or_default() += 1;
            for c in doc_dests {
                *by_dest.entry(c).or_default() += 1;
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
    }
}
