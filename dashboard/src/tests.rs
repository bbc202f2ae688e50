//! HTTP-level tests of the dashboard against a temporary store and index.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use patroli_crawler::{CollectedPost, Snapshot};
use patroli_index::{SearchIndex, Store};
use tower::ServiceExt;

use crate::{AppState, hash_password, router};

mod rules;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
}

const HOSTILE: &str = "<script>alert('x')</script><img src=x onerror=alert(1)> <a href=\"javascript:alert(2)\">klik</a> &lt;b&gt; <style>body{display:none}</style> Lowongan sawit";

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .add_user("budi", "officer", &hash_password("sandi-rahasia").unwrap())
        .await
        .unwrap();
    store
        .upsert_source("s", "telegram", "Public channel; KUHAP art. 5")
        .await
        .unwrap();
    let snapshot = Snapshot {
        requested_url: "http://x.test/".into(),
        final_url: "http://x.test/".into(),
        status: 200,
        headers: vec![],
        body: b"<html>evidence</html>".to_vec(),
        sha256: "0".repeat(64),
        fetched_at: Utc::now(),
    };
    let post = CollectedPost {
        source_id: "s".into(),
        url: "javascript:alert(3)".into(),
        external_id: Some("1".into()),
        title: Some("<b onmouseover=alert(4)>Judul</b>".into()),
        text: HOSTILE.into(),
        author: None,
        location: None,
        published: None,
    };
    let saved = store.save_page(&snapshot, &[post]).await.unwrap();
    store
        .save_verdict(saved[0].0, &fixture_verdict())
        .await
        .unwrap();
    let index =
        Arc::new(SearchIndex::open(&dir.path().join("index"), &Default::default()).unwrap());
    index.rebuild(&store).await.unwrap();
    Fixture {
        state: AppState::new(store, index, rules::active_rules(), false)
            .with_corpus(rules::corpus()),
        _dir: dir,
    }
}

/// A medium-risk verdict naming Malaysia and a place in Sambas.
fn fixture_verdict() -> patroli_classifier::Verdict {
    use patroli_classifier::{DestinationMatch, Lang, Level, PlaceMatch, Span, Verdict};
    let span = Span {
        start: 0,
        end: 0,
        text: String::new(),
    };
    Verdict {
        score: 0.3,
        level: Level::Low,
        flagged: false,
        lang: Lang::IdMs,
        kalbar: false,
        indicators: Vec::new(),
        places: vec![PlaceMatch {
            name: "Aruk".into(),
            kind: "border_post".into(),
            regency: "Sambas".into(),
            span: span.clone(),
        }],
        destinations: vec![DestinationMatch {
            name: "Kuching".into(),
            country: "Malaysia".into(),
            span,
        }],
        entities: Vec::new(),
        salaries: Vec::new(),
        ruleset_version: "test".into(),
    }
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = router(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn set_cookie_value(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|r| r.split(';').next().unwrap().to_string())
        })
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_string()
}

/// Logs in and returns the cookie header to send afterwards.
async fn login(
    state: &AppState,
    user: &str,
    password: &str,
) -> (StatusCode, Option<String>, String) {
    let (_, h, html) = send(state, get("/login", "")).await;
    let pre = set_cookie_value(&h, "patroli_login_csrf").unwrap();
    let body = format!(
        "username={user}&password={password}&csrf={}",
        hidden_csrf(&html)
    );
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("patroli_login_csrf={pre}"))
        .body(Body::from(body))
        .unwrap();
    let (status, h, body) = send(state, req).await;
    (
        status,
        set_cookie_value(&h, "patroli_session").map(|s| format!("patroli_session={s}")),
        body,
    )
}

