//! Charts over HTTP: SVG that parses as XML, with crawled labels escaped, behind the login.

use axum::http::StatusCode;
use quick_xml::events::Event;

use super::*;

const SCRIPT: &str = "<script>alert('x')</script>";

/// Gives the fixture's post a flagged verdict naming Malaysia and a destination and a regency
/// whose names are markup.
async fn flag_post(state: &AppState) {
    let span = serde_json::json!({"start": 0, "end": 1, "text": "x"});
    let verdict: patroli_classifier::Verdict = serde_json::from_value(serde_json::json!({
        "score": 0.9, "level": "high", "flagged": true, "lang": "id_ms", "kalbar": true,
        "indicators": [],
        "places": [{"name": "Entikong", "kind": "kecamatan", "regency": SCRIPT, "span": span}],
        "destinations": [
            {"name": "Kuching", "country": "MY", "span": span},
            {"name": "x", "country": SCRIPT, "span": span}
        ],
        "entities": [], "salaries": [], "ruleset_version": "t"
    }))
    .unwrap();
    state.store.save_verdict(1, &verdict).await.unwrap();
}

/// Parses `svg` as XML and returns its element names; panics if it is not well-formed.
fn elements(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap())
            }
            Ok(Event::Eof) => return names,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed XML at {}: {e}\n{svg}",
                reader.error_position()
            ),
        }
    }
}

#[tokio::test]
async fn charts_are_svg_with_escaped_labels() {
    let f = fixture().await;
    flag_post(&f.state).await;
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (status, _, html) = send(&f.state, get("/stats", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    for (file, expected) in [
        ("flagged-per-day.svg", format!(">{today}</text>")),
        (
            "flagged-per-country.svg",
            ">Malaysia (MY)</text>".to_string(),
        ),
        (
            "flagged-per-regency.svg",
            ">&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;</text>".to_string(),
        ),
    ] {
        let path = format!("/charts/{file}");
        assert!(
            html.contains(&format!("<img src=\"{path}\"")),
            "{path} on the page"
        );
        let (status, h, svg) = send(&f.state, get(&path, &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            h[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("image/svg+xml")
        );
        let names = elements(&svg);
        assert_eq!(names[0], "svg", "{path}");
        assert!(
            names
                .iter()
                .all(|n| ["svg", "title", "text", "rect"].contains(&n.as_str())),
            "{path}: {names:?}"
        );
        assert!(svg.contains(&expected), "{path}: {expected} in {svg}");
        assert!(!svg.contains("<script"), "{path}");
        assert!(svg.contains(">1</text>"), "{path}: the count is written");
    }
    let (_, _, svg) = send(&f.state, get("/charts/flagged-per-country.svg", &cookie)).await;
    assert!(
        svg.contains("&lt;script&gt;"),
        "a country code that is markup is escaped too"
    );
}

#[tokio::test]
async fn charts_need_a_login_and_a_known_name() {
    let f = fixture().await;
    let (status, h, _) = send(&f.state, get("/charts/flagged-per-day.svg", "")).await;
    assert_eq!(
        (status, h[header::LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let (_, cookie, _) = login(&f.state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (status, _, _) = send(&f.state, get("/charts/../../etc/passwd", &cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&f.state, get("/charts/other.svg", &cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, svg) = send(&f.state, get("/charts/flagged-per-regency.svg", &cookie)).await;
    assert!(
        svg.contains("Belum ada unggahan yang ditandai"),
        "nothing flagged yet: {svg}"
    );
}

#[tokio::test]
async fn the_new_pages_need_a_login() {
    let f = fixture().await;
    for path in ["/admin/users", "/operator", "/stats"] {
        let (status, h, _) = send(&f.state, get(path, "")).await;
        assert_eq!(
            (status, h[header::LOCATION].to_str().unwrap()),
            (StatusCode::SEE_OTHER, "/login"),
            "{path}"
        );
    }
}
