//! The dashboard owns the web interface: login, search over flagged posts, and one page per post
//! or lead, server-rendered in Bahasa Indonesia first (English second), with every asset served
//! by the binary itself.
//!
//! Main items: [`AppState`], [`router`] (build the app without a socket, for tests) and
//! [`serve`] (run it on an already-bound listener until a shutdown future resolves).
//!
//! Crawled text is hostile: templates escape everything, the Content-Security-Policy allows no
//! script at all, and every page but the login form needs a session. The dashboard holds no SQL:
//! it talks to the store and the search index through the `index` crate. Every officer action is
//! written to the audit log. Machine clients use the JSON API under `/api/v1/` with bearer
//! tokens instead of sessions ([`api`]).

mod api;
mod auth;
mod error;
mod export;
mod i18n;
mod leads;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use patroli_index::{SearchIndex, Store};
use tower_http::set_header::SetResponseHeaderLayer;

pub use api::new_api_token;
pub use auth::{hash_password, random_token, verify_password};
pub use i18n::Locale;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub index: Arc<SearchIndex>,
    /// Set cookies with `Secure` (when served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    limiter: Arc<auth::LoginLimiter>,
    /// Lead exports being built (at most `export::CONCURRENT_EXPORTS`).
    exports: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(store: Store, index: Arc<SearchIndex>, secure_cookies: bool) -> AppState {
        AppState {
            store,
            index,
            secure_cookies,
            limiter: Arc::default(),
            exports: Arc::new(tokio::sync::Semaphore::new(export::CONCURRENT_EXPORTS)),
        }
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
        .route("/leads/{id}", get(pages::lead))
        .route("/leads/{id}/workflow", post(pages::workflow))
        .route("/leads/{id}/evidence.zip", get(pages::evidence))
        .route("/audit", get(pages::audit))
        .route("/audit.csv", get(pages::audit_csv))
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
