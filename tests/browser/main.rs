//! The dashboard in headless Chromium, over the crawled sample web: what an officer does with the
//! mouse, that the Content-Security-Policy holds (Chromium reports no violation), that pages
//! fit a phone's width, and the README's screenshots. `chromium.rs` drives the browser.
//!
//! A test binary of its own, unlike every other end-to-end test: Chromium keeps both of CI's
//! cores busy, and beside the crawler's timing tests (which measure the gaps between requests) it
//! made them fail now and then. Cargo runs test binaries one after another.

mod chromium;
mod png;
// Shared with tests/tests.rs; this binary uses part of it.
#[allow(dead_code)]
#[path = "../util/mod.rs"]
mod util;

use std::path::Path;

use patroli::sampleweb::SampleWeb;
use patroli::seeds;
use patroli_dashboard::{AppState, CONTENT_SECURITY_POLICY, hash_password};
use patroli_index::{Judgement, LeadChange, LeadStatus, SearchRequest, Sort, Store};

use crate::chromium::{Browser, DESKTOP, PHONE};
use crate::util::TestEnv;
use crate::util::dashboard::Dashboard;

/// The officer who logs in.
const OFFICER: (&str, &str) = ("siti", "kata-sandi-panjang");

/// The sample web crawled into a temporary data directory, and the dashboard serving it.
struct Site {
    env: TestEnv,
    _web: SampleWeb,
    dashboard: Dashboard,
}

impl Site {
    async fn start() -> Site {
        let env = TestEnv::new().await;
        let web = SampleWeb::start().await.expect("the sample web starts");
        env.pipeline
            .crawl(seeds::demo_sources(&web.base_url()).expect("demo sources"))
            .await
            .expect("the sample web is crawled");
        env.pipeline
            .store
            .add_user(OFFICER.0, "officer", &hash_password(OFFICER.1).unwrap())
            .await
            .unwrap();
        let state = AppState::new(
            env.pipeline.store.clone(),
            env.pipeline.index.clone(),
            env.pipeline.rules.clone(),
            false,
        );
        let dashboard = Dashboard::start(state).await;
        Site {
            env,
            _web: web,
            dashboard,
        }
    }

    fn store(&self) -> &Store {
        &self.env.pipeline.store
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.dashboard.base)
    }
}

async fn log_in(b: &Browser, site: &Site) {
    b.goto(&site.url("/login")).await;
    b.fill("input[name=username]", OFFICER.0).await;
    b.fill("input[name=password]", OFFICER.1).await;
    b.click("form[action='/login'] button").await;
    assert_eq!(b.path().await, "/search", "a login lands on the search");
}

async fn assert_no_csp_violations(b: &Browser, page: &str) {
    let violations = b.csp_violations().await;
    assert!(
        violations.is_empty(),
        "{page}: Chromium reports CSP violations: {violations:#?}"
    );
}

