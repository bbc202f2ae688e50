//! The analysts' jobs over stored posts: compare two rule sets before one goes live, and apply a
//! rule set to everything stored.

use std::collections::BTreeMap;

use patroli_classifier::{Classifier, Level};
use patroli_index::{PostRecord, SearchIndex, Store};
use serde::Serialize;

/// Posts read from the store per batch.
const BATCH: i64 = 1_000;

/// How one post's verdict changes between two rule sets.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: i64,
    pub title: String,
    pub old_score: f64,
    pub new_score: f64,
    pub old_level: Level,
    pub new_level: Level,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// What changes between two rule sets over the stored posts.
#[derive(Debug, Clone, Serialize)]
pub struct RuleDiff {
    pub old_version: String,
    pub new_version: String,
    pub posts: usize,
    pub newly_flagged: Vec<Change>,
    pub no_longer_flagged: Vec<Change>,
    pub level_changed: Vec<Change>,
    /// Old level → new level → count.
    pub level_moves: BTreeMap<String, BTreeMap<String, usize>>,
}

fn title(p: &PostRecord) -> String {
    p.title.clone().unwrap_or_else(|| {
        p.text
            .chars()
            .take(80)
            .collect::<String>()
            .replace('\n', " ")
    })
}

/// Classifies every stored post with both rule sets and reports the differences.
pub async fn diff(store: &Store, old: &Classifier, new: &Classifier) -> anyhow::Result<RuleDiff> {
    let mut d = RuleDiff {
        old_version: old.version().to_string(),
        new_version: new.version().to_string(),
        posts: 0,
        newly_flagged: Vec::new(),
        no_longer_flagged: Vec::new(),
        level_changed: Vec::new(),
        level_moves: BTreeMap::new(),
    };
    let mut after = 0;
    loop {
        let batch = store.posts_after(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for p in &batch {
            let text = p.classified_text();
            let (a, b) = (old.classify(&text), new.classify(&text));
            d.posts += 1;
            *d.level_moves
                .entry(a.level.as_str().to_string())
                .or_default()
                .entry(b.level.as_str().to_string())
                .or_default() += 1;
            if a.flagged == b.flagged && a.level == b.level {
                continue;
            }
            let ids = |v: &patroli_classifier::Verdict| {
                v.indicator_ids().map(str::to_string).collect::<Vec<_>>()
            };
            let (ia, ib) = (ids(&a), ids(&b));
            let change = Change {
                id: p.id,
                title: title(p),
                old_score: a.score,
                new_score: b.score,
                old_level: a.level,
                new_level: b.level,
                added: ib.iter().filter(|i| !ia.contains(i)).cloned().collect(),
                removed: ia.iter().filter(|i| !ib.contains(i)).cloned().collect(),
            };
            match (a.flagged, b.flagged) {
                (false, true) => d.newly_flagged.push(change),
                (true, false) => d.no_longer_flagged.push(change),
                _ => d.level_changed.push(change),
            }
        }
    }
    Ok(d)
}

/// Applies `classifier` to every stored post, records the verdicts with the rule-set version,
/// and refreshes the search index. Returns the number of posts.
pub async fn reclassify(
    store: &Store,
    index: &SearchIndex,
    classifier: &Classifier,
) -> anyhow::Result<usize> {
    let mut after = 0;
    let mut count = 0;
    loop {
        let batch = store.posts_after(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for p in &batch {
            store
                .save_verdict(p.id, &classifier.classify(&p.classified_text()))
                .await?;
        }
        count += batch.len();
    }
    index.catch_up(store).await?;
    Ok(count)
}
