//! The operator page: which store the dashboard runs on, and each configured source with its
//! kind, schedule, next and last run, the worker running it now (the holder of its run's live
//! lease), its latest failed or skipped URLs, and how long the crawler waited on each host to
//! stay polite.
//! Any logged-in role may look. Only admins may start a run now, and only when the scheduler runs
//! in this process (`patroli run`): the dashboard sends it a [`RunRequest`] and the scheduler
//! keeps its rule that a source never runs twice at once.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use patroli_index::{Backend, FetchErrorRecord, Lease, RunRecord};
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::layout::{Layout, Notice, Refusal, framed, when};

/// A configured source, as the process serving the dashboard read it from the sources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    pub id: String,
    pub kind: String,
    /// Cron expression (seconds first); `None` for sources run only by hand.
    pub schedule: Option<String>,
}

/// Asks the scheduler to start a run of a source now.
#[derive(Debug)]
pub struct RunRequest {
    pub source_id: String,
    pub reply: oneshot::Sender<RunStart>,
}

/// The scheduler's answer to a [`RunRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStart {
    Started,
    /// The source's previous run is still going; a source never runs twice at once.
    AlreadyRunning,
    /// The scheduler has no source with this id.
    UnknownSource,
}

/// Failed or skipped URLs shown per source.
const RECENT_ERRORS: i64 = 5;
/// How long a start request waits for the scheduler to answer.
const SCHEDULER_REPLY: Duration = Duration::from_secs(5);
/// The crawler's kind (`FetchError::kind`) for URLs that robots.txt forbids: politeness, not
/// failure, so counted apart.
const ROBOTS: &str = "robots";
/// The crawler's kind for URLs skipped because the server asked (Retry-After) to wait longer
/// than the crawler does: the site is rate-limiting us.
const RETRY_AFTER: &str = "retry_after";
/// The crawler's counter of time spent waiting for each host's rate limiter.
const POLITENESS_METRIC: &str = "patroli_crawl_politeness_wait_milliseconds_total";
/// Run statuses the pipeline records, each with a label in the catalogues.
const RUN_STATUSES: &[&str] = &["ok", "stalled", "failed"];

struct RunView {
    period: String,
    status: String,
    pages: usize,
    posts_new: usize,
    /// URLs that failed, apart from the two politeness kinds below.
    failed: usize,
    robots: usize,
    retry_after: usize,
}

impl RunView {
    fn of(run: &RunRecord, t: &crate::i18n::Messages) -> RunView {
        let count = |kind: &str| run.errors.get(kind).copied().unwrap_or(0);
        let (robots, retry_after) = (count(ROBOTS), count(RETRY_AFTER));
        let status = if RUN_STATUSES.contains(&run.status.as_str()) {
            t.get(&format!("run.{}", run.status)).to_string()
        } else {
            run.status.clone()
        };
        RunView {
            period: format!(
                "{} – {}",
                when(Some(run.started_at)),
                run.finished_at.format("%H:%M")
            ),
            status,
            pages: run.pages,
            posts_new: run.posts_new,
            failed: run.errors.values().sum::<usize>() - robots - retry_after,
            robots,
            retry_after,
        }
    }
}

struct SourceView {
    id: String,
    kind: String,
    schedule: String,
    next: String,
    /// The worker running the source now and until when its lease runs.
    running: Option<String>,
    last: Option<RunView>,
    errors: Vec<FetchErrorRecord>,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage<'a> {
    layout: Layout<'a>,
    notice: Option<Notice>,
    /// Which store the dashboard runs on.
    storage: &'a str,
    sources: Vec<SourceView>,
    /// This process was not given the sources file: the list is what the store has seen.
    from_store: bool,
    /// A scheduler runs in this process, so admins can start runs here.
    has_scheduler: bool,
    /// (host, seconds waited) since this process started.
    waits: Vec<(String, String)>,
}
framed!(OperatorPage);

#[derive(Deserialize)]
pub struct OperatorQuery {
    done: Option<String>,
}

