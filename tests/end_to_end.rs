//! The whole system on the bundled sample web: crawl → store → classify → index → dashboard.

use std::collections::HashMap;

use patroli::sampleweb::{FORBIDDEN_PATH, SampleWeb, sample_posts};
use patroli::seeds;
use patroli_dashboard::{AppState, hash_password};
use patroli_index::SearchRequest;

use crate::util::dashboard::Dashboard;
use crate::util::{TestEnv, fold_ws};

/// Posts the tests name: clearly illegal recruitment, and clearly legitimate or unrelated posts.
const ILLEGAL: &[&str] = &[
    "sawit-sibu-paspor-dibantu",
    "admin-online-pp-gaji-1200-usd",
    "tg-sawit-serian-cukup-ktp",
];
const NOT_ILLEGAL: &[&str] = &[
    "staf-hotel-kuching-p3mi-sip2mi",
    "eps-topik-korea-manufaktur-2026",
    "kasir-toko-bangunan-pontianak",
    "tg-berita-entikong-gagal-berangkat",
    "tg-imbauan-polres-jangan-tergiur",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_web_crawled_classified_searchable_and_served() {
    let env = TestEnv::new().await;
    let web = SampleWeb::start().await.unwrap();
    let store = &env.pipeline.store;
    let report = env
        .pipeline
        .crawl(seeds::demo_sources(&web.base_url()).unwrap())
        .await
        .unwrap();
    let samples = sample_posts().unwrap();

    // Every sample post is stored exactly once.
    assert_eq!(report.posts_new(), samples.len(), "{:?}", report.runs);
    assert_eq!(store.count_posts().await.unwrap() as usize, samples.len());
    let stored = store.posts_after(0, 10_000).await.unwrap();
    let mut by_text: HashMap<String, Vec<i64>> = HashMap::new();
    for p in &stored {
        by_text.entry(fold_ws(&p.text)).or_default().push(p.id);
    }
    let mut id_of = HashMap::new();
    for s in &samples {
        let ids = by_text
            .get(&fold_ws(&s.text))
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(
            ids.len(),
            1,
            "sample post {} stored {} times",
            s.slug,
            ids.len()
        );
        id_of.insert(s.slug.as_str(), ids[0]);
    }

    // robots.txt was read and its disallowed page never requested, although the board links it.
    let requests = web.requests();
    assert_eq!(requests.get("/robots.txt"), Some(&1), "{requests:?}");
    assert!(!requests.contains_key(FORBIDDEN_PATH), "{requests:?}");
    assert!(requests.keys().any(|p| p.starts_with("/lowongan/")));

    // Named illegal-looking posts are flagged, with reasons; named legitimate ones are not.
    for slug in ILLEGAL {
        let v = store
            .post(id_of[slug])
            .await
            .unwrap()
            .unwrap()
            .verdict
            .unwrap();
        assert!(v.flagged, "{slug} should be flagged: {v:#?}");
        assert!(
            v.indicators
                .iter()
                .any(|i| i.counted && !i.matches.is_empty())
        );
    }
    for slug in NOT_ILLEGAL {
        let v = store
            .post(id_of[slug])
            .await
            .unwrap()
            .unwrap()
            .verdict
            .unwrap();
        assert!(!v.flagged, "{slug} should not be flagged: {v:#?}");
    }

    // One recruiter's number on the job board, the Telegram channel and the classifieds feed
    // links the three posts into a network.
    let linked: Vec<i64> = store
        .network_of(id_of["sawit-sibu-paspor-dibantu"])
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.post_id)
        .collect();
    let mut expected = vec![
        id_of["tg-sawit-serian-cukup-ktp"],
        id_of["kerja-kebun-bau-pakai-plb"],
    ];
    expected.sort_unstable();
    assert_eq!(linked, expected);

    // Search finds a flagged post by a word in it.
    let hits = env
        .pipeline
        .index
        .search(&SearchRequest {
            query: "brondol".into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let flagged_id = id_of["sawit-sibu-paspor-dibantu"] as u64;
    assert!(hits.hits.iter().any(|h| h.id == flagged_id), "{hits:?}");

    // A second crawl finds the same posts: sightings, not new posts. Job pages carry an ETag,
    // so they are revalidated with a conditional GET (304) instead of downloaded again.
    let before = web.requests();
    let again = env
        .pipeline
        .crawl(seeds::demo_sources(&web.base_url()).unwrap())
        .await
        .unwrap();
    assert_eq!(again.posts_new(), 0);
    assert_eq!(again.posts_seen(), samples.len());
    assert_eq!(store.count_posts().await.unwrap() as usize, samples.len());
    let job = "/lowongan/sawit-sibu-paspor-dibantu";
    assert_eq!(web.requests()[job], before[job] + 1);
    assert_eq!(
        web.requests()["/robots.txt"],
        1,
        "robots.txt is cached in the store between runs"
    );
    let snapshots = store
        .snapshots_of(id_of["sawit-sibu-paspor-dibantu"])
        .await
        .unwrap();
    assert_eq!(snapshots.len(), 1, "a 304 adds no snapshot");

    // A job ad taken down leaves the listing: the next run records it as removed, with the time.
    web.take_down("kasir-toko-bangunan-pontianak");
    env.pipeline
        .crawl(seeds::demo_sources(&web.base_url()).unwrap())
        .await
        .unwrap();
    let removed = store
        .post(id_of["kasir-toko-bangunan-pontianak"])
        .await
        .unwrap()
        .unwrap();
    assert!(
        removed.removed_at.is_some(),
        "taken-down post is marked removed"
    );
    let kept = store
        .post(id_of["sawit-sibu-paspor-dibantu"])
        .await
        .unwrap()
        .unwrap();
    assert!(kept.removed_at.is_none());

    // The dashboard answers the search after login and refuses it without.
    store
        .add_user(
            "siti",
            "officer",
            &hash_password("kata-sandi-panjang").unwrap(),
        )
        .await
        .unwrap();
    let dashboard = Dashboard::start(AppState::new(
        store.clone(),
        env.pipeline.index.clone(),
        env.pipeline.rules.clone(),
        false,
    ))
    .await;
    let base = &dashboard.base;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let anon = http
        .get(format!("{base}/search?q=brondol"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
    assert_eq!(anon.headers()["location"], "/login");

    let form = http.get(format!("{base}/login")).send().await.unwrap();
    let pre = cookie(&form, "patroli_login_csrf");
    let html = form.text().await.unwrap();
    let csrf = &html[html.find("name=\"csrf\" value=\"").unwrap() + 19..][..64];
    let login = http
        .post(format!("{base}/login"))
        .header("cookie", format!("patroli_login_csrf={pre}"))
        .form(&[
            ("username", "siti"),
            ("password", "kata-sandi-panjang"),
            ("csrf", csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let session = cookie(&login, "patroli_session");
    let page = http
        .get(format!("{base}/search?q=brondol"))
        .header("cookie", format!("patroli_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("href=\"/leads/{flagged_id}\""))
    );
    let lead = http
        .get(format!("{base}/leads/{flagged_id}"))
        .header("cookie", format!("patroli_session={session}"))
        .send()
        .await
        .unwrap();
    let lead = lead.text().await.unwrap();
    assert!(
        lead.contains("<mark"),
        "indicators are highlighted on the lead page"
    );
    assert!(
        lead.contains("Public job board"),
        "the source's legal basis is shown"
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .header("cookie", format!("patroli_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("patroli_crawl_pages_total{source=\"sample-lowongan\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("patroli_crawl_errors_total{kind=\"robots\",source=\"sample-lowongan\"} ")
    );
    dashboard.stop().await;
}

fn cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}
