//! Page handlers and the views they render.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, REFERER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use patroli_classifier::Verdict;
use patroli_index::{
    CLOSE_REASONS, ESCALATION_TARGETS, Judgement, LANGUAGES, LeadEvent, LeadStatus, SearchError,
    SearchRequest, SearchResults, SnapshotInfo, Sort, parse_date,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::LEAD_WORKERS;
use crate::auth::{
    ClientInfo, CurrentUser, LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL_HOURS,
    UserLocale, random_token, set_cookie, tokens_equal, verify_password, with_cookie,
};
use crate::bulk::{self, SkippedView};
use crate::error::AppError;
use crate::i18n::{Locale, Messages};
use crate::layout::{Notice, when};
use crate::leads::{self, ChangeRequest};

/// Lead statuses in workflow order, as forms and filters name them.
const LEAD_STATUSES: &[&str] = &["new", "in_review", "escalated", "closed"];

/// Results per search page.
pub(crate) const PAGE_SIZE: usize = 20;
/// Deepest page offered (bounds the work a single request can ask for).
pub(crate) const MAX_PAGE: usize = 500;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    message: &'a str,
}

/// Renders the error page (used by the error mapping).
pub fn render_error(t: &Messages, message: &str) -> String {
    ErrorPage {
        t,
        user: None,
        is_admin: false,
        csrf: "",
        message,
    }
    .render()
    .unwrap_or_else(|_| "error".to_string())
}

pub async fn not_found(UserLocale(locale): UserLocale) -> Response {
    AppError::NotFound.into_page(locale)
}

pub async fn home() -> Redirect {
    Redirect::to("/search")
}

/// Prometheus metrics of this process (crawling counters when the crawler runs here). Open to
/// scrapers on the same machine (loopback); from elsewhere only with a session.
pub async fn metrics(
    State(state): State<AppState>,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let local = client
        .remote
        .as_deref()
        .and_then(|r| r.parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    let logged_in = match client.session_token.as_deref() {
        Some(token) => state.store.session(token).await?.is_some(),
        None => false,
    };
    if !local && !logged_in {
        return Ok(Redirect::to("/login").into_response());
    }
    let body = prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .map_err(|e| AppError::Internal(format!("metrics: {e}")))?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/app.css"),
    )
}

/// Sets the language cookie and goes back to the page the user came from (only a local path).
pub async fn switch_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let locale = Locale::parse(&code).unwrap_or_default();
    let back = headers
        .get(REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/search".into());
    with_cookie(
        Redirect::to(&back).into_response(),
        set_cookie(
            LANG_COOKIE,
            locale.code(),
            365 * 24 * 3600,
            state.secure_cookies,
        ),
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    error: Option<&'a str>,
}

fn login_page(
    state: &AppState,
    locale: Locale,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let csrf = random_token();
    let t = locale.messages();
    let html = LoginPage {
        t,
        user: None,
        is_admin: false,
        csrf: &csrf,
        error: error.map(|k| t.get(k)),
    }
    .render()?;
    Ok(with_cookie(
        (status, Html(html)).into_response(),
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, state.secure_cookies),
    ))
}

