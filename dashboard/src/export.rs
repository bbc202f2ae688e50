//! Lead exports: every result of a search (all pages), one row per post with its verdict and
//! lead state, as CSV (for spreadsheets) or JSON Lines (for other systems). The search page
//! links to them for logged-in users and the API serves them to token holders; both are audited
//! as `export`, with the search and the number of rows.

use std::collections::HashSet;

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use patroli_index::{MAX_LIMIT, PostRecord};
use serde::Serialize;

use crate::AppState;
use crate::auth::{Actor, CurrentUser};
use crate::error::AppError;
use crate::pages::{SearchParams, csv_field};

/// Most posts one export holds. A search that matches more is refused with a hint to narrow
/// it, rather than cut short without anyone noticing.
pub const MAX_EXPORT_ROWS: usize = 5_000;
/// Exports built at once by this process; each reads up to `MAX_EXPORT_ROWS` posts from the
/// store, so more are refused (429, try again) instead of queueing behind each other.
pub const CONCURRENT_EXPORTS: usize = 2;
/// How long a client refused for `CONCURRENT_EXPORTS` is told to wait.
const EXPORT_RETRY_SECS: u64 = 30;

/// What an export is written as.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson; charset=utf-8",
        }
    }
}

/// One exported post.
#[derive(Serialize, Default)]
struct Row {
    id: i64,
    url: String,
    title: String,
    source: String,
    published_at: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    removed_at: Option<DateTime<Utc>>,
    level: String,
    score: f64,
    flagged: bool,
    kalbar: bool,
    language: String,
    /// Ids of the indicators that fired.
    indicators: Vec<String>,
    /// Destinations named, as `place (country)`.
    destinations: Vec<String>,
    /// Kalbar places named, as `place (regency)`.
    places: Vec<String>,
    /// Contacts in the text, as `kind:value`.
    contacts: Vec<String>,
    lead_status: String,
    escalated_to: Option<String>,
    closed_reason: Option<String>,
    assignee: Option<String>,
    text: String,
}

impl Row {
    fn new(post: PostRecord, lead: patroli_index::Lead) -> Row {
        let v = post.verdict.as_ref();
        let list =
            |f: &dyn Fn(&patroli_classifier::Verdict) -> Vec<String>| v.map(f).unwrap_or_default();
        Row {
            id: post.id,
            url: post.url.clone(),
            title: post.title.clone().unwrap_or_default(),
            source: post.source_id.clone(),
            published_at: post.published_at,
            first_seen: post.first_seen,
            last_seen: post.last_seen,
            removed_at: post.removed_at,
            level: v.map_or("none", |v| v.level.as_str()).to_string(),
            score: v.map_or(0.0, |v| v.score),
            flagged: v.is_some_and(|v| v.flagged),
            kalbar: v.is_some_and(|v| v.kalbar),
            language: v.map_or("unknown", |v| v.lang.as_str()).to_string(),
            indicators: list(&|v| v.indicator_ids().map(str::to_string).collect()),
            destinations: list(&|v| {
                v.destinations
                    .iter()
                    .map(|d| format!("{} ({})", d.name, d.country))
                    .collect()
            }),
            places: list(&|v| {
                v.places
                    .iter()
                    .map(|p| format!("{} ({})", p.name, p.regency))
                    .collect()
            }),
            contacts: list(&|v| {
                v.entities
                    .iter()
                    .map(|e| {
                        let kind = serde_json::to_value(e.kind).unwrap_or_default();
                        format!("{}:{}", kind.as_str().unwrap_or_default(), e.value)
                    })
                    .collect()
            }),
            lead_status: lead.status.as_str().to_string(),
            escalated_to: lead.escalated_to,
            closed_reason: lead.closed_reason,
            assignee: lead.assignee,
            text: post.text,
        }
    }

    /// The CSV cells, by column name; lists are joined with `; `. A test checks that the names
    /// are the JSON Lines keys.
    fn cells(&self) -> [(&'static str, String); 22] {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        [
            ("id", self.id.to_string()),
            ("url", self.url.clone()),
            ("title", self.title.clone()),
            ("source", self.source.clone()),
            ("published_at", time(self.published_at)),
            ("first_seen", time(Some(self.first_seen))),
            ("last_seen", time(Some(self.last_seen))),
            ("removed_at", time(self.removed_at)),
            ("level", self.level.clone()),
            ("score", format!("{:.3}", self.score)),
            ("flagged", self.flagged.to_string()),
            ("kalbar", self.kalbar.to_string()),
            ("language", self.language.clone()),
            ("indicators", self.indicators.join("; ")),
            ("destinations", self.destinations.join("; ")),
            ("places", self.places.join("; ")),
            ("contacts", self.contacts.join("; ")),
            ("lead_status", self.lead_status.clone()),
            ("escalated_to", opt(&self.escalated_to)),
            ("closed_reason", opt(&self.closed_reason)),
            ("assignee", opt(&self.assignee)),
            ("text", self.text.clone()),
        ]
    }
}

