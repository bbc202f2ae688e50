//! Passwords, sessions, CSRF tokens and the login rate limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderValue;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use patroli_index::User;

use crate::AppState;
use crate::error::AppError;
use crate::i18n::Locale;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "patroli_session";
/// Name of the cookie that carries the login form's CSRF token (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "patroli_login_csrf";
/// Name of the locale cookie.
pub const LANG_COOKIE: &str = "patroli_lang";
/// How long a session lasts.
pub const SESSION_TTL_HOURS: i64 = 12;
/// Failed logins for one username or address before a lockout.
pub const MAX_FAILED_LOGINS: u32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// Shortest password accepted for an account (by `patroli user add` and the admin page).
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted: what the login form lets a user type.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a stored argon2 hash.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fresh random token (256 bits, hex).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` header value: HttpOnly, SameSite=Strict, Path=/, Secure when served over TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .expect("cookie names and hex tokens are valid header text")
}

/// Adds a `Set-Cookie` header to a response.
pub fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// The client's address, when the server recorded it.
pub fn remote(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// What a handler may need to know about the client before there is a session.
pub struct ClientInfo {
    pub remote: Option<String>,
    pub login_csrf: Option<String>,
    pub session_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientInfo {
            remote: remote(parts),
            login_csrf: cookie(parts, LOGIN_CSRF_COOKIE).map(str::to_string),
            session_token: cookie(parts, SESSION_COOKIE).map(str::to_string),
        })
    }
}

/// The locale chosen by the user's cookie (Bahasa Indonesia by default).
pub struct UserLocale(pub Locale);

impl<S: Send + Sync> FromRequestParts<S> for UserLocale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UserLocale(
            cookie(parts, LANG_COOKIE)
                .and_then(Locale::parse)
                .unwrap_or_default(),
        ))
    }
}

/// A logged-in user. Extracting it from a request without a live session redirects to the
/// login page, so a handler that takes one cannot be reached without login.
pub struct CurrentUser {
    pub user: User,
    pub csrf_token: String,
    pub locale: Locale,
    pub remote: Option<String>,
}

impl CurrentUser {
    /// Checks a submitted CSRF token against the session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        if tokens_equal(&self.csrf_token, submitted) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == "admin"
    }

    /// Refuses (403) unless the user is an admin. See [`CurrentUser::require_role`].
    pub async fn require_admin(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
    ) -> Result<(), AppError> {
        self.require_role(state, &["admin"], action, target).await
    }

    /// Refuses (403) unless the user has one of `roles`; see [`Actor::require_role`].
    pub async fn require_role(
        &self,
        state: &AppState,
        roles: &[&str],
        action: &str,
        target: Option<&str>,
    ) -> Result<(), AppError> {
        self.actor()
            .require_role(&state.store, roles, action, target, None)
            .await
    }

    /// The user as the actor of an action the pages share with the API.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            user: &self.user,
            remote: self.remote.as_deref(),
            token: None,
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let locale = cookie(parts, LANG_COOKIE)
            .and_then(Locale::parse)
            .unwrap_or_default();
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie(parts, SESSION_COOKIE) else {
            return Err(to_login());
        };
        match state.store.session(token).await {
            Ok(Some(session)) => Ok(CurrentUser {
                user: session.user,
                csrf_token: session.csrf_token,
                locale,
                remote: remote(parts),
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(AppError::from(e).into_page(locale)),
        }
    }
}

/// Who is acting, however they authenticated (a session on the pages, a bearer token on the
/// API): the user whose role is checked, and the actor written to the audit log.
pub struct Actor<'a> {
    pub user: &'a User,
    pub remote: Option<&'a str>,
    /// The API token the request carried, so the audit log says the action came through it.
    pub token: Option<i64>,
}

/// Roles that work leads (change status, assign, note, mark); analysts read them.
pub const LEAD_WORKERS: &[&str] = &["officer", "admin"];

impl Actor<'_> {
    /// Refuses (403) unless the user has one of `roles`. A refusal is audited as
    /// `{action}_refused`, with its target and detail, so attempts to do what a role may not
    /// leave a trace; the caller audits the action itself once it is done.
    pub async fn require_role(
        &self,
        store: &patroli_index::Store,
        roles: &[&str],
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), AppError> {
        if roles.contains(&self.user.role.as_str()) {
            return Ok(());
        }
        self.audit(store, &format!("{action}_refused"), target, detail)
            .await?;
        Err(AppError::Forbidden)
    }

    /// Appends to the audit log as this user; `detail` ends with "via API token N" when the
    /// request came through a token.
    pub async fn audit(
        &self,
        store: &patroli_index::Store,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), patroli_index::StoreError> {
        let detail = match (self.token, detail) {
            (None, d) => d.map(str::to_string),
            (Some(id), None) => Some(format!("via API token {id}")),
            (Some(id), Some(d)) => Some(format!("{d}; via API token {id}")),
        };
        store
            .audit(
                &self.user.username,
                action,
                target,
                detail.as_deref(),
                self.remote,
            )
            .await
    }
}

/// Counts failed logins per username and per address; too many lock both out for a while.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Most keys the limiter remembers; the oldest are forgotten first.
const LIMITER_CAPACITY: usize = 10_000;

impl LoginLimiter {
    /// Whether any of `keys` is locked out now.
    pub fn locked(&self, keys: &[&str]) -> bool {
        let map = self.failures.lock().expect("limiter lock");
        keys.iter().any(|k| {
            map.get(*k)
                .is_some_and(|(n, last)| *n >= MAX_FAILED_LOGINS && last.elapsed() < LOCKOUT)
        })
    }

    /// Records a failure for each key.
    pub fn fail(&self, keys: &[&str]) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() >= LIMITER_CAPACITY {
            let oldest = map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        for k in keys {
            let e = map.entry((*k).to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() >= LOCKOUT {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    /// Forgets the failures of `keys` after a successful login.
    pub fn succeed(&self, keys: &[&str]) {
        let mut map = self.failures.lock().expect("limiter lock");
        for k in keys {
            map.remove(*k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("rahasia-123").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "rahasia-123"));
        assert!(!verify_password(&h, "rahasia-124"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn limiter_locks_after_repeated_failures() {
        let l = LoginLimiter::default();
        for _ in 0..MAX_FAILED_LOGINS - 1 {
            l.fail(&["budi"]);
        }
        assert!(!l.locked(&["budi"]));
        l.fail(&["budi"]);
        assert!(l.locked(&["budi", "10.0.0.1"]));
        assert!(!l.locked(&["siti"]));
        l.succeed(&["budi"]);
        assert!(!l.locked(&["budi"]));
    }

    #[test]
    fn tokens_compare() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
        assert_eq!(random_token().len(), 64);
    }
}
