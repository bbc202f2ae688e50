//! HTTP-level tests of the JSON API and the lead exports: bearer tokens (never cookies), the
//! same roles and audit log as the pages, bad input answered with a hint, exports that stay
//! data, and an OpenAPI description that lists every route.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::Utc;
use patroli_crawler::{CollectedPost, Snapshot};
use serde_json::Value;

use super::{HOSTILE, fixture, fixture_verdict, get, login, send};
use crate::{AppState, hash_password, new_api_token};

/// A title that a spreadsheet would run as a formula.
const FORMULA_TITLE: &str = "=HYPERLINK(\"http://jahat.test\",\"klik\")";

/// Creates an API token for `user` and returns it.
async fn token(state: &AppState, user: &str) -> String {
    let token = new_api_token();
    state
        .store
        .create_api_token(user, &token, "test client")
        .await
        .unwrap();
    token
}

fn api_get(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn api_post(path: &str, token: &str, json: &str) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_string()))
        .unwrap()
}

/// Sends a request and parses the JSON answer, checking that it is served as JSON.
async fn send_json(state: &AppState, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, body) = send(state, req).await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{status}: {body}"
    );
    (status, headers, serde_json::from_str(&body).unwrap())
}

/// The newest audit entries, as (actor, action, detail).
async fn audit_tail(state: &AppState, n: i64) -> Vec<(String, String, String)> {
    state
        .store
        .audit_entries(n)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail.unwrap_or_default()))
        .collect()
}

/// Adds a second, searchable post (id 2) whose title and text start like spreadsheet formulas.
async fn add_formula_post(state: &AppState) {
    let snapshot = Snapshot {
        requested_url: "http://y.test/".into(),
        final_url: "http://y.test/".into(),
        status: 200,
        headers: vec![],
        body: b"<html>formula</html>".to_vec(),
        // SHA-256 of the body, so the evidence bundle can be built from it.
        sha256: "d48cd0744339c22bbd65cde10cb67908ea6f3c764248daf46e899acd4ff361a5".into(),
        fetched_at: Utc::now(),
    };
    let post = CollectedPost {
        source_id: "s".into(),
        url: "http://y.test/2".into(),
        external_id: Some("2".into()),
        title: Some(FORMULA_TITLE.into()),
        text: "@SUM(A1) lowongan kebun".into(),
        author: Some("-rekruter".into()),
        location: None,
        published: None,
    };
    let saved = state.store.save_page(&snapshot, &[post]).await.unwrap();
    state
        .store
        .save_verdict(saved[0].0, &fixture_verdict())
        .await
        .unwrap();
    state.index.catch_up(&state.store).await.unwrap();
}

