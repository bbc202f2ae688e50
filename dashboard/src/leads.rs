//! What the lead page and the API share: a lead with everything known about it, an officer's
//! change to it, and its evidence bundle. Role checks and audit entries live here once, so a
//! page and a machine client are held to the same rules and leave the same trail.

use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use patroli_index::{
    CLOSE_REASONS, Cluster, ESCALATION_TARGETS, Judgement, Lead, LeadChange, LeadEvent, LeadStatus,
    NetworkLink, PostRecord, SnapshotInfo,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Actor, LEAD_WORKERS};
use crate::error::AppError;

/// Longest note accepted.
const MAX_NOTE_BYTES: usize = 8 * 1024;

/// A lead with everything the lead page shows: the post and its verdict, the workflow state and
/// history, the evidence snapshots, the recruiter network and the repost cluster. The API sends
/// it as it is.
#[derive(Serialize)]
pub struct LeadData {
    pub post: PostRecord,
    /// The text the verdict's spans (byte offsets) point into: the title, a blank line, the body.
    pub classified_text: String,
    /// Why the source may be collected (shown with every lead from it).
    pub legal_basis: String,
    pub lead: Lead,
    pub history: Vec<LeadEvent>,
    pub snapshots: Vec<SnapshotInfo>,
    pub network: Vec<NetworkLink>,
    /// Near-duplicates of the text, when it was posted more than once.
    pub cluster: Option<Cluster>,
}

/// Loads lead `id` for `actor`; the view is audited.
pub async fn load(state: &AppState, actor: &Actor<'_>, id: i64) -> Result<LeadData, AppError> {
    let store = &state.store;
    let post = store.post(id).await?.ok_or(AppError::NotFound)?;
    actor
        .audit(store, "view_lead", Some(&id.to_string()), None)
        .await?;
    Ok(LeadData {
        classified_text: post.classified_text(),
        legal_basis: store
            .legal_basis(&post.source_id)
            .await?
            .unwrap_or_default(),
        lead: store.lead(id).await?,
        history: store.lead_history(id).await?,
        snapshots: store.snapshots_of(id).await?,
        network: store.network_of(id).await?,
        cluster: store.cluster_of(id).await?,
        post,
    })
}

/// A change to a lead, as the page's form and the API's JSON body send it.
#[derive(Deserialize)]
pub struct ChangeRequest {
    /// `status`, `assign` (to the acting user), `note` or `judge`.
    pub action: String,
    /// With `status`: `new`, `in_review`, `escalated` or `closed`.
    #[serde(default)]
    pub status: String,
    /// With `escalated`: the unit; with `closed`: the reason.
    #[serde(default)]
    pub target: String,
    /// With `note`: the text.
    #[serde(default)]
    pub note: String,
    /// With `judge`: `true_positive` or `false_positive`.
    #[serde(default)]
    pub judgement: String,
}

impl ChangeRequest {
    /// The store's change this asks for, as `user`; what is wrong with it otherwise.
    fn change(&self, user: &str) -> Result<LeadChange, AppError> {
        let invalid = |message: String, hint: &str| AppError::BadInput {
            key: "error.lead_invalid",
            message,
            hint: hint.to_string(),
        };
        Ok(match self.action.as_str() {
            "status" => LeadChange::Status {
                status: LeadStatus::parse(&self.status).ok_or_else(|| {
                    invalid(
                        format!("there is no lead status {:?}", self.status),
                        "Use new, in_review, escalated or closed.",
                    )
                })?,
                target: Some(self.target.clone()),
            },
            "assign" => LeadChange::Assign {
                to: user.to_string(),
            },
            "note" if self.note.len() > MAX_NOTE_BYTES => {
                return Err(invalid(
                    format!("the note is {} bytes long", self.note.len()),
                    &format!("Keep a note to at most {MAX_NOTE_BYTES} bytes, or add several."),
                ));
            }
            "note" => LeadChange::Note {
                text: self.note.clone(),
            },
            "judge" => LeadChange::Judge {
                judgement: Judgement::parse(&self.judgement).ok_or_else(|| {
                    invalid(
                        format!("there is no judgement {:?}", self.judgement),
                        "Use true_positive or false_positive.",
                    )
                })?,
            },
            other => {
                return Err(invalid(
                    format!("there is no action {other:?}"),
                    "Use status (with status and target), assign, note (with note) or judge (with judgement).",
                ));
            }
        })
    }
}

/// Applies `request` to lead `id` as `actor`: only officers and admins may (a refusal is
/// audited too); the change goes to the lead's history and the audit log. Returns the lead as
/// it now stands.
pub async fn change(
    state: &AppState,
    actor: &Actor<'_>,
    id: i64,
    request: &ChangeRequest,
) -> Result<Lead, AppError> {
    let target = id.to_string();
    actor
        .require_role(
            &state.store,
            LEAD_WORKERS,
            "lead",
            Some(&target),
            Some(&request.action),
        )
        .await?;
    if state.store.post(id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let change = request.change(&actor.user.username)?;
    match apply(state, actor, id, &change, "").await {
        Ok(lead) => Ok(lead),
        Err(patroli_index::StoreError::Invalid(message)) => Err(AppError::BadInput {
            key: "error.lead_invalid",
            message,
            hint: format!(
                "Escalate to one of {}; close for one of {}; do not send an empty note.",
                ESCALATION_TARGETS.join(", "),
                CLOSE_REASONS.join(", ")
            ),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Applies `change` to lead `id` as `actor` (whose role the caller checked): the store keeps
/// it in the lead's history, the search index is nudged (lead status is a search filter), and
/// the audit log gets `lead_{action}` with `via` (how it was asked for, e.g. `bulk`) after the
/// detail.
pub async fn apply(
    state: &AppState,
    actor: &Actor<'_>,
    id: i64,
    change: &LeadChange,
    via: &str,
) -> Result<Lead, patroli_index::StoreError> {
    let lead = state
        .store
        .change_lead(id, &actor.user.username, change)
        .await?;
    state.index.nudge();
    let detail = match change {
        LeadChange::Status { status, target } => {
            format!("{} {}", status.as_str(), target.as_deref().unwrap_or(""))
        }
        LeadChange::Assign { to } => to.clone(),
        LeadChange::Note { text } => format!("{} bytes", text.len()),
        LeadChange::Judge { judgement } => judgement.label().to_string(),
    };
    let detail = if via.is_empty() {
        detail
    } else {
        format!("{detail} ({via})")
    };
    actor
        .audit(
            &state.store,
            &format!("lead_{}", change.action()),
            Some(&id.to_string()),
            Some(&detail),
        )
        .await?;
    Ok(lead)
}

/// The evidence bundle of lead `id` as a download: raw snapshots, a manifest with the SHA-256 of
/// every file, and a report. Audited with its size.
pub async fn evidence(state: &AppState, actor: &Actor<'_>, id: i64) -> Result<Response, AppError> {
    if state.store.post(id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let zip = patroli_index::evidence::bundle(&state.store, &[id], &actor.user.username).await?;
    actor
        .audit(
            &state.store,
            "export_evidence",
            Some(&id.to_string()),
            Some(&format!("{} bytes", zip.len())),
        )
        .await?;
    let disposition = format!("attachment; filename=\"patroli-bukti-{id}.zip\"");
    Ok((
        [
            (CONTENT_TYPE, "application/zip".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}
