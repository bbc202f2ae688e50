//! Bulk actions on search results: an officer ticks several results and applies one workflow
//! action to all of them — take into review, assign to an officer, escalate to a unit, or close
//! with a reason. One CSRF-checked form POST (plain HTML: checkboxes and one submit button per
//! action); other roles are refused on the server and the refusal audited; every lead changes
//! through the store's lead workflow and is audited on its own, as from its lead page. The
//! officer lands back on the same search with a notice of how many leads changed, and which did
//! not and why.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use patroli_index::{CLOSE_REASONS, ESCALATION_TARGETS, Lead, LeadChange, LeadStatus, StoreError};
use serde::Deserialize;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::auth::LEAD_WORKERS;
use crate::error::AppError;
use crate::i18n::Messages;
use crate::layout::Notice;
use crate::leads;

/// Most leads one bulk request may change (a page of search results holds 20).
pub const MAX_BULK_LEADS: usize = 100;

/// Why one lead of a bulk request was left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// No post has that id.
    NotFound,
    /// The lead already was as the action would make it.
    Unchanged,
    /// The store refused the change for this lead.
    Invalid,
}

impl Skip {
    const ALL: [Skip; 3] = [Skip::NotFound, Skip::Unchanged, Skip::Invalid];

    /// Its name in the link back to the search, and its message's key (`bulk.why.NAME`).
    fn name(self) -> &'static str {
        match self {
            Skip::NotFound => "not_found",
            Skip::Unchanged => "unchanged",
            Skip::Invalid => "invalid",
        }
    }

    fn parse(s: &str) -> Option<Skip> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The bulk form as posted; the chosen results come as repeated `ids` fields, which the
/// one-value-per-key form extractor cannot read.
#[derive(Debug, Default)]
struct BulkForm {
    csrf: String,
    /// The search to go back to.
    back: String,
    /// The submit button pressed: `review`, `assign`, `escalate` or `close`.
    action: String,
    assignee: String,
    unit: String,
    reason: String,
    ids: Vec<String>,
}

impl BulkForm {
    fn parse(body: &[u8]) -> BulkForm {
        let mut form = BulkForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "csrf" => form.csrf = value,
                "back" => form.back = value,
                "action" => form.action = value,
                "assignee" => form.assignee = value,
                "unit" => form.unit = value,
                "reason" => form.reason = value,
                "ids" => form.ids.push(value),
                _ => {}
            }
        }
        form
    }

    /// The chosen leads, each once, in the order given: at least one, at most
    /// [`MAX_BULK_LEADS`].
    fn lead_ids(&self) -> Result<Vec<i64>, AppError> {
        let mut ids = Vec::new();
        for id in &self.ids {
            let id = id
                .parse::<i64>()
                .map_err(|_| AppError::Invalid("error.lead_invalid"))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        match ids.len() {
            0 => Err(AppError::Invalid("error.bulk_none")),
            n if n > MAX_BULK_LEADS => Err(AppError::Invalid("error.bulk_too_many")),
            _ => Ok(ids),
        }
    }

    /// The change the pressed button asks for, with its unit, reason or officer checked.
    async fn change(&self, state: &AppState) -> Result<LeadChange, AppError> {
        let one_of = |value: &str, allowed: &[&str], key: &'static str| {
            allowed
                .contains(&value)
                .then(|| Some(value.to_string()))
                .ok_or(AppError::Invalid(key))
        };
        Ok(match self.action.as_str() {
            "review" => LeadChange::Status {
                status: LeadStatus::InReview,
                target: None,
            },
            "assign" => {
                let officer = state.store.user(&self.assignee).await?;
                if !officer.is_some_and(|u| !u.disabled && LEAD_WORKERS.contains(&u.role.as_str()))
                {
                    return Err(AppError::Invalid("error.bulk_assignee"));
                }
                LeadChange::Assign {
                    to: self.assignee.clone(),
                }
            }
            "escalate" => LeadChange::Status {
                status: LeadStatus::Escalated,
                target: one_of(&self.unit, ESCALATION_TARGETS, "error.bulk_unit")?,
            },
            "close" => LeadChange::Status {
                status: LeadStatus::Closed,
                target: one_of(&self.reason, CLOSE_REASONS, "error.bulk_reason")?,
            },
            _ => return Err(AppError::Invalid("error.bulk_action")),
        })
    }
}

/// Whether `change` would leave `lead` as it is.
fn unchanged(lead: &Lead, change: &LeadChange) -> bool {
    match change {
        LeadChange::Status { status, target } => {
            lead.status == *status
                && match status {
                    LeadStatus::Escalated => lead.escalated_to == *target,
                    LeadStatus::Closed => lead.closed_reason == *target,
                    LeadStatus::New | LeadStatus::InReview => true,
                }
        }
        LeadChange::Assign { to } => lead.assignee.as_ref() == Some(to),
        LeadChange::Note { .. } | LeadChange::Judge { .. } => false,
    }
}