#[tokio::test]
async fn the_api_takes_bearer_tokens_and_never_cookies() {
    let f = fixture().await;
    let good = token(&f.state, "budi").await;

    // No token at all: 401 with what to do.
    let (status, h, body) = send_json(&f.state, get("/api/v1/search?q=sawit", "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer realm=\"patroli\"");
    assert_eq!(body["error"], "no API token was sent");
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("patroli user token"),
        "{body}"
    );

    // A live session cookie does not authorise the API (so a forged cross-site request cannot).
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (status, _, _) = send_json(&f.state, get("/api/v1/search?q=sawit", &cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut forged = super::post_form(
        "/api/v1/leads/1/workflow",
        &cookie,
        "action=status&status=closed&target=duplicate".into(),
    );
    forged
        .headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    assert_eq!(
        send(&f.state, forged).await.0,
        StatusCode::UNAUTHORIZED,
        "a cookie cannot change a lead through the API"
    );

    // A bearer token does not authorise the pages.
    let (status, h, _) = send(&f.state, api_get("/search?q=sawit", &good)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/login");

    // Not the Bearer scheme, an unknown token, a revoked one: 401, and each refusal audited.
    let basic = Request::get("/api/v1/search")
        .header(header::AUTHORIZATION, "Basic YnVkaTpzYW5kaQ==")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send_json(&f.state, basic).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    let (status, _, body) = send_json(&f.state, api_get("/api/v1/search", "patroli_salah")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "the API token is not known");

    let (status, _, body) = send_json(&f.state, api_get("/api/v1/search?q=sawit", &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);
    let id = f.state.store.api_tokens("budi").await.unwrap()[0].id;
    f.state.store.revoke_api_token("budi", id).await.unwrap();
    let (status, _, body) = send_json(&f.state, api_get("/api/v1/search", &good)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "the API token was revoked");

    let tail = audit_tail(&f.state, 2).await;
    assert_eq!(
        tail[0],
        (
            "budi".to_string(),
            "api_token_refused".to_string(),
            "the API token was revoked".to_string()
        )
    );
    assert_eq!(tail[1].1, "search");
    assert!(
        tail[1].2.ends_with(&format!("; via API token {id}")),
        "token use is audited as the user, via the token: {:?}",
        tail[1]
    );
}

#[tokio::test]
async fn a_disabled_users_tokens_stop_working_at_once() {
    let f = fixture().await;
    let t = token(&f.state, "budi").await;
    let (status, _, _) = send_json(&f.state, api_get("/api/v1/search?q=sawit", &t)).await;
    assert_eq!(status, StatusCode::OK);
    f.state.store.set_disabled("budi", true).await.unwrap();
    let (status, _, body) = send_json(&f.state, api_get("/api/v1/search?q=sawit", &t)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    f.state.store.set_disabled("budi", false).await.unwrap();
    let (status, _, _) = send_json(&f.state, api_get("/api/v1/search?q=sawit", &t)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "enabled again, the token works again"
    );
}

#[tokio::test]
async fn refused_tokens_lock_the_address_out_for_a_while() {
    let f = fixture().await;
    let good = token(&f.state, "budi").await;
    for _ in 0..crate::auth::MAX_FAILED_LOGINS {
        let (status, _, _) = send(&f.state, api_get("/api/v1/search", "patroli_tebak")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, h, body) = send_json(&f.state, api_get("/api/v1/search", &good)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(h[header::RETRY_AFTER], "300");
    assert!(body["hint"].as_str().unwrap().contains("300 seconds"));
}

#[tokio::test]
async fn officers_change_leads_through_the_api_and_analysts_are_refused() {
    let f = fixture().await;
    f.state
        .store
        .add_user("ani", "analyst", &hash_password("sandi-analis-1").unwrap())
        .await
        .unwrap();
    let officer = token(&f.state, "budi").await;
    let analyst = token(&f.state, "ani").await;
    let officer_token_id = f.state.store.api_tokens("budi").await.unwrap()[0].id;

    // Bad input says what to send.
    let (status, _, body) = send_json(
        &f.state,
        api_post(
            "/api/v1/leads/1/workflow",
            &officer,
            r#"{"action":"status","status":"escalated"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["hint"].as_str().unwrap().contains("immigration"),
        "{body}"
    );
    let (status, _, body) = send_json(
        &f.state,
        api_post("/api/v1/leads/1/workflow", &officer, "action=assign"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["hint"].as_str().unwrap().contains("JSON object"));
    let (status, _, body) = send_json(
        &f.state,
        api_post(
            "/api/v1/leads/1/workflow",
            &officer,
            r#"{"action":"hapus"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "there is no action \"hapus\"");
    let (status, _, _) = send_json(
        &f.state,
        api_post(
            "/api/v1/leads/999/workflow",
            &officer,
            r#"{"action":"assign"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(f.state.store.lead_history(1).await.unwrap().is_empty());

    // The officer escalates: the lead changes, its history and the audit log say so.
    let (status, _, body) = send_json(
        &f.state,
        api_post(
            "/api/v1/leads/1/workflow",
            &officer,
            r#"{"action":"status","status":"escalated","target":"immigration"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "escalated");
    assert_eq!(body["escalated_to"], "immigration");
    let history = f.state.store.lead_history(1).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].actor, "budi");
    let last = &audit_tail(&f.state, 1).await[0];
    assert_eq!(
        last,
        &(
            "budi".to_string(),
            "lead_status".to_string(),
            format!("escalated immigration; via API token {officer_token_id}")
        )
    );

    // The analyst is refused, the refusal audited, and nothing changes.
    let (status, _, body) = send_json(
        &f.state,
        api_post(
            "/api/v1/leads/1/workflow",
            &analyst,
            r#"{"action":"status","status":"closed","target":"duplicate"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["hint"].as_str().unwrap().contains("officer"), "{body}");
    let last = &audit_tail(&f.state, 1).await[0];
    assert_eq!((last.0.as_str(), last.1.as_str()), ("ani", "lead_refused"));
    assert!(last.2.starts_with("status; via API token"), "{last:?}");
    assert_eq!(f.state.store.lead_history(1).await.unwrap().len(), 1);
    assert_eq!(
        f.state.store.lead(1).await.unwrap().escalated_to.as_deref(),
        Some("immigration")
    );
}

#[tokio::test]
async fn api_search_filters_and_answers_bad_input_with_a_hint() {
    let f = fixture().await;
    let t = token(&f.state, "budi").await;
    let total = |body: &Value| body["total"].as_u64().unwrap();
    for (query, expected) in [
        ("q=lowongan", 1),
        ("q=lowongan&destination=Malaysia", 1),
        ("q=lowongan&destination=Kamboja", 0),
        ("q=lowongan&place=Sambas", 1),
        ("q=lowongan&lead=new&language=id_ms", 1),
        ("q=lowongan&lead=closed", 0),
        ("q=lowongan&level=low&source=s", 1),
        ("q=lowongan&kalbar=1", 0),
        ("q=lowongan&from=2020-01-01&sort=recent", 1),
        ("q=lowongan&to=2000-01-01", 0),
    ] {
        let (status, _, body) =
            send_json(&f.state, api_get(&format!("/api/v1/search?{query}"), &t)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(total(&body), expected, "{query}");
    }
    let (_, _, body) = send_json(&f.state, api_get("/api/v1/search?q=lowongon", &t)).await;
    assert_eq!(body["corrected"], "lowongan");
    assert_eq!(
        (body["page"].as_u64(), body["per_page"].as_u64()),
        (Some(1), Some(20))
    );
    assert_eq!(body["hits"][0]["id"], 1);
    assert_eq!(
        body["facets"]["destinations"][0],
        serde_json::json!(["Malaysia", 1])
    );

    for (query, needle) in [
        ("from=23%2F11%2F2026", "YYYY-MM-DD"),
        ("lead=dibuang", "in_review"),
        ("language=jawa", "id_ms"),
        ("level=gawat", "medium"),
        ("sort=terbaru", "recent"),
        ("q=%22jalan+tikus", "quotation mark"),
        ("per_page=1000", "export.jsonl"),
        ("page=0", "Narrow"),
        ("page=abc", "whole numbers"),
    ] {
        let (status, _, body) =
            send_json(&f.state, api_get(&format!("/api/v1/search?{query}"), &t)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let said = format!("{} {}", body["error"], body["hint"]);
        assert!(said.contains(needle), "{query}: {said}");
    }
    let (status, _, body) = send_json(&f.state, api_get("/api/v1/nothing", &t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["hint"].as_str().unwrap().contains("openapi.yaml"));
}

#[tokio::test]
async fn a_lead_comes_whole_and_hostile_text_stays_data() {
    let f = fixture().await;
    let t = token(&f.state, "budi").await;
    let (status, h, body) = send(&f.state, api_get("/api/v1/leads/1", &t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        !body.contains("\"<b onmouseover=alert(4)>Judul</b>\n\n"),
        "a newline inside a JSON string is escaped"
    );
    let lead: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        lead["post"]["text"], HOSTILE,
        "the text round-trips as it was"
    );
    assert_eq!(
        lead["classified_text"],
        format!("<b onmouseover=alert(4)>Judul</b>\n\n{HOSTILE}")
    );
    assert_eq!(
        lead["post"]["verdict"]["destinations"][0]["country"],
        "Malaysia"
    );
    assert_eq!(lead["post"]["verdict"]["places"][0]["regency"], "Sambas");
    assert!(lead["post"]["verdict"]["indicators"].is_array());
    assert_eq!(lead["snapshots"][0]["sha256"], "0".repeat(64));
    assert_eq!(lead["lead"]["status"], "new");
    assert_eq!(lead["legal_basis"], "Public channel; KUHAP art. 5");
    assert!(lead["history"].as_array().unwrap().is_empty());
    assert!(lead["network"].is_array() && lead.get("cluster").is_some());
    assert_eq!(audit_tail(&f.state, 1).await[0].1, "view_lead");

    let (status, _, _) = send_json(&f.state, api_get("/api/v1/leads/999", &t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = send_json(&f.state, api_get("/api/v1/leads/satu", &t)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["hint"].as_str().unwrap().contains("whole numbers"));

    add_formula_post(&f.state).await;
    let (status, h, zip) = send(&f.state, api_get("/api/v1/leads/2/evidence.zip", &t)).await;
    assert_eq!(status, StatusCode::OK, "{zip}");
    assert_eq!(h[header::CONTENT_TYPE], "application/zip");
    assert!(zip.starts_with("PK"));
    let last = &audit_tail(&f.state, 1).await[0];
    assert_eq!(last.1, "export_evidence");
    assert!(last.2.contains("via API token"), "{last:?}");
}

#[tokio::test]
async fn exports_neutralise_formulas_and_keep_lines_parseable() {
    let f = fixture().await;
    add_formula_post(&f.state).await;
    let t = token(&f.state, "budi").await;

    let (status, h, csv) = send(&f.state, api_get("/api/v1/leads/export.csv?q=lowongan", &t)).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"patroli-leads-")
    );
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://jahat.test\"\",\"\"klik\"\")\""),
        "{csv}"
    );
    assert!(csv.contains("\"'@SUM(A1) lowongan kebun\""), "{csv}");
    assert!(!csv.contains(",\"=") && !csv.contains(",\"@") && !csv.contains(",\"-"));
    assert!(csv.contains("\"Kuching (Malaysia)\""), "{csv}");
    let last = &audit_tail(&f.state, 1).await[0];
    assert_eq!(last.1, "export");
    assert!(last.2.starts_with("csv 2 rows: q=\"lowongan\""), "{last:?}");

    let (status, h, jsonl) = send(
        &f.state,
        api_get("/api/v1/leads/export.jsonl?q=lowongan&sort=score", &t),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/x-ndjson")
    );
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(rows.len(), 2);
    let hostile = rows.iter().find(|r| r["id"] == 1).unwrap();
    assert_eq!(hostile["text"], HOSTILE);
    assert_eq!(hostile["lead_status"], "new");
    assert!(
        rows.iter().any(|r| r["title"] == FORMULA_TITLE),
        "JSON keeps text as it is"
    );

    let (status, _, body) = send_json(
        &f.state,
        api_get("/api/v1/leads/export.csv?from=kemarin", &t),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["hint"].as_str().unwrap().contains("YYYY-MM-DD"));
}

#[tokio::test]
async fn the_search_page_links_to_exports_of_its_results() {
    let f = fixture().await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(&f.state, get("/search?q=lowongan&place=Sambas", &cookie)).await;
    let link = "/search/export.jsonl?q=lowongan&#38;place=Sambas";
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let (status, _, jsonl) = send(&f.state, get(&link.replace("&#38;", "&"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let row: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(row["places"][0], "Aruk (Sambas)");
    let last = &audit_tail(&f.state, 1).await[0];
    assert_eq!((last.0.as_str(), last.1.as_str()), ("budi", "export"));
    assert!(
        last.2.contains("place=\"Sambas\"") && !last.2.contains("via"),
        "{last:?}"
    );

    let (status, _, csv) = send(&f.state, get("/search/export.csv?q=lowongan", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("id,url,title,"));
    // Without a session the download sends the browser to the login, token or not.
    let t = token(&f.state, "budi").await;
    let (status, _, _) = send(&f.state, api_get("/search/export.csv?q=lowongan", &t)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, html) = send(&f.state, get("/search/export.csv?to=besok", &cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Kueri tidak dapat dipahami"), "{html}");
}

/// `.route("PATH", METHOD(` calls in the API's source: every route it registers.
fn registered_routes() -> Vec<(String, String)> {
    let src = include_str!("../api.rs");
    src.match_indices(".route(\"")
        .map(|(i, m)| {
            let rest = &src[i + m.len()..];
            let path = &rest[..rest.find('"').unwrap()];
            let after = rest[path.len() + 1..].trim_start_matches([',', ' ', '\n']);
            let method = &after[..after.find('(').unwrap()];
            (path.to_string(), method.to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_openapi_description_lists_every_route_and_is_served() {
    let doc: serde_norway::Value =
        serde_norway::from_str(include_str!("../../../docs/openapi.yaml")).unwrap();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    assert_eq!(doc["servers"][0]["url"].as_str(), Some("/api/v1"));
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    let paths = doc["paths"].as_mapping().unwrap();
    let routes = registered_routes();
    assert!(routes.len() >= 7, "the scan finds the routes: {routes:?}");
    for (path, method) in &routes {
        assert!(
            doc["paths"][path.as_str()][method.as_str()].is_mapping(),
            "{method} {path} is served but not in docs/openapi.yaml"
        );
    }
    for (path, ops) in paths {
        let path = path.as_str().unwrap();
        for (method, _) in ops.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            assert!(
                routes.iter().any(|(p, m)| p == path && m == method),
                "docs/openapi.yaml describes {method} {path}, which is not served"
            );
        }
    }

    let f = fixture().await;
    let t = token(&f.state, "budi").await;
    assert_eq!(
        send(&f.state, get("/api/v1/openapi.yaml", "")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, h, served) = send(&f.state, api_get("/api/v1/openapi.yaml", &t)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/yaml")
    );
    assert_eq!(served, include_str!("../../../docs/openapi.yaml"));

    // The CSV's columns are the documented ExportRow properties, in order.
    let (_, _, csv) = send(&f.state, api_get("/api/v1/leads/export.csv", &t)).await;
    let documented: Vec<&str> = doc["components"]["schemas"]["ExportRow"]["properties"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        csv.lines().next().unwrap().split(',').collect::<Vec<_>>(),
        documented
    );
}