/// Writes `rows` as `format`: CSV with a header line and every cell quoted and never a
/// formula, or one JSON object per line.
fn render(rows: &[Row], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Csv => {
            let line = |cells: &mut dyn Iterator<Item = String>| {
                cells.collect::<Vec<_>>().join(",") + "\n"
            };
            let header = Row::default().cells().map(|(k, _)| k.to_string());
            out.push_str(&line(&mut header.into_iter()));
            for row in rows {
                out.push_str(&line(&mut row.cells().iter().map(|(_, v)| csv_field(v))));
            }
        }
        Format::Jsonl => {
            for row in rows {
                out.push_str(&serde_json::to_string(row).expect("a row serialises"));
                out.push('\n');
            }
        }
    }
    out
}

/// Exports every result of the search `params` describes as `format`, for `actor`. Refuses a
/// search that matches more than `MAX_EXPORT_ROWS` posts, and a request while
/// `CONCURRENT_EXPORTS` others are being built.
pub async fn export(
    state: &AppState,
    actor: &Actor<'_>,
    params: &SearchParams,
    format: Format,
) -> Result<Response, AppError> {
    let Ok(_slot) = state.exports.try_acquire() else {
        return Err(AppError::Busy {
            message: format!("{CONCURRENT_EXPORTS} exports are being built already"),
            retry_after_secs: EXPORT_RETRY_SECS,
        });
    };
    let first = params.search(state, 1, MAX_LIMIT).await?;
    if first.total > MAX_EXPORT_ROWS {
        return Err(AppError::BadInput {
            key: "error.export_too_large",
            message: format!(
                "the search matches {} posts; an export holds at most {MAX_EXPORT_ROWS}",
                first.total
            ),
            hint: "Narrow the search (from/to dates, level, source, lead status) and export in \
                   parts."
                .into(),
        });
    }
    // The index may commit between pages; ids already taken are skipped, so a post that moved
    // between pages is not exported twice.
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let mut hits = first.hits;
    let mut page = 1;
    loop {
        let got = hits.len();
        ids.extend(hits.into_iter().map(|h| h.id).filter(|id| seen.insert(*id)));
        if got < MAX_LIMIT || page * MAX_LIMIT >= first.total {
            break;
        }
        page += 1;
        hits = params.search(state, page, MAX_LIMIT).await?.hits;
    }
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id as i64;
        // A post is never deleted from the store; a missing one means the index is ahead of a
        // restored store, and the export says nothing of it rather than fail.
        if let Some(post) = state.store.post(id).await? {
            rows.push(Row::new(post, state.store.lead(id).await?));
        }
    }
    let body = render(&rows, format);
    actor
        .audit(
            &state.store,
            "export",
            None,
            Some(&format!(
                "{} {} rows: {}",
                format.extension(),
                rows.len(),
                params.audit_detail()
            )),
        )
        .await?;
    let filename = format!(
        "patroli-leads-{}.{}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    );
    Ok((
        [
            (CONTENT_TYPE, format.content_type().to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// The search page's CSV download of every result.
pub async fn page_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<SearchParams>,
) -> Response {
    export(&state, &user.actor(), &params, Format::Csv)
        .await
        .unwrap_or_else(|e| e.into_page(user.locale))
}

/// The search page's JSON Lines download of every result.
pub async fn page_jsonl(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<SearchParams>,
) -> Response {
    export(&state, &user.actor(), &params, Format::Jsonl)
        .await
        .unwrap_or_else(|e| e.into_page(user.locale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> Row {
        Row {
            id: 7,
            url: "https://x.test/7".into(),
            title: "=HYPERLINK(\"http://evil\")".into(),
            source: "s".into(),
            published_at: None,
            first_seen: DateTime::default(),
            last_seen: DateTime::default(),
            removed_at: None,
            level: "high".into(),
            score: 0.8,
            flagged: true,
            kalbar: true,
            language: "id_ms".into(),
            indicators: vec!["route.jalan_tikus".into(), "doc.paspor".into()],
            destinations: vec!["Kuching (Malaysia)".into()],
            places: vec![],
            contacts: vec!["whatsapp:+628123".into()],
            lead_status: "new".into(),
            escalated_to: None,
            closed_reason: None,
            assignee: None,
            text: text.into(),
        }
    }

    #[test]
    fn csv_columns_are_the_json_keys() {
        let r = row("x");
        let json = serde_json::to_value(&r).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns: Vec<&str> = r.cells().iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(columns, keys);
    }

    #[test]
    fn csv_quotes_every_cell_and_neutralises_formulas() {
        let csv = render(&[row("@SUM(A1)\n\"baris dua\"")], Format::Csv);
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().starts_with("id,url,title,source,"));
        assert!(
            csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
            "{csv}"
        );
        assert!(csv.contains("\"'@SUM(A1)\n\"\"baris dua\"\"\""), "{csv}");
        assert!(csv.contains("\"route.jalan_tikus; doc.paspor\""), "{csv}");
        assert!(
            render(&[], Format::Csv).starts_with("id,url,"),
            "a header even when empty"
        );
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let out = render(&[row("a\nb"), row("</script>")], Format::Jsonl);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["text"], "</script>");
        assert_eq!(second["indicators"][1], "doc.paspor");
    }
}