/// Sources, their runs and errors.
pub async fn operator(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<OperatorQuery>,
) -> Result<Response, AppError> {
    let notice = Notice::done(
        user.locale.messages(),
        "operator.done",
        &["run_started"],
        query.done.as_deref(),
    );
    render(&state, &user, notice, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let t = user.locale.messages();
    let has_scheduler = state.scheduler.is_some();
    let (configured, from_store) = match &state.sources {
        Some(s) => (s.to_vec(), false),
        None => (
            state
                .store
                .known_sources()
                .await?
                .into_iter()
                .map(|(id, kind)| SourceSummary {
                    id,
                    kind,
                    schedule: None,
                })
                .collect(),
            true,
        ),
    };
    let mut leases: HashMap<String, Lease> = state
        .store
        .live_leases()
        .await?
        .into_iter()
        .map(|l| (l.source_id.clone(), l))
        .collect();
    let mut sources = Vec::with_capacity(configured.len());
    for s in configured {
        let last = state.store.runs_of(&s.id, 1).await?;
        let next = match (&s.schedule, has_scheduler) {
            (None, _) => t.get("operator.manual_only").to_string(),
            (Some(_), false) => t.get("operator.not_scheduled_here").to_string(),
            (Some(expr), true) => when(next_run(expr)),
        };
        sources.push(SourceView {
            errors: state.store.fetch_errors_of(&s.id, RECENT_ERRORS).await?,
            last: last.first().map(|r| RunView::of(r, t)),
            schedule: s.schedule.unwrap_or_else(|| "–".into()),
            next,
            running: leases.remove(&s.id).map(|l| running_on(&l, t)),
            kind: s.kind,
            id: s.id,
        });
    }
    let html = OperatorPage {
        layout: Layout::of(user),
        notice,
        storage: match state.store.backend() {
            Backend::Sqlite => t.get("operator.storage.sqlite"),
            Backend::Postgres => t.get("operator.storage.postgres"),
        },
        sources,
        from_store,
        has_scheduler,
        waits: politeness_waits(),
    }
    .render()?;
    Ok((status, Html(html)).into_response())
}

/// Which worker holds a source's run, and until when its lease runs unless renewed.
fn running_on(lease: &Lease, t: &crate::i18n::Messages) -> String {
    t.get("operator.running_on")
        .replace("{holder}", &lease.holder)
        .replace("{until}", &when(Some(lease.expires_at)))
}

/// The next time a cron expression (seconds first) fires.
fn next_run(expr: &str) -> Option<DateTime<Utc>> {
    cron::Schedule::from_str(expr).ok()?.upcoming(Utc).next()
}

/// Seconds each host's rate limiter held the crawler back in this process, longest first (from
/// the crawler's Prometheus counter; empty when no crawl ran here).
fn politeness_waits() -> Vec<(String, String)> {
    let mut waits: Vec<(String, f64)> = prometheus::gather()
        .iter()
        .filter(|family| family.name() == POLITENESS_METRIC)
        .flat_map(|family| family.get_metric())
        .map(|m| {
            let host = m
                .get_label()
                .iter()
                .find(|l| l.name() == "host")
                .map_or("", |l| l.value());
            (host.to_string(), m.get_counter().get_value() / 1000.0)
        })
        .collect();
    waits.sort_by(|a, b| b.1.total_cmp(&a.1));
    waits
        .into_iter()
        .map(|(host, secs)| (host, format!("{secs:.1}")))
        .collect()
}

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
}

/// Asks the scheduler to run a source now (admins only). The attempt and its outcome are audited.
pub async fn start_run(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<RunForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    user.require_admin(&state, "run_start", Some(&form.source))
        .await?;
    let outcome = ask_scheduler(&state, &form.source).await;
    let detail = match &outcome {
        Ok(()) => "started".to_string(),
        Err(r) => format!("refused: {}", r.key),
    };
    state
        .store
        .audit(
            &user.user.username,
            "run_start",
            Some(&form.source),
            Some(&detail),
            user.remote.as_deref(),
        )
        .await?;
    match outcome {
        Ok(()) => Ok(Redirect::to("/operator?done=run_started").into_response()),
        Err(r) => {
            let notice = Notice::refused(user.locale.messages().get(r.key));
            render(&state, &user, Some(notice), r.status).await
        }
    }
}

async fn ask_scheduler(state: &AppState, source: &str) -> Result<(), Refusal> {
    let unavailable = || Refusal {
        key: "operator.no_scheduler",
        status: StatusCode::SERVICE_UNAVAILABLE,
    };
    let requests = state.scheduler.as_ref().ok_or_else(unavailable)?;
    let (reply, answer) = oneshot::channel();
    let request = RunRequest {
        source_id: source.to_string(),
        reply,
    };
    let asked = tokio::time::timeout(SCHEDULER_REPLY, async {
        requests.send(request).await.ok()?;
        answer.await.ok()
    });
    match asked.await {
        Ok(Some(RunStart::Started)) => Ok(()),
        Ok(Some(RunStart::AlreadyRunning)) => Err(Refusal::conflict("operator.error.running")),
        Ok(Some(RunStart::UnknownSource)) => Err(Refusal::not_found("operator.error.unknown")),
        Ok(None) | Err(_) => Err(unavailable()),
    }
}
