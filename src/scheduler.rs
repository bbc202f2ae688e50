//! Scheduled crawling for `patroli run`: each source runs on its cron schedule, never twice at
//! once, all sharing one fetcher so per-host politeness holds across sources.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use patroli_crawler::{Source, fetcher_for};
use tracing::{info, warn};

use crate::pipeline::Pipeline;

/// A source and its parsed schedule.
struct Scheduled {
    source: Source,
    schedule: cron::Schedule,
    next: Option<DateTime<Utc>>,
}

/// Runs every scheduled source on its schedule until `shutdown` resolves. Sources without a
/// schedule are ignored. A tick that comes while the source's previous run is still going is
/// skipped with a warning. Returns when shut down; runs under way are left to finish.
pub async fn run(
    pipeline: Pipeline,
    sources: Vec<Source>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let fetcher = Arc::new(
        fetcher_for(&sources, pipeline.fetch.clone()).context("cannot set up the HTTP client")?,
    );
    let mut jobs: Vec<Scheduled> = Vec::new();
    for source in sources {
        let Some(expr) = source.schedule.clone() else {
            info!(source = %source.id, "no schedule; runs only with `crawl --once`");
            continue;
        };
        let schedule = cron::Schedule::from_str(&expr)
            .with_context(|| format!("source `{}`: invalid schedule {expr:?}", source.id))?;
        let next = schedule.upcoming(Utc).next();
        jobs.push(Scheduled {
            source,
            schedule,
            next,
        });
    }
    if jobs.is_empty() {
        warn!("no source has a schedule; nothing to run");
    }
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::pin!(shutdown);
    loop {
        let Some(due) = jobs.iter().filter_map(|j| j.next).min() else {
            shutdown.as_mut().await;
            return Ok(());
        };
        let wait = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        let now = Utc::now();
        for job in jobs.iter_mut().filter(|j| j.next.is_some_and(|n| n <= now)) {
            job.next = job.schedule.after(&now).next();
            let id = job.source.id.clone();
            if !running.lock().expect("running set lock").insert(id.clone()) {
                warn!(source = %id, "previous run still going; this tick is skipped");
                continue;
            }
            let (pipeline, fetcher, source, running) = (
                pipeline.clone(),
                fetcher.clone(),
                job.source.clone(),
                running.clone(),
            );
            tokio::spawn(async move {
                match pipeline.crawl_using(fetcher, vec![source]).await {
                    Ok(report) => {
                        info!(source = %id, new = report.posts_new(), seen = report.posts_seen(), failed = report.errors(), "scheduled run finished")
                    }
                    Err(e) => {
                        warn!(source = %id, error = %format!("{e:#}"), "scheduled run failed")
                    }
                }
                running.lock().expect("running set lock").remove(&id);
            });
        }
    }
}
