//! Scheduled crawling for `patroli run`: each source runs on its cron schedule, or when an admin
//! asks from the dashboard, never twice at once, all sharing one fetcher so per-host politeness
//! holds across sources. Every little while it also looks for runs that stopped half-way with
//! no worker holding them (this worker's before a restart, or another worker's that died) and
//! resumes them.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use patroli_crawler::{Fetcher, Source};
use patroli_dashboard::{RunRequest, RunStart};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::pipeline::Pipeline;

/// Run requests from the dashboard waiting for the scheduler, at most.
pub const REQUEST_QUEUE: usize = 8;
/// How often stopped runs are looked for, at most (a third of the lease, so a dead worker's run
/// is resumed soon after its lease expires).
const RESUME_CHECK: Duration = Duration::from_secs(20);
/// The longest wait between checks while the store cannot be reached.
const RESUME_BACKOFF_MAX: Duration = Duration::from_secs(300);

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
    /// Whether another worker holds the live lease on `source_id`'s run (a store that cannot
    /// be asked counts as no: the run's own claim then decides).
    async fn running_elsewhere(&self, source_id: &str) -> bool {
        let me = crate::workers::worker_id();
        self.pipeline.store.live_leases().await.is_ok_and(|leases| {
            leases
                .iter()
                .any(|l| l.source_id == source_id && l.holder != me)
        })
    }

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
    let fetcher = pipeline.fetcher(&sources)?;
    let resume_every = RESUME_CHECK.min(pipeline.lease / 3);
    // Stopped runs are looked for at once, then every `resume_every` (longer while failing).
    let mut resume_wait = Duration::ZERO;
    let mut resume_at = tokio::time::Instant::now();
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
            () = tokio::time::sleep_until(resume_at) => {
                let ids: Vec<String> = jobs.iter().map(|j| j.source.id.clone()).collect();
                resume_wait = match runner.pipeline.store.runs_to_resume(&ids).await {
                    Ok(stopped) => {
                        for id in stopped {
                            if let Some(job) = jobs.iter().find(|j| j.source.id == id) {
                                runner.start(&job.source, "resume");
                            }
                        }
                        resume_every
                    }
                    Err(e) => {
                        let wait = (resume_wait * 2).clamp(resume_every, RESUME_BACKOFF_MAX);
                        warn!(error = %e, retry_in_s = wait.as_secs(), "cannot look for stopped runs; the store may be down");
                        wait
                    }
                };
                resume_at = tokio::time::Instant::now() + resume_wait;
            }
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
                        // Another worker sharing the store runs it now: so is it here.
                        Some(_) if runner.running_elsewhere(&source_id).await => {
                            RunStart::AlreadyRunning
                        }
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
