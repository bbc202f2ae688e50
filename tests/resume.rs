//! A crawl killed with SIGKILL mid-run resumes on restart without losing or duplicating posts.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patroli::sampleweb::{SampleWeb, sample_posts};
use patroli::seeds::DEMO_SOURCES;
use patroli_index::{SearchIndex, Store};

use crate::util::fold_ws;

fn crawl(data: &std::path::Path, sources: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_patroli"))
        .arg("--data-dir")
        .arg(data)
        .args(["crawl", "--once", "--sources"])
        .arg(sources)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("patroli starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_crawl_resumes_without_loss_or_duplicates() {
    let web = SampleWeb::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The demo sources, slowed to 5 requests a second so the run is still going when killed.
    let sources = dir.path().join("sources.toml");
    let slow = DEMO_SOURCES
        .replace("{sample_web}", &web.base_url())
        .replace("rate_per_minute = 6000", "rate_per_minute = 300")
        .replace("burst = 10", "burst = 1");
    std::fs::write(&sources, slow).unwrap();

    let mut first = crawl(&data, &sources);
    let store = loop {
        if let Ok(s) = Store::open(&data).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    // Job pages the store has marked done (their posts, links and evidence are stored).
    let done_job_pages = |state: &patroli_crawler::SourceState| -> Vec<String> {
        state
            .seen
            .iter()
            .filter(|u| u.contains("/lowongan/") && !state.pending.iter().any(|(p, _)| p == *u))
            .map(|u| url::Url::parse(u).unwrap().path().to_string())
            .collect()
    };
    loop {
        let state = store.source_state("sample-lowongan").await.unwrap();
        if store.count_posts().await.unwrap_or(0) >= 20 && done_job_pages(&state).len() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the first run stored too little");
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL: no clean-up runs
    first.wait().unwrap();
    let stored_when_killed = store.count_posts().await.unwrap() as usize;
    let samples = sample_posts().unwrap();
    assert!(stored_when_killed < samples.len(), "killed mid-run");
    let done_before = done_job_pages(&store.source_state("sample-lowongan").await.unwrap());
    let requests_before = web.requests();

    let status = crawl(&data, &sources).wait().unwrap();
    assert!(status.success());

    // Every sample post once, each classified and searchable.
    let posts = store.posts_after(0, 10_000).await.unwrap();
    assert_eq!(posts.len(), samples.len());
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for p in &posts {
        *by_text.entry(fold_ws(&p.text)).or_default() += 1;
        assert!(p.verdict.is_some(), "post {} has a verdict", p.id);
    }
    for s in &samples {
        assert_eq!(by_text.get(&fold_ws(&s.text)), Some(&1), "{}", s.slug);
    }
    let index = SearchIndex::open(
        &data.join("index"),
        &patroli::seeds::analysis(None).unwrap(),
    )
    .unwrap();
    assert_eq!(index.len() as usize, samples.len());

    // The restart resumed: job pages the first run had finished were not fetched again.
    let after = web.requests();
    for path in &done_before {
        assert_eq!(
            after[path], requests_before[path],
            "{path} was fetched again after the resume"
        );
    }
}
