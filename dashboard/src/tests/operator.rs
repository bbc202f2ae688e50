//! The operator page over HTTP: sources with their runs, errors and schedules; starting a run is
//! for admins only and needs a scheduler in the process.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use patroli_index::RunRecord;
use tokio::sync::mpsc;

use super::*;
use crate::{RunRequest, RunStart, SourceSummary};

const SCRIPT_SOURCE: &str = "<script>alert('src')</script>";

fn summaries() -> Vec<SourceSummary> {
    vec![
        SourceSummary {
            id: "s".into(),
            kind: "telegram".into(),
            schedule: Some("0 */15 * * * *".into()),
        },
        SourceSummary {
            id: SCRIPT_SOURCE.into(),
            kind: "feed".into(),
            schedule: None,
        },
    ]
}

async fn record_run(state: &AppState) {
    let started = Utc::now() - chrono::Duration::minutes(5);
    let errors = BTreeMap::from([
        ("robots".to_string(), 2),
        ("retry_after".to_string(), 1),
        ("timeout".to_string(), 3),
    ]);
    state
        .store
        .record_run(&RunRecord {
            source_id: "s".into(),
            started_at: started,
            finished_at: started + chrono::Duration::minutes(2),
            pages: 17,
            posts_new: 9,
            posts_seen: 4,
            errors,
            failures: Vec::new(),
            status: "ok".into(),
        })
        .await
        .unwrap();
    state
        .store
        .record_fetch_error(
            "s",
            "http://x.test/<b>lambat",
            "timeout",
            "timed out after 30 s",
        )
        .await
        .unwrap();
}

/// A stand-in for the scheduler: knows source `s`, which stays running once started. Returns
/// the sender for the dashboard and the ids it was asked for.
fn fake_scheduler() -> (mpsc::Sender<RunRequest>, Arc<Mutex<Vec<String>>>) {
    let (tx, mut rx) = mpsc::channel::<RunRequest>(4);
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    tokio::spawn(async move {
        let mut running = HashSet::new();
        while let Some(request) = rx.recv().await {
            log.lock().unwrap().push(request.source_id.clone());
            let answer = if request.source_id != "s" {
                RunStart::UnknownSource
            } else if running.insert(request.source_id) {
                RunStart::Started
            } else {
                RunStart::AlreadyRunning
            };
            let _ = request.reply.send(answer);
        }
    });
    (tx, asked)
}

async fn admin(state: &AppState) -> (String, String) {
    state
        .store
        .add_user(
            "kapolres",
            "admin",
            &hash_password("sandi-admin-1").unwrap(),
        )
        .await
        .unwrap();
    let (_, cookie, _) = login(state, "kapolres", "sandi-admin-1").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/search", &cookie)).await;
    (cookie.clone(), hidden_csrf(&html))
}

fn start(cookie: &str, csrf: &str, source: &str) -> Request<Body> {
    post_form(
        "/operator/run",
        cookie,
        format!("csrf={csrf}&source={source}"),
    )
}