pub async fn login_form(
    State(state): State<AppState>,
    UserLocale(locale): UserLocale,
) -> Result<Response, AppError> {
    login_page(&state, locale, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    State(state): State<AppState>,
    UserLocale(locale): UserLocale,
    client: ClientInfo,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Ok(Form(form)) = form else {
        return login_page(
            &state,
            locale,
            Some("login.failed"),
            StatusCode::BAD_REQUEST,
        );
    };
    let expected_csrf = client.login_csrf.unwrap_or_default();
    if expected_csrf.is_empty() || !tokens_equal(&expected_csrf, &form.csrf) {
        return Err(AppError::Csrf);
    }
    let remote = client.remote;
    let username = form.username.trim();
    let addr = remote.clone().unwrap_or_default();
    let keys = [username, addr.as_str()];
    if state.limiter.locked(&keys) {
        state
            .store
            .audit(username, "login_locked", None, None, remote.as_deref())
            .await?;
        return login_page(
            &state,
            locale,
            Some("login.locked"),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = state.store.user(username).await?;
    // Verify against a dummy hash for unknown users so timing does not reveal which names exist.
    let hash = user
        .as_ref()
        .map_or(DUMMY_HASH.as_str(), |u| u.password_hash.as_str());
    let ok = verify_password(hash, &form.password) && user.as_ref().is_some_and(|u| !u.disabled);
    let Some(user) = user.filter(|_| ok) else {
        state.limiter.fail(&keys);
        state
            .store
            .audit(username, "login_failed", None, None, remote.as_deref())
            .await?;
        return login_page(
            &state,
            locale,
            Some("login.failed"),
            StatusCode::UNAUTHORIZED,
        );
    };
    state.limiter.succeed(&keys);
    let token = random_token();
    state
        .store
        .create_session(
            &token,
            user.id,
            &random_token(),
            chrono::Duration::hours(SESSION_TTL_HOURS),
        )
        .await?;
    state
        .store
        .audit(&user.username, "login", None, None, remote.as_deref())
        .await?;
    Ok(with_cookie(
        Redirect::to("/search").into_response(),
        set_cookie(
            SESSION_COOKIE,
            &token,
            SESSION_TTL_HOURS * 3600,
            state.secure_cookies,
        ),
    ))
}

/// An argon2 hash of a random string, verified against when the username does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::auth::hash_password(&random_token()).unwrap_or_default());

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    let token = client.session_token.unwrap_or_default();
    state.store.delete_session(&token).await?;
    state
        .store
        .audit(
            &user.user.username,
            "logout",
            None,
            None,
            user.remote.as_deref(),
        )
        .await?;
    Ok(with_cookie(
        Redirect::to("/login").into_response(),
        set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies),
    ))
}

#[derive(Deserialize, Default, Clone)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    flagged: Option<String>,
    #[serde(default)]
    kalbar: Option<String>,
    #[serde(default)]
    level: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    indicator: String,
    #[serde(default)]
    lead: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    sort: String,
}

/// The search the page, its exports and the API ask for, as query-string parameters.
impl SearchParams {
    fn flagged_only(&self) -> bool {
        self.flagged.as_deref() == Some("1")
    }

    fn kalbar_only(&self) -> bool {
        self.kalbar.as_deref() == Some("1")
    }

    /// The filters that take a value, by query-string key.
    fn valued(&self) -> [(&'static str, &str); 10] {
        [
            ("level", &self.level),
            ("source", &self.source),
            ("destination", &self.destination),
            ("place", &self.place),
            ("language", &self.language),
            ("indicator", &self.indicator),
            ("lead", &self.lead),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
        ]
    }

    /// The page asked for (1 when none).
    pub(crate) fn page(&self) -> usize {
        self.page.unwrap_or(1)
    }

    /// The search request these parameters ask for, `per_page` results on page `page`; a date,
    /// lead status or order that does not parse is a bad query, with the fix in its hint.
    fn request(&self, page: usize, per_page: usize) -> Result<SearchRequest, SearchError> {
        let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let date = |v: &str| some(v).map(|d| parse_date(&d)).transpose();
        let lead_status = match some(&self.lead) {
            None => None,
            Some(l) => Some(LeadStatus::parse(&l).ok_or_else(|| SearchError::BadQuery {
                message: format!("there is no lead status {l:?}"),
                hint: "Use new, in_review, escalated or closed.".into(),
            })?),
        };
        let sort = match some(&self.sort) {
            None => Sort::default(),
            Some(s) => Sort::parse(&s).ok_or_else(|| SearchError::BadQuery {
                message: format!("there is no order {s:?}"),
                hint: "Use relevance, score or recent.".into(),
            })?,
        };
        Ok(SearchRequest {
            query: self.q.clone(),
            limit: per_page,
            offset: (page - 1) * per_page,
            flagged_only: self.flagged_only(),
            kalbar_only: self.kalbar_only(),
            level: some(&self.level),
            source: some(&self.source),
            destination: some(&self.destination),
            place: some(&self.place),
            language: some(&self.language),
            indicator: some(&self.indicator),
            lead_status,
            from: date(&self.from)?,
            to: date(&self.to)?,
            sort,
        })
    }

    /// Runs the search for `per_page` results on page `page`, off the async executor (tantivy's
    /// work is CPU-bound) and at most one per core at a time. A bad query is
    /// `AppError::BadInput` with its hint.
    pub(crate) async fn search(
        &self,
        state: &AppState,
        page: usize,
        per_page: usize,
    ) -> Result<SearchResults, AppError> {
        let request = self.request(page, per_page)?;
        let index = state.index.clone();
        let _turn = state
            .searches
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(tokio::task::spawn_blocking(move || index.search(&request))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??)
    }

    /// The search as the audit log records it: the query and every filter set.
    pub(crate) fn audit_detail(&self) -> String {
        let mut detail = format!(
            "q={:?} flagged={} kalbar={}",
            self.q,
            self.flagged_only(),
            self.kalbar_only()
        );
        for (key, value) in self.valued() {
            if !value.is_empty() {
                detail.push_str(&format!(" {key}={value:?}"));
            }
        }
        detail
    }

    /// The query string of the same search with `changes` applied (key, value; an empty value
    /// clears the filter), without the page.
    fn query_with(
        &self,
        changes: &[(&str, &str)],
    ) -> url::form_urlencoded::Serializer<'static, String> {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("q", &self.q);
        for (key, on) in [
            ("flagged", self.flagged_only()),
            ("kalbar", self.kalbar_only()),
        ] {
            if on {
                s.append_pair(key, "1");
            }
        }
        for (key, value) in self.valued() {
            let value = changes
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(value, |(_, v)| *v);
            if !value.is_empty() {
                s.append_pair(key, value);
            }
        }
        s
    }

