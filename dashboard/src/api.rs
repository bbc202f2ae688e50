//! The JSON API under `/api/v1/`, for machine clients (other agencies' systems, "One Data
//! TPPO"): search, a lead with everything known about it, an officer's change to a lead, its
//! evidence bundle, and lead exports. It does what the pages do, through the same code, with the
//! same roles and the same audit log; `docs/openapi.yaml` describes it (and a test keeps the two
//! in step).
//!
//! **Bearer tokens only.** A request authenticates with `Authorization: Bearer <token>` (made by
//! `patroli user token NAME`) and acts as the token's user. Cookies are never read here: a
//! browser attaches the session cookie to any request it sends, including one a hostile page
//! forges, but never an `Authorization` header, so no cross-site request can act through the
//! API, and the API needs no CSRF token. Pages, in turn, never read the `Authorization` header.

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use patroli_index::{Lead, MAX_LIMIT, SearchResults, TokenCheck, User};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Actor, LOCKOUT, random_token, remote};
use crate::error::AppError;
use crate::export::{self, Format};
use crate::leads::{self, ChangeRequest, LeadData};
use crate::pages::{MAX_PAGE, PAGE_SIZE, SearchParams};

/// Start of every API token, so people and secret scanners can tell one when it leaks.
pub const API_TOKEN_PREFIX: &str = "patroli_";

/// The OpenAPI description of this API, served at `/api/v1/openapi.yaml`.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// A new API token: the prefix and 256 random bits. The caller stores its hash and shows it once.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_token())
}

/// The API's routes, to be nested under `/api/v1`. Anything else under it is a JSON 404.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/search", get(search))
        .route("/leads/export.csv", get(export_csv))
        .route("/leads/export.jsonl", get(export_jsonl))
        .route("/leads/{id}", get(lead))
        .route("/leads/{id}/workflow", post(workflow))
        .route("/leads/{id}/evidence.zip", get(evidence))
        .route("/openapi.yaml", get(openapi))
        .fallback(not_found)
}

/// An error of an API handler, sent as `{"error": …, "hint": …}`.
pub struct ApiError(AppError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_json()
    }
}

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError(AppError::BadInput {
            key: "search.bad_query",
            message: e.body_text(),
            hint: "Check the parameters against /api/v1/openapi.yaml: page and per_page are \
                   whole numbers, flagged and kalbar are 1 when set."
                .into(),
        })
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(AppError::BadInput {
            key: "error.lead_invalid",
            message: e.body_text(),
            hint: "Send a JSON object with Content-Type: application/json, e.g. \
                   {\"action\": \"status\", \"status\": \"escalated\", \"target\": \"immigration\"}."
                .into(),
        })
    }
}

/// A request authenticated by a bearer token: the token's user, acting through it.
pub struct ApiUser {
    user: User,
    token_id: i64,
    remote: Option<String>,
}

impl ApiUser {
    fn actor(&self) -> Actor<'_> {
        Actor {
            user: &self.user,
            remote: self.remote.as_deref(),
            token: Some(self.token_id),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| AppError::Unauthorized {
            message: "no API token was sent".into(),
        })?;
    header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| AppError::Unauthorized {
            message: "the Authorization header is not `Bearer <token>`".into(),
        })
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    /// Checks the bearer token. Refusals are audited (as the token's user when the token is
    /// known) and counted per address with the login's limiter: after `MAX_FAILED_LOGINS`
    /// refusals the address gets 429 for `LOCKOUT` without the store being asked.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let remote = remote(parts);
        let key = format!("api {}", remote.as_deref().unwrap_or("unknown address"));
        if state.limiter.locked(&[&key]) {
            return Err(AppError::Busy {
                message: "too many requests with refused API tokens from this address".into(),
                retry_after_secs: LOCKOUT.as_secs(),
            }
            .into());
        }
        let (actor, token_id, why) = match state.store.check_api_token(token).await? {
            TokenCheck::Valid { token_id, user } => {
                return Ok(ApiUser {
                    user,
                    token_id,
                    remote,
                });
            }
            TokenCheck::Unknown => ("-".to_string(), None, "the API token is not known"),
            TokenCheck::Revoked { token_id, username } => {
                (username, Some(token_id), "the API token was revoked")
            }
            TokenCheck::UserDisabled { token_id, username } => {
                (username, Some(token_id), "the API token's user is disabled")
            }
        };
        state.limiter.fail(&[&key]);
        state
            .store
            .audit(
                &actor,
                "api_token_refused",
                token_id.map(|id| id.to_string()).as_deref(),
                Some(why),
                remote.as_deref(),
            )
            .await?;
        Err(AppError::Unauthorized {
            message: why.to_string(),
        }
        .into())
    }
}

