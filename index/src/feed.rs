//! The feeder: the one task that keeps a search index in step with the store.

use std::sync::Arc;
use std::time::Duration;

use crate::search::SearchIndex;
use crate::store::Store;

/// How long the feeder waits after a nudge, so one commit carries a whole burst of changes.
pub const BATCH_WINDOW: Duration = Duration::from_millis(250);
/// How often the feeder looks for changes nobody nudged it about (made by another process or
/// another node sharing the store).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait before retrying after the store or the index failed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Keeps `index` caught up with `store` until `shutdown` resolves: after every nudge (within
/// [`BATCH_WINDOW`]) and at least every [`POLL_INTERVAL`]. A post stored by a crawl is therefore
/// searchable within about a second. Errors are logged and retried with backoff; the watermark
/// makes every retry pick up exactly where the last commit stopped.
pub async fn feed(
    index: Arc<SearchIndex>,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    let mut backoff = POLL_INTERVAL;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = index.nudged() => tokio::time::sleep(BATCH_WINDOW).await,
            () = tokio::time::sleep(backoff) => {}
        }
        match index.catch_up(&store).await {
            Ok(n) => {
                if n > 0 {
                    tracing::debug!(
                        posts = n,
                        watermark = index.watermark(),
                        "search index caught up"
                    );
                }
                backoff = POLL_INTERVAL;
            }
            Err(e) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::warn!(error = %e, retry_in = ?backoff, "the search index could not catch up");
            }
        }
    }
    // A last catch-up, so nothing stored before shutdown waits for the next start.
    if let Err(e) = index.catch_up(&store).await {
        tracing::warn!(error = %e, "the search index could not catch up before shutdown");
    }
}