    /// The link to the same search with `changes` applied on `page`.
    fn link_with(&self, changes: &[(&str, &str)], page: usize) -> String {
        let mut s = self.query_with(changes);
        s.append_pair("page", &page.to_string());
        format!("/search?{}", s.finish())
    }

    /// The link that downloads every result of this search (all pages) as `format`: `csv` or
    /// `jsonl`.
    fn export_link(&self, format: &str) -> String {
        format!("/search/export.{format}?{}", self.query_with(&[]).finish())
    }

    /// The link to another page of the same search.
    fn link(&self, page: usize) -> String {
        self.link_with(&[], page)
    }
}

/// One value of a facet: its label with the count, and the link that filters by it (or, when it
/// is the active filter, clears it).
struct FacetView {
    label: String,
    count: usize,
    link: String,
    active: bool,
}

/// A titled group of facet values.
struct FacetGroup {
    title: String,
    values: Vec<FacetView>,
}

/// The facet group of query-string `key`: each value links to the search narrowed to it (or, if
/// it is the current filter, widened again). Values are shown as they are, or through the
/// catalogue under `labels` (`status.escalated`, `country.MY`) when it has them.
fn facet_group(
    t: &Messages,
    params: &SearchParams,
    key: &str,
    counts: &[(String, usize)],
    labels: Option<&str>,
) -> FacetGroup {
    let current = params
        .valued()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, v)| v);
    FacetGroup {
        title: t.get(&format!("search.{key}")).to_string(),
        values: counts
            .iter()
            .map(|(value, count)| {
                let active = value == current;
                FacetView {
                    label: match labels {
                        Some(prefix) => t
                            .lookup(&format!("{prefix}.{value}"))
                            .unwrap_or(value)
                            .to_string(),
                        None => value.clone(),
                    },
                    count: *count,
                    link: params.link_with(&[(key, if active { "" } else { value })], 1),
                    active,
                }
            })
            .collect(),
    }
}

/// A piece of text, highlighted or not.
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) mark: Option<String>,
}