#[tokio::test]
async fn every_page_needs_a_login() {
    let f = fixture().await;
    for path in ["/search?q=sawit", "/leads/1", "/search"] {
        let (status, h, _) = send(&f.state, get(path, "")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(h[header::LOCATION], "/login");
        let (status, _, _) = send(&f.state, get(path, "patroli_session=forged")).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "{path} with a forged session"
        );
    }
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_is_said_so_not_hidden() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    f.state.store.close().await;
    for path in ["/search?q=sawit", "/leads/1"] {
        let (status, headers, html) = send(&f.state, get(path, &cookie)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(headers[header::RETRY_AFTER], "10");
        assert!(
            html.contains("Basis data Patroli tidak dapat dihubungi"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn login_search_and_lead_are_audited() {
    let f = fixture().await;
    let (status, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.unwrap();
    let (status, _, html) = send(&f.state, get("/search?q=sawit", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/leads/1\""), "{html}");
    assert!(
        html.contains("Cari unggahan"),
        "Bahasa Indonesia by default"
    );
    let (status, _, _) = send(&f.state, get("/leads/1", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, html) = send(&f.state, get("/leads/999", &cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("tidak ditemukan"));
    let actions: Vec<String> = f
        .state
        .store
        .audit_entries(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["view_lead", "search", "login"]);
}

#[tokio::test]
async fn wrong_passwords_fail_and_lock_out() {
    let f = fixture().await;
    let (status, cookie, html) = login(&f.state, "budi", "salah").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert!(html.contains("salah"));
    for _ in 0..5 {
        login(&f.state, "budi", "salah").await;
    }
    let (status, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie.is_none());
}

#[tokio::test]
async fn login_without_the_csrf_token_is_refused() {
    let f = fixture().await;
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=budi&password=sandi-rahasia&csrf=abc"))
        .unwrap();
    let (status, h, _) = send(&f.state, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(set_cookie_value(&h, "patroli_session").is_none());
}

#[tokio::test]
async fn crawled_text_renders_as_text() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    for path in ["/leads/1", "/search?q=lowongan"] {
        let (_, h, html) = send(&f.state, get(path, &cookie)).await;
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        for raw in [
            "<script>",
            "<img",
            "<style>",
            "<b onmouseover",
            "href=\"javascript:",
        ] {
            assert!(!html.contains(raw), "{path} contains raw {raw:?}");
        }
        assert!(
            html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
            "{path} shows the tag as text"
        );
    }
}

#[tokio::test]
async fn metrics_need_loopback_or_a_session() {
    let f = fixture().await;
    let (status, h, _) = send(&f.state, get("/metrics", "")).await;
    assert_eq!(
        (status, h[header::LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let (status, h, _) = send(&f.state, get("/metrics", &cookie.unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let mut local = get("/metrics", "");
    local
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            9,
        ))));
    assert_eq!(send(&f.state, local).await.0, StatusCode::OK);
}

#[tokio::test]
async fn search_filters_show_level_counts_and_are_audited() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (status, _, html) = send(
        &f.state,
        get(
            "/search?q=lowongan&level=none&source=s&kalbar=1&sort=score",
            &cookie,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<option value=\"none\" selected>Tidak ada (0)</option>"),
        "{html}"
    );
    assert!(html.contains("<option value=\"s\" selected>s</option>"));
    assert!(
        html.contains("0 hasil"),
        "the fixture post is not aimed at Kalbar"
    );
    let detail = f.state.store.audit_entries(1).await.unwrap()[0]
        .detail
        .clone()
        .unwrap();
    assert!(
        detail.contains("kalbar=true") && detail.contains("sort=\"score\""),
        "{detail}"
    );
}

#[tokio::test]
async fn search_filters_by_destination_place_lead_and_date_with_facets() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let total = |html: &str| {
        let at = html.find("<p class=\"count\">").expect("a result count") + 17;
        html[at..].split_whitespace().next().unwrap().to_string()
    };
    let (status, _, html) = send(&f.state, get("/search?q=lowongan", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total(&html), "1");
    // Facets link to the same search narrowed by the value; hits show destination and status.
    assert!(html.contains("destination=Malaysia"), "{html}");
    assert!(html.contains("place=Sambas"), "{html}");
    assert!(html.contains("→ Malaysia"), "{html}");
    assert!(html.contains("lead-new"), "{html}");
    for (query, expected) in [
        ("destination=Malaysia", "1"),
        ("destination=Kamboja", "0"),
        ("place=Sambas", "1"),
        ("place=Ketapang", "0"),
        ("lead=new", "1"),
        ("lead=escalated", "0"),
        ("language=id_ms", "1"),
        ("language=en", "0"),
        ("from=2020-01-01", "1"),
        ("to=2000-01-01", "0"),
    ] {
        let (status, _, html) = send(
            &f.state,
            get(&format!("/search?q=lowongan&{query}"), &cookie),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(total(&html), expected, "{query}");
    }
    // Inputs that do not parse get a message that says how to write them.
    for (query, needle) in [
        ("from=23%2F11%2F2026", "YYYY-MM-DD"),
        ("lead=dibuang", "in_review"),
        ("language=jawa", "id_ms"),
        ("from=2026-11-23&to=2026-01-01", "2026-01-01"),
    ] {
        let (status, _, html) = send(
            &f.state,
            get(&format!("/search?q=lowongan&{query}"), &cookie),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(needle), "{query}: {html}");
    }
    // A typo in a longer word: the corrected query's results, with a notice.
    let (_, _, html) = send(&f.state, get("/search?q=lowongon", &cookie)).await;
    assert_eq!(total(&html), "1");
    assert!(html.contains("<strong>lowongan</strong>"), "{html}");
    let detail = f.state.store.audit_entries(1).await.unwrap()[0]
        .detail
        .clone()
        .unwrap();
    assert!(detail.contains("q=\"lowongon\""), "{detail}");
}

#[tokio::test]
async fn a_bad_query_gets_a_message_not_a_crash() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let (status, _, html) = send(&f.state, get("/search?q=%22jalan+tikus", &cookie.unwrap())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Kueri tidak dapat dipahami"), "{html}");
}

#[tokio::test]
async fn logout_needs_csrf_and_ends_the_session() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(&f.state, get("/search", &cookie)).await;
    let csrf = hidden_csrf(&html);
    let post = |body: String| {
        Request::post("/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, _) = send(&f.state, post("csrf=forged".into())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        send(&f.state, get("/search", &cookie)).await.0,
        StatusCode::OK
    );
    let (status, _, _) = send(&f.state, post(format!("csrf={csrf}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&f.state, get("/search", &cookie)).await.0,
        StatusCode::SEE_OTHER
    );
}

fn post_form(path: &str, cookie: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn officers_escalate_leads_and_analysts_may_not() {
    let f = fixture().await;
    f.state
        .store
        .add_user("ani", "analyst", &hash_password("sandi-analis-1").unwrap())
        .await
        .unwrap();
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(&f.state, get("/leads/1", &cookie)).await;
    assert!(
        html.contains("Tindak lanjut") && html.contains("Baru"),
        "workflow shown in Indonesian"
    );
    let csrf = hidden_csrf(&html);

    let forged = post_form("/leads/1/workflow", &cookie, "csrf=x&action=assign".into());
    assert_eq!(send(&f.state, forged).await.0, StatusCode::FORBIDDEN);
    let no_unit = post_form(
        "/leads/1/workflow",
        &cookie,
        format!("csrf={csrf}&action=status&status=escalated&target="),
    );
    let (status, _, html) = send(&f.state, no_unit).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Pilih unit tujuan"));
    let escalate = post_form(
        "/leads/1/workflow",
        &cookie,
        format!("csrf={csrf}&action=status&status=escalated&target=immigration"),
    );
    assert_eq!(send(&f.state, escalate).await.0, StatusCode::SEE_OTHER);
    let note = post_form(
        "/leads/1/workflow",
        &cookie,
        format!("csrf={csrf}&action=note&note=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    );
    assert_eq!(send(&f.state, note).await.0, StatusCode::SEE_OTHER);
    let (_, _, html) = send(&f.state, get("/leads/1", &cookie)).await;
    assert!(html.contains("Dieskalasi: Imigrasi"), "status shown");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "notes render as text"
    );
    assert!(!html.contains("<script>alert(1)"));
    assert_eq!(f.state.store.lead_history(1).await.unwrap().len(), 2);

    let (_, analyst, _) = login(&f.state, "ani", "sandi-analis-1").await;
    let analyst = analyst.unwrap();
    let (_, _, html) = send(&f.state, get("/leads/1", &analyst)).await;
    assert!(
        !html.contains("action=\"/leads/1/workflow\""),
        "analysts see no workflow forms"
    );
    let csrf = hidden_csrf(&html);
    let try_close = post_form(
        "/leads/1/workflow",
        &analyst,
        format!("csrf={csrf}&action=status&status=closed&target=duplicate"),
    );
    assert_eq!(send(&f.state, try_close).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        f.state.store.lead_history(1).await.unwrap().len(),
        2,
        "nothing changed"
    );
    let actions: Vec<String> = f
        .state
        .store
        .audit_entries(3)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"lead_refused".to_string()), "{actions:?}");
}

#[tokio::test]
async fn only_admins_see_and_export_the_audit_log() {
    let f = fixture().await;
    f.state
        .store
        .add_user(
            "kapolres",
            "admin",
            &hash_password("sandi-admin-1").unwrap(),
        )
        .await
        .unwrap();
    let (_, officer, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let officer = officer.unwrap();
    send(&f.state, get("/search?q=%3Dcmd%7C", &officer)).await; // a query that looks like a formula
    assert_eq!(
        send(&f.state, get("/audit", &officer)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&f.state, get("/audit.csv", &officer)).await.0,
        StatusCode::FORBIDDEN
    );

    let (_, admin, _) = login(&f.state, "kapolres", "sandi-admin-1").await;
    let admin = admin.unwrap();
    let (status, _, html) = send(&f.state, get("/audit", &admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("audit_view_refused") && html.contains("href=\"/audit\""),
        "refusals are logged; admins get the menu"
    );
    let (status, h, csv) = send(&f.state, get("/audit.csv", &admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(csv.starts_with("id,at,actor,action,target,detail,remote\n"));
    assert!(csv.contains("\"budi\",\"search\""));
    assert!(
        csv.contains("\"q=\"\"=cmd|\"\""),
        "a formula-like query stays text inside its quotes: {csv}"
    );
    let last = f.state.store.audit_entries(1).await.unwrap();
    assert_eq!(last[0].action, "audit_export");
}

// Accounts, operations and charts, with the helpers above.
mod admin;
mod api;
mod charts;
mod leads;
mod operator;
