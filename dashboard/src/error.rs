//! The one mapping from errors to HTTP responses: user errors are shown as they are, internal
//! errors are logged once and shown as a generic message, in the user's language.

use axum::http::StatusCode;
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
    Invalid(&'static str),
    Internal(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Csrf | AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message_key(&self) -> &'static str {
        match self {
            AppError::NotFound => "error.not_found",
            AppError::Csrf => "error.csrf",
            AppError::Forbidden => "error.forbidden",
            AppError::Invalid(key) => key,
            AppError::Internal(_) => "error.internal",
        }
    }

    /// The response, rendered in `locale`.
    pub fn into_page(self, locale: Locale) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let t = locale.messages();
        (
            self.status(),
            Html(render_error(t, t.get(self.message_key()))),
        )
            .into_response()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.into_page(Locale::default())
    }
}

impl From<patroli_index::StoreError> for AppError {
    fn from(e: patroli_index::StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}