struct HitView {
    id: u64,
    title: String,
    level: String,
    level_label: String,
    score: String,
    source: String,
    date: String,
    lead_status: String,
    lead_label: String,
    destinations: String,
    snippet: Vec<Piece>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    params: &'a SearchParams,
    total: usize,
    hits: Vec<HitView>,
    error: Option<String>,
    prev: Option<String>,
    next: Option<String>,
    /// (level, label with its count)
    levels: Vec<(String, String)>,
    sources: Vec<String>,
    sorts: Vec<(&'static str, &'a str)>,
    languages: Vec<(&'static str, &'a str)>,
    lead_statuses: Vec<(&'static str, &'a str)>,
    facets: Vec<FacetGroup>,
    /// The corrected query the results are for, when the typed one found nothing.
    corrected: Option<String>,
    /// Links that download every result of this search.
    export_csv: String,
    export_jsonl: String,
    /// Whether this user's role works leads, and so gets the bulk-action form.
    can_act: bool,
    /// This search's link, to come back to after a bulk action.
    back: String,
    /// Active officers and admins, to assign leads to.
    officers: Vec<String>,
    targets: Vec<(&'static str, &'a str)>,
    reasons: Vec<(&'static str, &'a str)>,
    max_bulk: usize,
    /// What the last bulk action did, and the leads it left alone.
    notice: Option<Notice>,
    skipped: Vec<SkippedView>,
}

/// `(key, message of "{prefix}.{key}")` for each of `keys`, for a select's options.
fn labelled(
    t: &'static Messages,
    prefix: &str,
    keys: &[&'static str],
) -> Vec<(&'static str, &'static str)> {
    keys.iter()
        .map(|k| (*k, t.get_owned(&format!("{prefix}.{k}"))))
        .collect()
}

/// A title for a post without one (channel messages): its first words.
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(8).collect();
    let more = text.split_whitespace().nth(8).is_some();
    format!("{}{}", words.join(" "), if more { " …" } else { "" })
}

/// Splits `text` into pieces by byte `ranges` (sorted, non-overlapping after clipping).
pub(crate) fn pieces(text: &str, ranges: &[(usize, usize, String)]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = 0;
    for (s, e, label) in ranges {
        let (s, e) = ((*s).max(pos), (*e).min(text.len()));
        if s >= e || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        if s > pos {
            out.push(Piece {
                text: text[pos..s].to_string(),
                mark: None,
            });
        }
        out.push(Piece {
            text: text[s..e].to_string(),
            mark: Some(label.clone()),
        });
        pos = e;
    }
    if pos < text.len() {
        out.push(Piece {
            text: text[pos..].to_string(),
            mark: None,
        });
    }
    out
}

