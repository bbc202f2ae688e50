//! What changes if a rule set replaces another: every stored post classified by both, and the
//! posts whose flag or level differs. Analysts read it before activating a candidate (in the
//! dashboard) or before deploying a rule folder (`patroli rules diff`).

use std::collections::BTreeMap;
use std::sync::Arc;

use patroli_classifier::{Classifier, Level, Verdict};
use serde::Serialize;

use crate::error::StoreError;
use crate::store::{PostRecord, Store};

/// Posts read from the store, and classified off the async executor, per batch.
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
pub async fn diff(
    store: &Store,
    old: Arc<Classifier>,
    new: Arc<Classifier>,
) -> Result<RuleDiff, StoreError> {
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
        let (old, new) = (old.clone(), new.clone());
        let judged = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .map(|p| {
                    let text = p.classified_text();
                    let verdicts = (old.classify(&text), new.classify(&text));
                    (p, verdicts)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        for (p, (a, b)) in judged {
            d.posts += 1;
            *d.level_moves
                .entry(a.level.as_str().to_string())
                .or_default()
                .entry(b.level.as_str().to_string())
                .or_default() += 1;
            if a.flagged == b.flagged && a.level == b.level {
                continue;
            }
            let ids = |v: &Verdict| v.indicator_ids().map(str::to_string).collect::<Vec<_>>();
            let (ia, ib) = (ids(&a), ids(&b));
            let change = Change {
                id: p.id,
                title: title(&p),
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