/// `per_page`, which only the API offers (the page shows `PAGE_SIZE`).
#[derive(Deserialize)]
pub struct Paging {
    per_page: Option<usize>,
}

/// A page of search results, with the page asked for.
#[derive(Serialize)]
struct SearchPage {
    page: usize,
    per_page: usize,
    #[serde(flatten)]
    results: SearchResults,
}

/// Searches like the search page, with every filter, facets and the spelling correction.
async fn search(
    State(state): State<AppState>,
    user: ApiUser,
    params: Result<Query<SearchParams>, QueryRejection>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let Query(params) = params?;
    let per_page = paging?.per_page.unwrap_or(PAGE_SIZE);
    let page = params.page();
    // As deep as the search page goes, in pages of any size.
    let max_depth = MAX_PAGE * PAGE_SIZE;
    if !(1..=MAX_LIMIT).contains(&per_page) || page == 0 || page * per_page > max_depth {
        return Err(AppError::BadInput {
            key: "search.bad_query",
            message: format!(
                "page {page} of {per_page} results is out of range: per_page is 1 to {MAX_LIMIT}, \
                 and results go {max_depth} deep"
            ),
            hint: "Narrow the search with filters, or use /api/v1/leads/export.jsonl for \
                   every result."
                .into(),
        }
        .into());
    }
    let results = params.search(&state, page, per_page).await;
    user.actor()
        .audit(
            &state.store,
            "search",
            None,
            Some(&format!(
                "{} page={page} per_page={per_page}",
                params.audit_detail()
            )),
        )
        .await?;
    Ok(Json(SearchPage {
        page,
        per_page,
        results: results?,
    }))
}

/// A lead id from the path.
fn lead_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::BadInput {
        key: "error.not_found",
        message: format!("{id:?} is not a lead id"),
        hint: "Lead ids are whole numbers, the `id` of a search hit.".into(),
    })
}

/// A lead: the post, its verdict (indicators with their spans), lead state and history,
/// snapshots with SHA-256, network and repost cluster.
async fn lead(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<LeadData>, ApiError> {
    Ok(Json(
        leads::load(&state, &user.actor(), lead_id(&id)?).await?,
    ))
}

/// Changes a lead (officers and admins; others get 403 and the refusal is audited).
async fn workflow(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    body: Result<Json<ChangeRequest>, JsonRejection>,
) -> Result<Json<Lead>, ApiError> {
    let id = lead_id(&id)?;
    let Json(request) = body?;
    Ok(Json(
        leads::change(&state, &user.actor(), id, &request).await?,
    ))
}

/// The evidence bundle (ZIP) of a lead.
async fn evidence(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(leads::evidence(&state, &user.actor(), lead_id(&id)?).await?)
}

async fn export_csv(
    State(state): State<AppState>,
    user: ApiUser,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    Ok(export::export(&state, &user.actor(), &params, Format::Csv).await?)
}

async fn export_jsonl(
    State(state): State<AppState>,
    user: ApiUser,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    Ok(export::export(&state, &user.actor(), &params, Format::Jsonl).await?)
}

/// This API's OpenAPI description.
async fn openapi(State(state): State<AppState>, user: ApiUser) -> Result<Response, ApiError> {
    user.actor()
        .audit(&state.store, "api_docs", None, None)
        .await?;
    Ok(([(CONTENT_TYPE, "application/yaml; charset=utf-8")], OPENAPI).into_response())
}

async fn not_found() -> ApiError {
    AppError::NotFound.into()
}