pub async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<SearchParams>,
    Query(outcome): Query<bulk::Outcome>,
) -> Result<Response, AppError> {
    let t = user.locale.messages();
    let page = params.page().clamp(1, MAX_PAGE);
    let result = params.search(&state, page, PAGE_SIZE).await;
    user.actor()
        .audit(
            &state.store,
            "search",
            None,
            Some(&format!("{} page={page}", params.audit_detail())),
        )
        .await?;
    let (results, error, status) = match result {
        Ok(r) => (Some(r), None, StatusCode::OK),
        Err(AppError::BadInput { message, hint, .. }) => (
            None,
            Some(format!("{}: {message}. {hint}", t.get("search.bad_query"))),
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => return Err(e),
    };
    let (total, hits, facets, corrected) = match results {
        Some(r) => (r.total, r.hits, r.facets, r.corrected),
        None => (0, Vec::new(), Default::default(), None),
    };
    let hits = hits
        .into_iter()
        .map(|h| {
            let ranges: Vec<_> = h
                .snippet
                .highlights
                .iter()
                .map(|r| (r.start, r.end, String::new()))
                .collect();
            HitView {
                id: h.id,
                title: if h.title.is_empty() {
                    first_words(&h.snippet.text)
                } else {
                    h.title
                },
                level_label: t.get(&format!("level.{}", h.level)).to_string(),
                level: h.level,
                score: format!("{:.2}", h.score),
                source: h.source,
                date: h
                    .date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                lead_label: t.get(&format!("status.{}", h.lead_status)).to_string(),
                lead_status: h.lead_status,
                destinations: h
                    .destinations
                    .iter()
                    .map(|c| t.lookup(&format!("country.{c}")).unwrap_or(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                snippet: pieces(&h.snippet.text, &ranges),
            }
        })
        .collect();
    let levels = facets
        .levels
        .iter()
        .map(|(level, n)| {
            let label = format!("{} ({n})", t.get(&format!("level.{level}")));
            (level.clone(), label)
        })
        .collect();
    let facets = [
        ("destination", &facets.destinations, Some("country")),
        ("place", &facets.places, None),
        ("lead", &facets.lead_statuses, Some("status")),
        ("language", &facets.languages, Some("language")),
        ("indicator", &facets.indicators, None),
    ]
    .into_iter()
    .filter(|(_, counts, _)| !counts.is_empty())
    .map(|(key, counts, labels)| facet_group(t, &params, key, counts, labels))
    .collect();
    let can_act = LEAD_WORKERS.contains(&user.user.role.as_str());
    let officers = if can_act {
        state
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled && LEAD_WORKERS.contains(&u.role.as_str()))
            .map(|u| u.username)
            .collect()
    } else {
        Vec::new()
    };
    let (notice, skipped) = match outcome.notice(t) {
        Some((notice, skipped)) => (Some(notice), skipped),
        None => (None, Vec::new()),
    };
    let html = SearchPage {
        t,
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        params: &params,
        total,
        hits,
        error,
        prev: (page > 1).then(|| params.link(page - 1)),
        next: (page * PAGE_SIZE < total && page < MAX_PAGE).then(|| params.link(page + 1)),
        levels,
        sources: state.store.source_ids().await?,
        sorts: labelled(t, "sort", &["relevance", "score", "recent"]),
        languages: labelled(t, "language", &LANGUAGES),
        lead_statuses: labelled(t, "status", LEAD_STATUSES),
        facets,
        corrected,
        export_csv: params.export_link("csv"),
        export_jsonl: params.export_link("jsonl"),
        can_act,
        back: params.link(page),
        officers,
        targets: labelled(t, "target", ESCALATION_TARGETS),
        reasons: labelled(t, "reason", CLOSE_REASONS),
        max_bulk: bulk::MAX_BULK_LEADS,
        notice,
        skipped,
    }
    .render()?;
    Ok((status, Html(html)).into_response())
}

pub(crate) struct IndicatorView {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) weight: String,
    pub(crate) counted: bool,
    pub(crate) matches: Vec<String>,
}

#[derive(Template)]
#[template(path = "lead.html")]
struct LeadPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    id: i64,
    title: String,
    url: Option<String>,
    source: String,
    legal_basis: String,
    author: String,
    published: String,
    first_seen: String,
    last_seen: String,
    text: Vec<Piece>,
    verdict: Option<VerdictView>,
    snapshots: Vec<SnapshotInfo>,
    network: Vec<NetworkView>,
    /// The repost-cluster sentence, when the text was posted more than once.
    reposts: Option<String>,
    status: String,
    status_label: String,
    assignee: String,
    history: Vec<LeadEvent>,
    /// The officers' latest mark of a true or false positive.
    judgement: Option<JudgementView>,
    /// Whether this user's role may change the lead.
    can_act: bool,
    statuses: Vec<(&'static str, &'a str)>,
    targets: Vec<(&'static str, &'a str)>,
    reasons: Vec<(&'static str, &'a str)>,
    /// (judgement, label) for the marking buttons.
    judgements: Vec<(&'static str, &'a str)>,
}

/// A lead's mark as the lead page shows it.
struct JudgementView {
    /// `illegal_recruitment` or `not_illegal`.
    kind: &'static str,
    label: String,
    /// Who marked it, and when.
    by: String,
}

struct NetworkView {
    id: i64,
    title: String,
    shared: String,
}

/// A verdict as the lead page and the rules playground show it.
pub(crate) struct VerdictView {
    pub(crate) score: String,
    pub(crate) level: String,
    pub(crate) level_label: String,
    pub(crate) flagged: bool,
    pub(crate) kalbar: bool,
    pub(crate) places: String,
    pub(crate) destinations: String,
    pub(crate) ruleset: String,
    pub(crate) indicators: Vec<IndicatorView>,
    pub(crate) contacts: String,
    pub(crate) pay: String,
}

