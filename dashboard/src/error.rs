//! The one mapping from errors to HTTP responses: user errors are shown as they are, internal
//! errors are logged once and shown as a generic message, in the user's language on pages and
//! as `{"error": …, "hint": …}` in English for the API's machine clients.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::Locale;
use crate::pages::render_error;

/// An error a handler returns.
#[derive(Debug)]
pub enum AppError {
    NotFound,
    Csrf,
    /// The user's role may not do this.
    Forbidden,
    /// A form that cannot be applied; the message key says what to change.
    #[allow(
        dead_code,
        reason = "the admin and analyst forms being written beside the API construct it; the \
                  lead workflow, its last user here, now says more through BadInput"
    )]
    Invalid(&'static str),
    /// Input that cannot be applied, with what was wrong and how to fix it: pages show the
    /// catalogue message `key`, the API `message` and `hint`.
    BadInput {
        key: &'static str,
        message: String,
        hint: String,
    },
    /// No valid API token (the API only; pages send the browser to the login instead).
    Unauthorized {
        message: String,
    },
    /// Too much at once (failed token attempts, or exports running); try again after
    /// `retry_after_secs`.
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// The store cannot be reached (a PostgreSQL server down or restarting); the page says
    /// so, and to try again shortly.
    StoreDown(String),
    Internal(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Csrf | AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Invalid(_) | AppError::BadInput { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::StoreDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message_key(&self) -> &'static str {
        match self {
            AppError::NotFound => "error.not_found",
            AppError::Csrf => "error.csrf",
            AppError::Forbidden => "error.forbidden",
            AppError::Invalid(key) | AppError::BadInput { key, .. } => key,
            AppError::Unauthorized { .. } => "error.unauthorized",
            AppError::Busy { .. } => "error.busy",
            AppError::StoreDown(_) => "error.store_down",
            AppError::Internal(_) => "error.internal",
        }
    }

    /// Logs an internal error once, whichever way it is rendered.
    fn log(&self) {
        match &self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            AppError::StoreDown(detail) => {
                tracing::error!(error = %detail, "request failed: the store cannot be reached")
            }
            _ => {}
        }
    }

    /// Adds `Retry-After` to the response of a `Busy` or `StoreDown` error.
    fn with_retry_after(&self, mut response: Response) -> Response {
        let seconds = match self {
            AppError::Busy {
                retry_after_secs, ..
            } => *retry_after_secs,
            AppError::StoreDown(_) => STORE_RETRY_SECS,
            _ => return response,
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }

    /// The response, rendered in `locale`.
    pub fn into_page(self, locale: Locale) -> Response {
        self.log();
        let t = locale.messages();
        let page = (
            self.status(),
            Html(render_error(t, t.get(self.message_key()))),
        )
            .into_response();
        self.with_retry_after(page)
    }

    /// The response for a machine client: `{"error": …, "hint": …}`, in English, with the same
    /// status a page would have.
    pub fn into_json(self) -> Response {
        self.log();
        let en = Locale::En.messages();
        let (error, hint) = match &self {
            AppError::BadInput { message, hint, .. } => (message.clone(), hint.clone()),
            AppError::Unauthorized { message } => (
                message.clone(),
                "Send `Authorization: Bearer <token>`; an admin creates a token with \
                 `patroli user token USERNAME`. Session cookies are not accepted by the API."
                    .to_string(),
            ),
            AppError::Busy {
                message,
                retry_after_secs,
            } => (
                message.clone(),
                format!("Try again in {retry_after_secs} seconds (see Retry-After)."),
            ),
            AppError::NotFound => (
                en.get(self.message_key()).to_string(),
                "Check the id or path against /api/v1/openapi.yaml.".to_string(),
            ),
            AppError::Forbidden => (
                en.get(self.message_key()).to_string(),
                "This needs another role (changing a lead: officer or admin); ask an admin for \
                 a token of a user with that role."
                    .to_string(),
            ),
            AppError::Csrf | AppError::Invalid(_) => (
                en.get(self.message_key()).to_string(),
                "Check the request against /api/v1/openapi.yaml.".to_string(),
            ),
            AppError::StoreDown(_) => (
                en.get(self.message_key()).to_string(),
                format!("Try again in {STORE_RETRY_SECS} seconds (see Retry-After)."),
            ),
            AppError::Internal(_) => (
                en.get(self.message_key()).to_string(),
                "Try again later; if it persists, tell the Patroli admins the time of the request."
                    .to_string(),
            ),
        };
        let body = Json(serde_json::json!({ "error": error, "hint": hint }));
        let mut response = (self.status(), body).into_response();
        if let AppError::Unauthorized { .. } = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"patroli\""),
            );
        }
        self.with_retry_after(response)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.into_page(Locale::default())
    }
}

/// Seconds a client is asked to wait when the store cannot be reached.
const STORE_RETRY_SECS: u64 = 10;

impl From<patroli_index::StoreError> for AppError {
    fn from(e: patroli_index::StoreError) -> Self {
        if e.is_unavailable() {
            AppError::StoreDown(e.to_string())
        } else {
            AppError::Internal(e.to_string())
        }
    }
}

impl From<patroli_index::SearchError> for AppError {
    fn from(e: patroli_index::SearchError) -> Self {
        match e {
            patroli_index::SearchError::BadQuery { message, hint } => AppError::BadInput {
                key: "search.bad_query",
                message,
                hint,
            },
            patroli_index::SearchError::Store(e) => e.into(),
            e => AppError::Internal(e.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}
