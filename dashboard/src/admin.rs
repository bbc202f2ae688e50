//! Account management, for admins only: list users, create one, change a role, disable or enable
//! an account, reset a password. Every change is a CSRF-checked form POST; other roles are
//! refused on the server and the refusal is audited; every attempt an admin makes is audited with
//! its outcome. The store refuses to leave the team without an active admin.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use patroli_index::{AccountChange, ROLES, StoreError, UserSummary};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{CurrentUser, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, hash_password};
use crate::error::AppError;
use crate::layout::{Layout, Notice, Refusal, framed, when};
use crate::pages::require_admin;

/// Longest username accepted.
const MAX_USERNAME_LEN: usize = 64;

/// A user name: 1 to 64 ASCII letters, digits, `.`, `_` or `-` (it appears in the audit log,
/// in CSV exports and in lead histories, so nothing that needs quoting or can look alike).
fn valid_username(name: &str) -> bool {
    (1..=MAX_USERNAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What an admin can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserAction {
    Create,
    Role,
    Disable,
    Enable,
    Password,
}

impl UserAction {
    const ALL: [UserAction; 5] = [
        UserAction::Create,
        UserAction::Role,
        UserAction::Disable,
        UserAction::Enable,
        UserAction::Password,
    ];

    /// The form's `action` value, the `?done=` notice and the audit action's suffix.
    fn name(self) -> &'static str {
        match self {
            UserAction::Create => "create",
            UserAction::Role => "role",
            UserAction::Disable => "disable",
            UserAction::Enable => "enable",
            UserAction::Password => "password",
        }
    }

    fn parse(s: &str) -> Option<UserAction> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

struct UserRow {
    username: String,
    role: String,
    created: String,
    last_login: String,
    sessions: i64,
    disabled: bool,
    is_self: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    layout: Layout<'a>,
    notice: Option<Notice>,
    users: Vec<UserRow>,
    /// (role, label)
    roles: Vec<(&'static str, &'static str)>,
    password_rule: String,
    /// Shortest and longest password, for the browser's own check.
    password_len: (usize, usize),
}
framed!(UsersPage);

#[derive(Deserialize)]
pub struct UsersQuery {
    done: Option<String>,
}

/// The user list with its forms; viewing it is audited.
pub async fn users(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<UsersQuery>,
) -> Result<Response, AppError> {
    require_admin(&state, &user, "users_view").await?;
    let names: Vec<&str> = UserAction::ALL.iter().map(|a| a.name()).collect();
    let notice = Notice::done(
        user.locale.messages(),
        "users.done",
        &names,
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
    let users = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u: UserSummary| UserRow {
            is_self: u.username == user.user.username,
            created: when(Some(u.created_at)),
            last_login: when(u.last_login),
            sessions: u.sessions,
            disabled: u.disabled,
            role: u.role,
            username: u.username,
        })
        .collect();
    let html = UsersPage {
        layout: Layout::of(user),
        notice,
        users,
        roles: ROLES
            .iter()
            .map(|r| (*r, t.get_owned(&format!("role.{r}"))))
            .collect(),
        password_rule: password_rule(t.get("users.password_rule")),
        password_len: (MIN_PASSWORD_LEN, MAX_PASSWORD_LEN),
    }
    .render()?;
    Ok((status, Html(html)).into_response())
}

/// A message with the password length limits filled in.
fn password_rule(template: &str) -> String {
    template
        .replace("{min}", &MIN_PASSWORD_LEN.to_string())
        .replace("{max}", &MAX_PASSWORD_LEN.to_string())
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// Applies one account form. Refusals by role are audited as `user_<action>_refused`; every
/// attempt by an admin is audited as `user_<action>` with the account as target and the outcome
/// (never the password) as detail.
pub async fn change_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<UserForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    let action = UserAction::parse(&form.action);
    let audit_action = format!("user_{}", action.map_or("change", UserAction::name));
    let target = form.username.trim();
    user.require_admin(&state, &audit_action, Some(target))
        .await?;
    let action = action.ok_or(AppError::Invalid("users.error.action"))?;
    let outcome = apply(&state, action, target, &form).await;
    let detail = match &outcome {
        Ok(detail) => detail.clone(),
        Err(Failure::Refused(r)) => format!("refused: {}", r.key),
        Err(Failure::Error(_)) => "failed".to_string(),
    };
    state
        .store
        .audit(
            &user.user.username,
            &audit_action,
            Some(target),
            Some(&detail),
            user.remote.as_deref(),
        )
        .await?;
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/admin/users?done={}", action.name())).into_response()),
        Err(Failure::Refused(r)) => {
            let text = password_rule(user.locale.messages().get(r.key));
            render(&state, &user, Some(Notice::refused(text)), r.status).await
        }
        Err(Failure::Error(e)) => Err(e),
    }
}

/// Why an account form was not applied.
enum Failure {
    /// The admin asked for something that cannot be: say why on the page.
    Refused(Refusal),
    Error(AppError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Error(e.into())
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

/// Does what the form asks; returns the audit detail.
async fn apply(
    state: &AppState,
    action: UserAction,
    target: &str,
    form: &UserForm,
) -> Result<String, Failure> {
    let store = &state.store;
    match action {
        UserAction::Create => {
            if !valid_username(target) {
                return Err(Refusal::invalid("users.error.name").into());
            }
            let role = known_role(&form.role)?;
            let hash = checked_hash(&form.password)?;
            match store.add_user(target, role, &hash).await {
                Ok(_) => Ok(format!("role {role}")),
                Err(StoreError::Conflict(_)) => Err(Refusal::conflict("users.error.exists").into()),
                Err(e) => Err(e.into()),
            }
        }
        UserAction::Role => {
            let role = known_role(&form.role)?;
            let before = store.user(target).await?.map(|u| u.role);
            accepted(store.set_role(target, role).await?)?;
            Ok(format!("{} → {role}", before.unwrap_or_default()))
        }
        UserAction::Disable | UserAction::Enable => {
            let disable = action == UserAction::Disable;
            accepted(store.set_disabled(target, disable).await?)?;
            Ok(if disable {
                "disabled; sessions ended"
            } else {
                "enabled"
            }
            .to_string())
        }
        UserAction::Password => {
            let hash = checked_hash(&form.password)?;
            accepted(store.reset_password(target, &hash).await?)?;
            Ok("password reset; sessions ended".to_string())
        }
    }
}

fn known_role(role: &str) -> Result<&'static str, Refusal> {
    ROLES
        .iter()
        .find(|r| **r == role)
        .copied()
        .ok_or(Refusal::invalid("users.error.role"))
}

/// The hash of a new password that meets the length rule.
fn checked_hash(password: &str) -> Result<String, Failure> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(Refusal::invalid("users.password_rule").into());
    }
    hash_password(password)
        .map_err(|e| Failure::Error(AppError::Internal(format!("cannot hash a password: {e}"))))
}

/// The store's answer to an account change, as a refusal when it did not happen.
fn accepted(change: AccountChange) -> Result<(), Refusal> {
    match change {
        AccountChange::Done => Ok(()),
        AccountChange::UnknownUser => Err(Refusal::not_found("users.error.unknown")),
        AccountChange::LastAdmin => Err(Refusal::conflict("users.error.last_admin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain() {
        for ok in ["budi", "siti.a", "op_1", "kapolres-sanggau"] {
            assert!(valid_username(ok), "{ok}");
        }
        let long = "a".repeat(MAX_USERNAME_LEN + 1);
        for bad in [
            "",
            "budi santoso",
            "<b>",
            "=cmd",
            "bu\u{0434}i",
            long.as_str(),
        ] {
            assert!(!valid_username(bad), "{bad:?}");
        }
    }

    #[test]
    fn actions_round_trip() {
        for a in UserAction::ALL {
            assert_eq!(UserAction::parse(a.name()), Some(a));
        }
        assert_eq!(UserAction::parse("delete"), None);
    }
}