pub(crate) fn verdict_view(t: &Messages, v: &Verdict) -> VerdictView {
    VerdictView {
        score: format!("{:.2}", v.score),
        level: v.level.as_str().to_string(),
        level_label: t.get(&format!("level.{}", v.level.as_str())).to_string(),
        flagged: v.flagged,
        kalbar: v.kalbar,
        places: v
            .places
            .iter()
            .map(|p| &*p.name)
            .collect::<Vec<_>>()
            .join(", "),
        destinations: v
            .destinations
            .iter()
            .map(|d| &*d.name)
            .collect::<Vec<_>>()
            .join(", "),
        ruleset: v.ruleset_version.to_string(),
        contacts: v
            .entities
            .iter()
            .map(|e| format!("{} {}", format!("{:?}", e.kind).to_lowercase(), e.value))
            .collect::<Vec<_>>()
            .join(", "),
        pay: v
            .salaries
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        indicators: v
            .indicators
            .iter()
            .map(|i| IndicatorView {
                id: i.id.to_string(),
                description: i.description.to_string(),
                weight: format!("{:+.2}", i.weight),
                counted: i.counted,
                matches: i.matches.iter().map(|m| m.text.clone()).collect(),
            })
            .collect(),
    }
}

/// Marks for the post text: the first indicator to claim a byte wins, overlaps are clipped.
pub(crate) fn marks(v: &Verdict) -> Vec<(usize, usize, String)> {
    let mut ranges: Vec<(usize, usize, String)> = v
        .indicators
        .iter()
        .flat_map(|i| {
            i.matches
                .iter()
                .map(move |m| (m.start, m.end, format!("{}: {}", i.id, i.description)))
        })
        .collect();
    ranges.sort_by_key(|r| (r.0, std::cmp::Reverse(r.1)));
    ranges
}

