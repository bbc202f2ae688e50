//! The frame every page shares (`base.html`: menu, user name, language link, logout form) and the
//! one-line notices that tell the user what a form did or why it was refused.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::i18n::Messages;

/// What `base.html` needs. Page structs hold one and deref to it (see [`framed!`]), so the
/// frame is filled in one place.
pub struct Layout<'a> {
    pub t: &'static Messages,
    pub user: Option<&'a str>,
    pub is_admin: bool,
    pub csrf: &'a str,
}

impl<'a> Layout<'a> {
    pub fn of(user: &'a CurrentUser) -> Layout<'a> {
        Layout {
            t: user.locale.messages(),
            user: Some(&user.user.username),
            is_admin: user.is_admin(),
            csrf: &user.csrf_token,
        }
    }
}

/// Lets page templates reach their layout's fields (`t`, `user`, `is_admin`, `csrf`) as their
/// own, which is how `base.html` names them.
macro_rules! framed {
    ($($page:ident),+) => {$(
        impl<'a> std::ops::Deref for $page<'a> {
            type Target = $crate::layout::Layout<'a>;
            fn deref(&self) -> &Self::Target {
                &self.layout
            }
        }
    )+};
}
pub(crate) use framed;

/// A line at the top of a page after a form.
pub struct Notice {
    pub text: String,
    /// Why something was refused (shown as an alert), rather than what was done.
    pub error: bool,
}

impl Notice {
    pub fn refused(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: true,
        }
    }

    /// The success notice a redirect asked for with `?done=NAME`, when `NAME` is one of `known`
    /// (its text is `{prefix}.NAME`); a crafted link cannot make a page say anything else.
    pub fn done(t: &Messages, prefix: &str, known: &[&str], name: Option<&str>) -> Option<Notice> {
        let name = known.iter().find(|k| Some(**k) == name)?;
        Some(Notice {
            text: t.get(&format!("{prefix}.{name}")).to_string(),
            error: false,
        })
    }
}

/// Why a form was not applied: the message to show (a catalogue key) and the HTTP status.
pub struct Refusal {
    pub key: &'static str,
    pub status: StatusCode,
}

impl Refusal {
    /// The form asks for something that cannot be (400).
    pub fn invalid(key: &'static str) -> Refusal {
        Refusal {
            key,
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// The form names something that does not exist (404).
    pub fn not_found(key: &'static str) -> Refusal {
        Refusal {
            key,
            status: StatusCode::NOT_FOUND,
        }
    }

    /// The form is valid but the current state forbids it (409).
    pub fn conflict(key: &'static str) -> Refusal {
        Refusal {
            key,
            status: StatusCode::CONFLICT,
        }
    }
}

/// A time as pages show it (UTC, to the minute), or a dash.
pub fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "–".into(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    #[test]
    fn only_known_notices_are_shown() {
        let t = Locale::En.messages();
        let known = ["created"];
        let shown = Notice::done(t, "users.done", &known, Some("created")).unwrap();
        assert_eq!(shown.text, t.get("users.done.created"));
        assert!(!shown.error);
        assert!(Notice::done(t, "users.done", &known, Some("Call 0812 now")).is_none());
        assert!(Notice::done(t, "users.done", &known, None).is_none());
    }
}
