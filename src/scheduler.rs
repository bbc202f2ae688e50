//! Scheduled crawling for `patroli run`: each source runs on its cron schedule, or when an admin
//! asks from the dashboard, never twice at once, all sharing one fetcher so per-host politeness
//! holds across sources.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use patroli_crawler::{Fetcher, Source, fetcher_for};
use patroli_dashboard::{RunRequest, RunStart};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::pipeline::Pipeline;

/// Run requests from the dashboard waiting for the scheduler, at most.
pub const REQUEST_QUEUE: usize = 8;

/// A source and its parsed schedule (none for sources run only when asked).
struct Scheduled {
    source: Source,
    schedule: Option<cron::Schedule>,
    next: Option<DateTime<Utc>>,
}

/// Starts runs, one per source at a time.
struct Runner {
    pipeline: Pipeline,
    fetcher: Arc<Fetcher>,
    running: Arc<Mutex<HashSet<String>>>,
}

impl Runner {
    /// Starts a run of `source` in the background, unless its previous run is still going.
    fn start(&self, source: &Source, trigger: &'static str) -> RunStart {
        let id = source.id.clone();
        if !self
            .running
            .lock()
            .expect("running set lock")
            .insert(id.clone())
        {
            return RunStart::AlreadyRunning;
        }
        let (pipeline, fetcher, source, running) = (
            self.pipeline.clone(),
            self.fetcher.clone(),
            source.clone(),
            self.running.clone(),
        );
        tokio::spawn(async move {
            match pipeline.crawl_using(fetcher, vec![source]).await {
                Ok(report) => {
                    info!(source = %id, trigger, new = report.posts_new(), seen = report.posts_seen(), failed = report.errors(), "run finished")
                }
                Err(e) => {
                    warn!(source = %id, trigger, error = %format!("{e:#}"), "run failed")
                }
            }
            running.lock().expect("running set lock").remove(&id);
        });
        RunStart::Started
    }
}

/// Runs every scheduled source on its schedule, and any source when `requests` asks, until
/// `shutdown` resolves. A tick that comes while the source's previous run is still going is
/// skipped with a warning; a request then is answered [`RunStart::AlreadyRunning`]. Returns when
/// shut down; runs under way are left to finish.
pub async fn run(
    pipeline: Pipeline,
    sources: Vec<Source>,
    mut requests: mpsc::Receiver<RunRequest>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let fetcher = Arc::new(
        fetcher_for(&sources, pipeline.fetch.clone()).context("cannot set up the HTTP client")?,
    );
    let mut jobs: Vec<Scheduled> = Vec::new();
    for source in sources {
        let schedule =
            match &source.schedule {
                None => {
                    info!(source = %source.id, "no schedule; runs only when asked");
                    None
                }
                Some(expr) => Some(cron::Schedule::from_str(expr).with_context(|| {
                    format!("source `{}`: invalid schedule {expr:?}", source.id)
                })?),
            };
        let next = schedule.as_ref().and_then(|s| s.upcoming(Utc).next());
        jobs.push(Scheduled {
            source,
            schedule,
            next,
        });
    }
    if jobs.iter().all(|j| j.schedule.is_none()) {
        warn!("no source has a schedule; runs start only when asked from the dashboard");
    }
    let runner = Runner {
        pipeline,
        fetcher,
        running: Arc::default(),
    };
    let mut listening = true;
    tokio::pin!(shutdown);
    loop {
        let due = jobs.iter().filter_map(|j| j.next).min();
        let wait = due.map(|d| (d - Utc::now()).to_std().unwrap_or_default());
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {
                let now = Utc::now();
                for job in jobs.iter_mut().filter(|j| j.next.is_some_and(|n| n <= now)) {
                    job.next = job.schedule.as_ref().and_then(|s| s.after(&now).next());
                    if runner.start(&job.source, "schedule") == RunStart::AlreadyRunning {
                        warn!(source = %job.source.id, "previous run still going; this tick is skipped");
                    }
                }
            }
            request = requests.recv(), if listening => match request {
                Some(RunRequest { source_id, reply }) => {
                    let answer = match jobs.iter().find(|j| j.source.id == source_id) {
                        Some(job) => runner.start(&job.source, "request"),
                        None => RunStart::UnknownSource,
                    };
                    info!(source = %source_id, answer = ?answer, "run requested");
                    // The asker may have given up waiting; the run goes on regardless.
                    let _ = reply.send(answer);
                }
                // The dashboard is gone: keep to the schedules.
                None => listening = false,
            },
        }
    }
}