/// The lead id a result link points to.
fn lead_id(href: &str) -> i64 {
    href.strip_prefix("/leads/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{href} is not a lead link"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_works_leads_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let site = Site::start().await;

    b.goto(&site.url("/search")).await;
    assert_eq!(b.path().await, "/login", "no page without a session");
    log_in(&b, &site).await;
    assert_no_csp_violations(&b, "login").await;

    // Search, with facets beside the results.
    b.fill("input[name=q]", "sawit").await;
    b.click(".searchbar button[type=submit]").await;
    assert!(b.path().await.starts_with("/search?q=sawit"));
    let mut ids = Vec::new();
    for link in b.find_all("ol.results a.title").await.iter().take(2) {
        ids.push(lead_id(&link.attr("href").await.unwrap().unwrap()));
    }
    assert_eq!(ids.len(), 2, "sawit finds several posts");
    assert!(
        !b.find_all(".facets a").await.is_empty(),
        "facets are shown"
    );
    assert_no_csp_violations(&b, "search").await;

    // Tick the first two results and take them into review together: the checkboxes sit in
    // the list and belong to the form above it (their form attribute), no script involved.
    for pick in b.find_all("input.pick").await.iter().take(2) {
        pick.click().await.unwrap();
    }
    b.click("button[name=action][value=review]").await;
    assert_eq!(b.text("p.done").await, "2 unggahan diperbarui.");
    let back = b.path().await;
    assert!(
        back.starts_with("/search?q=sawit") && back.contains("updated=2"),
        "back on the same search: {back}"
    );
    for id in &ids {
        let lead = site.store().lead(*id).await.unwrap();
        assert_eq!(lead.status, LeadStatus::InReview, "lead {id}");
    }

    // Open the first lead and escalate it to immigration.
    b.click(&format!("ol.results a.title[href='/leads/{}']", ids[0]))
        .await;
    assert_eq!(b.path().await, format!("/leads/{}", ids[0]));
    assert!(
        b.text(".workflow .badge").await.contains("Sedang ditinjau"),
        "the bulk action shows on the lead"
    );
    let status_form = "form.row:has(input[name=action][value=status])";
    b.find(&format!("{status_form} select[name=status]"))
        .await
        .select_by_value("escalated")
        .await
        .unwrap();
    b.find(&format!("{status_form} select[name=target]"))
        .await
        .select_by_value("immigration")
        .await
        .unwrap();
    b.click(&format!("{status_form} button")).await;
    assert_eq!(
        b.text(".workflow .badge.status-escalated").await,
        "Status: Dieskalasi: Imigrasi"
    );

    // Mark it a true positive.
    b.click("button.judge-illegal_recruitment").await;
    assert_eq!(
        b.text(".judged-illegal_recruitment").await,
        "rekrutmen ilegal (benar)"
    );
    assert_no_csp_violations(&b, "lead").await;

    // Export the evidence bundle: Chromium downloads it, and it verifies.
    // An attachment: the page stays, so a plain click.
    b.find(&format!("a[href='/leads/{}/evidence.zip']", ids[0]))
        .await
        .click()
        .await
        .unwrap();
    let zip = b.download(&format!("patroli-bukti-{}.zip", ids[0])).await;
    let check = patroli_index::evidence::verify(&zip).expect("a readable evidence bundle");
    assert!(
        check.intact() && check.files_checked >= 2,
        "the downloaded bundle verifies: {check:?}"
    );

    for page in ["/rules", "/stats", "/operator"] {
        b.goto(&site.url(page)).await;
        assert_eq!(b.path().await, page);
        assert_no_csp_violations(&b, page).await;
    }

    // At a phone's width nothing scrolls sideways.
    b.viewport(PHONE).await;
    for page in ["/search?q=sawit".to_string(), format!("/leads/{}", ids[0])] {
        b.goto(&site.url(&page)).await;
        let (overflow, width) = b.overflow().await;
        assert_eq!(width, i64::from(PHONE.0), "{page}: the phone's viewport");
        assert_eq!(overflow, 0, "{page} is wider than a phone");
    }
    b.viewport(DESKTOP).await;

    b.click("form[action='/logout'] button").await;
    assert_eq!(b.path().await, "/login");
    b.goto(&site.url("/search")).await;
    assert_eq!(b.path().await, "/login", "the session has ended");
    assert_no_csp_violations(&b, "logout").await;
    site.dashboard.stop().await;
}

/// The two browser checks above can fail: a page with an inline script, a style attribute and
/// a table wider than a phone, served with the dashboard's CSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_checks_catch_csp_violations_and_sideways_scrolling() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let bad = "<!doctype html><meta name=viewport content=\"width=device-width\">\
               <p style=\"color:red\">merah</p><script>document.title = 'x'</script>\
               <table width=\"1000\"><tr><td>lebar</td></tr></table>";
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move {
            (
                [
                    ("content-security-policy", CONTENT_SECURITY_POLICY),
                    ("content-type", "text/html; charset=utf-8"),
                ],
                bad,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    b.viewport(PHONE).await;
    b.goto(&url).await;
    let violations = b.csp_violations().await;
    assert!(
        violations.iter().any(|v| v.contains("inline script"))
            && violations.iter().any(|v| v.contains("inline style")),
        "{violations:#?}"
    );
    assert!(b.csp_violations().await.is_empty(), "the log was drained");
    let (overflow, width) = b.overflow().await;
    assert_eq!(width, i64::from(PHONE.0));
    assert!(overflow > 0, "a 1000 px table scrolls sideways on a phone");
    server.abort();
}

/// Width of the desktop screenshots: the pages' content is at most 60 rem (960 px) wide, so
/// anything wider only adds margins to the files.
const SHOT_WIDTH: u32 = 1024;
/// The tallest desktop screenshot: the search page's results start below its filters and facets.
const SHOT_MAX_HEIGHT: u32 = 1400;

/// Refreshes the PNGs under `docs/screenshots/` that the README shows:
/// `cargo test --test browser screenshots -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots/; run it with --ignored after changing how pages look"]
async fn screenshots() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let site = Site::start().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = |name: &str| dir.join(format!("{name}.png"));

    // The riskiest lead, taken on, escalated and marked, so its page shows a history.
    let top = site
        .env
        .pipeline
        .index
        .search(&SearchRequest {
            flagged_only: true,
            sort: Sort::Score,
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .hits[0]
        .id as i64;
    for change in [
        LeadChange::Assign {
            to: OFFICER.0.into(),
        },
        LeadChange::Status {
            status: LeadStatus::Escalated,
            target: Some("immigration".into()),
        },
        LeadChange::Judge {
            judgement: Judgement::IllegalRecruitment,
        },
    ] {
        site.store()
            .change_lead(top, OFFICER.0, &change)
            .await
            .unwrap();
    }
    site.env
        .pipeline
        .index
        .catch_up(site.store())
        .await
        .unwrap();

    b.goto(&site.url("/login")).await;
    b.screenshot(&shot("login"), (SHOT_WIDTH, 480)).await;
    log_in(&b, &site).await;
    let lead = format!("/leads/{top}");
    let pages = [
        ("search", "/search?q=sawit"),
        ("lead", lead.as_str()),
        ("rules", "/rules"),
        ("operator", "/operator"),
        ("stats", "/stats"),
    ];
    for (name, page) in pages {
        b.goto(&site.url(page)).await;
        b.screenshot(&shot(name), (SHOT_WIDTH, SHOT_MAX_HEIGHT))
            .await;
    }
    for (name, page) in &pages[..2] {
        b.goto(&site.url(page)).await;
        b.screenshot(&shot(&format!("{name}-phone")), PHONE).await;
    }
    site.dashboard.stop().await;
}