#[tokio::test]
async fn the_operator_page_shows_sources_runs_and_errors() {
    let f = fixture().await;
    let state = f.state.clone().with_sources(summaries());
    record_run(&state).await;
    let (_, officer, _) = login(&state, "budi", "sandi-rahasia").await;
    let (status, _, html) = send(&state, get("/operator", &officer.unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "<td>telegram</td>",
        "<code>0 */15 * * * *</code>",
        "<td>Berhasil</td><td>17</td><td>9</td><td>3</td><td>2</td><td>1</td>",
        "Tidak dijadwalkan oleh proses ini",
        "Tanpa jadwal (hanya manual)",
        "Belum pernah dijalankan.",
        "timed out after 30 s",
        "hanya admin yang dapat memulai",
        "berjalan tanpa penjadwal",
    ] {
        assert!(html.contains(shown), "{shown:?} in {html}");
    }
    assert!(
        !html.contains("action=\"/operator/run\""),
        "officers get no start button"
    );
    assert!(!html.contains("<script>") && !html.contains("<b>lambat"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
}

/// The table row of source `id` on the operator page.
fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("\">{id}</a>"))
        .unwrap_or_else(|| panic!("no row for {id:?} in {html}"));
    let start = html[..at].rfind("<tr>").unwrap();
    &html[start..at + html[at..].find("</tr>").unwrap()]
}

#[tokio::test]
async fn the_operator_page_shows_which_worker_runs_each_source_and_the_store() {
    let f = fixture().await;
    let mut sources = summaries();
    for id in ["some-source", "idle", "hostile"] {
        sources.push(SourceSummary {
            id: id.into(),
            kind: "generic".into(),
            schedule: None,
        });
    }
    let state = f.state.clone().with_sources(sources);
    let store = &state.store;
    let minute = std::time::Duration::from_secs(60);
    store
        .claim_run("some-source", "worker-a:42", minute)
        .await
        .unwrap();
    store
        .claim_run("hostile", "<i>host</i>:7", minute)
        .await
        .unwrap();
    // An expired lease is no worker running the source.
    store
        .claim_run("idle", "worker-b:9", std::time::Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, officer, _) = login(&state, "budi", "sandi-rahasia").await;
    let officer = officer.unwrap();

    let (status, _, html) = send(&state, get("/operator", &officer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Penyimpanan: SQLite (satu mesin)"), "{html}");
    let leased = row_of(&html, "some-source");
    assert!(
        leased.contains("Sedang dijalankan oleh worker worker-a:42 (sewa sampai "),
        "{leased}"
    );
    for id in ["s", "idle"] {
        let row = row_of(&html, id);
        assert!(
            !row.contains("worker") && !row.contains("class=\"running\""),
            "{id}: {row}"
        );
    }
    assert!(
        !html.contains("worker-b:9"),
        "an expired lease is not shown"
    );
    let hostile = row_of(&html, "hostile");
    assert!(!hostile.contains("<i>"), "{hostile}");
    assert!(
        hostile.contains("&#60;i&#62;host") || hostile.contains("&lt;i&gt;host"),
        "{hostile}"
    );

    let english = format!("{officer}; patroli_lang=en");
    let (_, _, html) = send(&state, get("/operator", &english)).await;
    assert!(html.contains("Storage: SQLite (one machine)"), "{html}");
    let leased = row_of(&html, "some-source");
    assert!(
        leased.contains("Running on worker worker-a:42 (lease until "),
        "{leased}"
    );
    assert!(!row_of(&html, "s").contains("worker"));
}

#[tokio::test]
async fn without_the_sources_file_the_store_s_sources_are_listed() {
    let f = fixture().await;
    let (_, officer, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let (status, _, html) = send(&f.state, get("/operator", &officer.unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("tercatat di basis data"), "{html}");
    assert!(
        html.contains("<a href=\"#source-1\">s</a></td><td>telegram</td>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_dashboard_without_a_scheduler_says_why_runs_cannot_start() {
    let f = fixture().await;
    let state = f.state.clone().with_sources(summaries());
    let (cookie, csrf) = admin(&state).await;
    let (_, _, html) = send(&state, get("/operator", &cookie)).await;
    assert!(
        html.contains("<button type=\"button\" disabled>Tidak tersedia: tanpa penjadwal</button>"),
        "{html}"
    );
    let (status, _, html) = send(&state, start(&cookie, &csrf, "s")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(html.contains("patroli run"), "{html}");
    let last = &state.store.audit_entries(1).await.unwrap()[0];
    assert_eq!(
        (last.action.as_str(), last.detail.as_deref()),
        ("run_start", Some("refused: operator.no_scheduler"))
    );
}

#[tokio::test]
async fn admins_start_runs_through_the_scheduler_and_others_are_refused() {
    let f = fixture().await;
    let (scheduler, asked) = fake_scheduler();
    let state = f
        .state
        .clone()
        .with_sources(summaries())
        .with_scheduler(scheduler);
    let (cookie, csrf) = admin(&state).await;

    let (_, _, html) = send(&state, get("/operator", &cookie)).await;
    assert!(
        html.contains("action=\"/operator/run\""),
        "admins get the button"
    );
    assert!(!html.contains("Tidak dijadwalkan oleh proses ini"));
    assert!(
        html.contains(" UTC</td>"),
        "the next scheduled run is shown"
    );

    let (status, _, _) = send(
        &state,
        post_form("/operator/run", &cookie, "source=s".into()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    assert!(asked.lock().unwrap().is_empty());

    let (status, h, _) = send(&state, start(&cookie, &csrf, "s")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/operator?done=run_started");
    let (_, _, html) = send(&state, get("/operator?done=run_started", &cookie)).await;
    assert!(html.contains("Crawl dimulai."));

    let (status, _, html) = send(&state, start(&cookie, &csrf, "s")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("masih berjalan"), "{html}");
    let (status, _, html) = send(&state, start(&cookie, &csrf, "hilang")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("tidak mengenal sumber itu"));

    let (_, officer, _) = login(&state, "budi", "sandi-rahasia").await;
    let officer = officer.unwrap();
    let (_, _, html) = send(&state, get("/search", &officer)).await;
    let officer_csrf = hidden_csrf(&html);
    let (status, _, _) = send(&state, start(&officer, &officer_csrf, "s")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        *asked.lock().unwrap(),
        ["s", "s", "hilang"],
        "the officer's request never reached the scheduler"
    );
    let entries: Vec<(String, String, Option<String>)> = state
        .store
        .audit_entries(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("run_start"))
        .map(|e| (e.actor, e.action, e.detail))
        .collect();
    assert_eq!(
        entries,
        [
            ("budi".into(), "run_start_refused".into(), None),
            (
                "kapolres".into(),
                "run_start".into(),
                Some("refused: operator.error.unknown".into())
            ),
            (
                "kapolres".into(),
                "run_start".into(),
                Some("refused: operator.error.running".into())
            ),
            (
                "kapolres".into(),
                "run_start".into(),
                Some("started".into())
            ),
        ]
    );
}
