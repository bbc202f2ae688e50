//! The dashboard owns the web interface: login, search over flagged posts, and one page per post
//! or lead, server-rendered in Bahasa Indonesia first (English second), with every asset served
//! by the binary itself.
//!
//! Main items: [`AppState`], [`router`] (build the app without a socket, for tests) and
//! [`serve`] (run it on an already-bound listener until a shutdown future resolves). Besides
//! search and leads (officers work many results at once with the bulk actions of `bulk.rs`, and
//! mark a lead a true or false positive on its page) it has account management for admins
//! (`admin.rs`), the operator page of sources and runs (`operator.rs`, which can ask the
//! scheduler for a run through a [`RunRequest`] channel) and server-drawn SVG charts
//! (`charts.rs`).
//!
//! Analysts tune the rules here too (`/rules`): the rule set in use is the `ActiveRules` handle
//! in [`AppState`], the same one the binary's pipeline classifies with, so an activation applies
//! to both at once.
//!
//! Crawled text is hostile: templates escape everything, the Content-Security-Policy allows no
//! script at all, and every page but the login form needs a session. The dashboard holds no SQL:
//! it talks to the store and the search index through the `index` crate. Every officer action is
//! written to the audit log. Machine clients use the JSON API under `/api/v1/` with bearer
//! tokens instead of sessions ([`api`]).

mod admin;
mod analyst;
mod api;
mod auth;
mod bulk;
mod charts;
mod error;
mod export;
mod i18n;
mod layout;
mod leads;
mod operator;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use patroli_classifier::Labeled;
use patroli_index::{ActiveRules, SearchIndex, Store};
use tokio::sync::mpsc;
use tower_http::set_header::SetResponseHeaderLayer;

pub use api::new_api_token;
pub use auth::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, hash_password, random_token, verify_password};
pub use i18n::Locale;
pub use operator::{RunRequest, RunStart, SourceSummary};

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub index: Arc<SearchIndex>,
    /// The rule set in use; share it with the pipeline so activations reach both.
    pub rules: ActiveRules,
    /// The analysts' development corpus; evaluations add the officers' judgements to it.
    corpus: Arc<[Labeled]>,
    /// Set cookies with `Secure` (when served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    limiter: Arc<auth::LoginLimiter>,
    /// The configured sources, when this process read the sources file; the operator page falls
    /// back to the sources the store has seen.
    sources: Option<Arc<[SourceSummary]>>,
    /// The line to the scheduler, when one runs in this process (`patroli run`).
    scheduler: Option<mpsc::Sender<RunRequest>>,
    /// Lead exports being built (at most `export::CONCURRENT_EXPORTS`).
    exports: Arc<tokio::sync::Semaphore>,
    /// Searches running, at most one per core: more only take turns on the same cores, and
    /// waiting in line (first come, first served) keeps every search's latency bounded.
    searches: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(
        store: Store,
        index: Arc<SearchIndex>,
        rules: ActiveRules,
        secure_cookies: bool,
    ) -> AppState {
        AppState {
            store,
            index,
            rules,
            corpus: Arc::new([]),
            secure_cookies,
            limiter: Arc::default(),
            sources: None,
            scheduler: None,
            exports: Arc::new(tokio::sync::Semaphore::new(export::CONCURRENT_EXPORTS)),
            searches: Arc::new(tokio::sync::Semaphore::new(
                2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// Shows these sources, with their schedules, on the operator page.
    pub fn with_sources(mut self, sources: Vec<SourceSummary>) -> AppState {
        self.sources = Some(sources.into());
        self
    }

    /// Lets admins start runs from the operator page by sending requests to a scheduler.
    pub fn with_scheduler(mut self, requests: mpsc::Sender<RunRequest>) -> AppState {
        self.scheduler = Some(requests);
        self
    }

    /// Evaluates rule sets on `corpus` as well as on the officers' judgements.
    pub fn with_corpus(mut self, corpus: Vec<Labeled>) -> AppState {
        self.corpus = corpus.into();
        self
    }
}

/// No scripts at all, styles and images only from this server, no framing, forms only to here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The application, without a socket.
pub fn router(state: AppState) -> Router {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    let mut app = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/lang/{code}", get(pages::switch_language))
        .route("/search", get(pages::search))
        .route("/search/export.csv", get(export::page_csv))
        .route("/search/export.jsonl", get(export::page_jsonl))
        .route("/search/bulk", post(bulk::bulk))
        .route("/leads/{id}", get(pages::lead))
        .route("/leads/{id}/workflow", post(pages::workflow))
        .route("/leads/{id}/evidence.zip", get(pages::evidence))
        .route("/audit", get(pages::audit))
        .route("/audit.csv", get(pages::audit_csv))
        .route("/admin/users", get(admin::users).post(admin::change_user))
        .route("/operator", get(operator::operator))
        .route("/operator/run", post(operator::start_run))
        .route("/stats", get(charts::stats))
        .route("/charts/{file}", get(charts::chart))
        .route("/rules", get(analyst::rules))
        .route(
            "/rules/playground",
            get(analyst::playground_form).post(analyst::playground),
        )
        .route("/rules/eval", get(analyst::eval))
        .route(
            "/rules/candidate",
            get(analyst::candidate_form).post(analyst::candidate),
        )
        .route("/rules/activate", post(analyst::activate))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/metrics", get(pages::metrics))
        .nest("/api/v1", api::router())
        .fallback(pages::not_found)
        .with_state(state);
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    app
}

/// Serves the dashboard on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests;