/// Applies one action to every chosen lead, then goes back to the search with the outcome.
pub async fn bulk(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = BulkForm::parse(&body);
    user.check_csrf(&form.csrf)?;
    user.require_role(&state, LEAD_WORKERS, "lead_bulk", None)
        .await?;
    let ids = form.lead_ids()?;
    let change = form.change(&state).await?;
    let mut updated = 0;
    let mut skipped = Vec::new();
    for id in ids {
        let skip = if state.store.post(id).await?.is_none() {
            Some(Skip::NotFound)
        } else if unchanged(&state.store.lead(id).await?, &change) {
            Some(Skip::Unchanged)
        } else {
            match leads::apply(&state, &user.actor(), id, &change, "bulk").await {
                Ok(_) => None,
                Err(StoreError::Invalid(_)) => Some(Skip::Invalid),
                Err(e) => return Err(e.into()),
            }
        };
        match skip {
            Some(why) => skipped.push((id, why)),
            None => updated += 1,
        }
    }
    if updated > 0 {
        // The lead status is a search filter: the feeder picks the changes up within its window.
        state.index.nudge();
    }
    Ok(Redirect::to(&back_to(&form.back, updated, &skipped)).into_response())
}

/// The search the form came from (only a `/search` link of this site) with the outcome added.
fn back_to(back: &str, updated: usize, skipped: &[(i64, Skip)]) -> String {
    let search = back == "/search" || back.starts_with("/search?");
    let back = if search && back.bytes().all(|b| b.is_ascii_graphic()) {
        back
    } else {
        "/search"
    };
    let mut outcome = url::form_urlencoded::Serializer::new(String::new());
    outcome.append_pair("updated", &updated.to_string());
    if !skipped.is_empty() {
        let skipped: Vec<String> = skipped
            .iter()
            .map(|(id, why)| format!("{id}:{}", why.name()))
            .collect();
        outcome.append_pair("skipped", &skipped.join(","));
    }
    let separator = if back.contains('?') { '&' } else { '?' };
    format!("{back}{separator}{}", outcome.finish())
}

/// The outcome of a bulk action, as the link back to the search carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Outcome {
    updated: Option<String>,
    #[serde(default)]
    skipped: String,
}

/// A lead a bulk action left alone, as the search page lists it.
pub struct SkippedView {
    pub id: i64,
    pub why: &'static str,
}

impl Outcome {
    /// The notice and the leads left alone. The link supplies only numbers and reason names;
    /// every word comes from the catalogue, so a crafted link cannot make the page say more.
    pub fn notice(&self, t: &'static Messages) -> Option<(Notice, Vec<SkippedView>)> {
        let updated: usize = self.updated.as_deref()?.parse().ok()?;
        let skipped = self
            .skipped
            .split(',')
            .filter_map(|item| {
                let (id, why) = item.split_once(':')?;
                Some(SkippedView {
                    id: id.parse().ok()?,
                    why: t.get_owned(&format!("bulk.why.{}", Skip::parse(why)?.name())),
                })
            })
            .take(MAX_BULK_LEADS)
            .collect();
        let notice = Notice {
            text: t.get("bulk.updated").replace("{n}", &updated.to_string()),
            error: false,
        };
        Some((notice, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    #[test]
    fn the_way_back_is_the_search_with_the_outcome() {
        let skipped = [(7, Skip::NotFound), (9, Skip::Unchanged)];
        assert_eq!(
            back_to("/search?q=sawit&page=2", 3, &skipped),
            "/search?q=sawit&page=2&updated=3&skipped=7%3Anot_found%2C9%3Aunchanged"
        );
        assert_eq!(back_to("/search", 1, &[]), "/search?updated=1");
        for elsewhere in [
            "https://evil.test/search?q=x",
            "//evil.test/search",
            "/searchlight",
            "/search?q=a\r\nSet-Cookie: x=y",
        ] {
            assert_eq!(
                back_to(elsewhere, 0, &[]),
                "/search?updated=0",
                "{elsewhere}"
            );
        }
    }

    #[test]
    fn a_notice_says_only_catalogue_words() {
        let t = Locale::En.messages();
        let outcome = Outcome {
            updated: Some("2".into()),
            skipped: "7:not_found,8:call-0812-now,x:unchanged,9:unchanged".into(),
        };
        let (notice, skipped) = outcome.notice(t).unwrap();
        assert_eq!(notice.text, t.get("bulk.updated").replace("{n}", "2"));
        let skipped: Vec<(i64, &str)> = skipped.iter().map(|s| (s.id, s.why)).collect();
        assert_eq!(
            skipped,
            [
                (7, t.get("bulk.why.not_found")),
                (9, t.get("bulk.why.unchanged"))
            ]
        );
        let forged = Outcome {
            updated: Some("many".into()),
            skipped: String::new(),
        };
        assert!(forged.notice(t).is_none());
        assert!(Outcome::default().notice(t).is_none());
    }

    #[test]
    fn a_change_that_leaves_the_lead_as_it_is_is_skipped() {
        let lead = Lead {
            status: LeadStatus::Escalated,
            escalated_to: Some("immigration".into()),
            closed_reason: None,
            assignee: Some("budi".into()),
            judgement: None,
        };
        let status = |status, target: Option<&str>| LeadChange::Status {
            status,
            target: target.map(str::to_string),
        };
        assert!(unchanged(
            &lead,
            &status(LeadStatus::Escalated, Some("immigration"))
        ));
        assert!(!unchanged(
            &lead,
            &status(LeadStatus::Escalated, Some("investigating_unit"))
        ));
        assert!(!unchanged(&lead, &status(LeadStatus::InReview, None)));
        assert!(unchanged(&lead, &LeadChange::Assign { to: "budi".into() }));
        assert!(!unchanged(&lead, &LeadChange::Assign { to: "siti".into() }));
    }
}
