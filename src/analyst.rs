//! The analysts' job over stored posts: apply a rule set to everything stored. (Comparing two
//! rule sets over the stored posts is `patroli_index::diff`, shared with the dashboard.)

use patroli_classifier::Classifier;
use patroli_index::{SearchIndex, Store};

/// Posts read from the store per batch.
const BATCH: i64 = 1_000;

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