pub async fn lead(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let t = user.locale.messages();
    let Ok(id) = id.parse::<i64>() else {
        return Ok(AppError::NotFound.into_page(user.locale));
    };
    let data = match leads::load(&state, &user.actor(), id).await {
        Ok(data) => data,
        Err(e) => return Ok(e.into_page(user.locale)),
    };
    let network = data
        .network
        .into_iter()
        .map(|l| NetworkView {
            id: l.post_id,
            title: l.title.unwrap_or_else(|| format!("#{}", l.post_id)),
            shared: l
                .shared
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let lead = data.lead;
    let status_text = match (&lead.escalated_to, &lead.closed_reason) {
        (Some(unit), _) => format!(
            "{}: {}",
            t.get(&format!("status.{}", lead.status.as_str())),
            t.get(&format!("target.{unit}"))
        ),
        (_, Some(reason)) => format!(
            "{}: {}",
            t.get(&format!("status.{}", lead.status.as_str())),
            t.get(&format!("reason.{reason}"))
        ),
        _ => t
            .get(&format!("status.{}", lead.status.as_str()))
            .to_string(),
    };
    let judgement = lead.judgement.as_ref().map(|j| JudgementView {
        kind: j.judgement.label(),
        label: t
            .get(&format!("judgement.{}", j.judgement.label()))
            .to_string(),
        by: t
            .get("lead.judged_by")
            .replace("{who}", &j.by)
            .replace("{at}", &when(Some(j.at))),
    });
    let reposts = data.cluster.map(|c| {
        t.get("lead.reposts")
            .replace("{posts}", &c.posts.len().to_string())
            .replace("{sources}", &c.sources.to_string())
            .replace("{sightings}", &c.sightings.to_string())
            .replace("{first}", &c.first_seen.format("%Y-%m-%d").to_string())
            .replace("{last}", &c.last_seen.format("%Y-%m-%d").to_string())
    });
    let post = data.post;
    let text = pieces(
        &data.classified_text,
        &post.verdict.as_ref().map(marks).unwrap_or_default(),
    );
    let html = LeadPage {
        t,
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        id,
        title: post.title.clone().unwrap_or_else(|| format!("#{id}")),
        url: Some(post.url.clone())
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        source: post.source_id.clone(),
        legal_basis: data.legal_basis,
        author: post.author.clone().unwrap_or_else(|| "–".into()),
        published: when(post.published_at),
        first_seen: when(Some(post.first_seen)),
        last_seen: when(Some(post.last_seen)),
        text,
        verdict: post.verdict.as_ref().map(|v| verdict_view(t, v)),
        snapshots: data.snapshots,
        network,
        reposts,
        status: lead.status.as_str().to_string(),
        status_label: status_text,
        assignee: lead
            .assignee
            .unwrap_or_else(|| t.get("lead.unassigned").to_string()),
        history: data.history,
        judgement,
        can_act: LEAD_WORKERS.contains(&user.user.role.as_str()),
        statuses: labelled(t, "status", LEAD_STATUSES),
        targets: labelled(t, "target", ESCALATION_TARGETS),
        reasons: labelled(t, "reason", CLOSE_REASONS),
        judgements: labelled(t, "judgement", &Judgement::ALL.map(Judgement::label)),
    }
    .render()?;
    Ok(Html(html).into_response())
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    entries: Vec<patroli_index::AuditEntry>,
}

/// Entries shown on the audit page (the CSV export has them all).
const AUDIT_PAGE_ROWS: i64 = 500;

/// The audit log, for admins only; viewing it is itself audited.
pub async fn audit(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    require_admin(&state, &user, "audit_view").await?;
    let entries = state.store.audit_entries(AUDIT_PAGE_ROWS).await?;
    let html = AuditPage {
        t: user.locale.messages(),
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        entries,
    }
    .render()?;
    Ok(Html(html).into_response())
}

/// The whole audit log as CSV, for admins only; the export is itself audited.
pub async fn audit_csv(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    require_admin(&state, &user, "audit_export").await?;
    let entries = state.store.audit_entries(i64::MAX).await?;
    let mut csv = String::from("id,at,actor,action,target,detail,remote\n");
    for e in entries.iter().rev() {
        let fields = [
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
            e.remote.clone().unwrap_or_default(),
        ];
        csv.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
    }
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"patroli-audit.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// A CSV field, quoted; a leading `=`, `+`, `-`, `@`, tab or carriage return is prefixed with
/// `'` so spreadsheet programs do not run crawled or typed text as a formula.
pub(crate) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Refuses (and audits the attempt) unless the user is an admin; audits `action` otherwise.
pub(crate) async fn require_admin(
    state: &AppState,
    user: &CurrentUser,
    action: &str,
) -> Result<(), AppError> {
    user.require_admin(state, action, None).await?;
    state
        .store
        .audit(
            &user.user.username,
            action,
            None,
            None,
            user.remote.as_deref(),
        )
        .await?;
    Ok(())
}

/// The evidence bundle of one post: raw snapshots, manifest with SHA-256 of every file, report.
pub async fn evidence(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    leads::evidence(&state, &user.actor(), id).await
}

#[derive(Deserialize)]
pub struct WorkflowForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    change: ChangeRequest,
}

/// Changes a lead: its status (with the unit escalated to or the reason closed), who handles
/// it, a note, or the officer's mark of a true or false positive. Recorded in the lead's
/// history and in the audit log.
pub async fn workflow(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<WorkflowForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    leads::change(&state, &user.actor(), id, &form.change).await?;
    Ok(Redirect::to(&format!("/leads/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("budi"), "\"budi\"");
        assert_eq!(csv_field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-2+3"), "\"'-2+3\"");
        assert_eq!(csv_field("\t=1"), "\"'\t=1\"");
    }

    #[test]
    fn pieces_split_and_clip_overlaps() {
        let p = pieces(
            "gaji besar di sarawak",
            &[
                (0, 4, "a".into()),
                (2, 10, "b".into()),
                (14, 21, "c".into()),
            ],
        );
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.text.as_str(), p.mark.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("gaji", Some("a")),
                (" besar", Some("b")),
                (" di ", None),
                ("sarawak", Some("c"))
            ]
        );
        // Ranges off char boundaries are skipped rather than panicking.
        let p = pieces("é", &[(1, 2, "x".into())]);
        assert_eq!(p.len(), 1);
    }
}
