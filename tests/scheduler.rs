//! Scheduled runs: each source runs on its cron schedule, or when the dashboard asks, and never
//! twice at once.

use std::time::Duration;

use patroli::sampleweb::SampleWeb;
use patroli::scheduler;
use patroli_crawler::parse_sources;
use patroli_dashboard::{RunRequest, RunStart};
use tokio::sync::{mpsc, oneshot};

use crate::util::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_run_on_schedule_without_overlap() {
    let env = TestEnv::new().await;
    let web = SampleWeb::start().await.unwrap();
    // Every second, but a run takes longer (five requests at three a second): ticks that come
    // while a run is going must be skipped, not started alongside.
    let toml = format!(
        "[[source]]\nid = \"tg\"\nkind = \"telegram\"\nstart_urls = [\"{}/s/infolokerln_kalbar\"]\nschedule = \"* * * * * *\"\nrate_per_minute = 180\nallow_private = true\nlegal_basis = \"test\"\n",
        web.base_url()
    );
    let sources = parse_sources("test", &toml).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_requests, requested) = mpsc::channel(1);
    let run = tokio::spawn(scheduler::run(
        env.pipeline.clone(),
        sources,
        requested,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await; // let a run under way finish

    let mut runs = env.pipeline.store.recent_runs(100).await.unwrap();
    runs.reverse();
    assert!(runs.len() >= 2, "{} runs", runs.len());
    assert!(
        runs.len() <= 4,
        "{} runs: overlapping ticks were not skipped",
        runs.len()
    );
    for pair in runs.windows(2) {
        assert!(
            pair[1].started_at >= pair[0].finished_at,
            "runs overlap: {:?} / {:?}",
            pair[0].started_at,
            pair[1].started_at
        );
    }
    assert_eq!(runs[0].posts_new, 26);
    assert!(
        runs[1..]
            .iter()
            .all(|r| r.posts_new == 0 && r.posts_seen == 26)
    );
}

/// The stored runs, once there are `n` (or after ten seconds).
async fn wait_for_runs(store: &patroli_index::Store, n: usize) -> Vec<patroli_index::RunRecord> {
    for _ in 0..100 {
        let runs = store.recent_runs(10).await.unwrap();
        if runs.len() >= n {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.recent_runs(10).await.unwrap()
}

/// Asks the scheduler behind `requests` to run `source` now.
async fn ask(requests: &mpsc::Sender<RunRequest>, source: &str) -> RunStart {
    let (reply, answer) = oneshot::channel();
    requests
        .send(RunRequest {
            source_id: source.into(),
            reply,
        })
        .await
        .unwrap();
    answer.await.unwrap()
}

/// The telegram sample source `tg`, with no schedule (it runs only when asked). A run takes
/// over a second: five requests at three a second.
fn asked_only(web: &SampleWeb) -> Vec<patroli_crawler::Source> {
    let toml = format!(
        "[[source]]\nid = \"tg\"\nkind = \"telegram\"\nstart_urls = [\"{}/s/infolokerln_kalbar\"]\nrate_per_minute = 180\nallow_private = true\nlegal_basis = \"test\"\n",
        web.base_url()
    );
    parse_sources("test", &toml).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_start_when_asked_but_never_twice_at_once() {
    let env = TestEnv::new().await;
    let web = SampleWeb::start().await.unwrap();
    // A second request right after the first finds the run still going.
    let sources = asked_only(&web);
    let (stop, stopped) = oneshot::channel::<()>();
    let (requests, requested) = mpsc::channel(scheduler::REQUEST_QUEUE);
    let run = tokio::spawn(scheduler::run(
        env.pipeline.clone(),
        sources,
        requested,
        async {
            let _ = stopped.await;
        },
    ));

    assert_eq!(ask(&requests, "nope").await, RunStart::UnknownSource);
    assert_eq!(ask(&requests, "tg").await, RunStart::Started);
    assert_eq!(ask(&requests, "tg").await, RunStart::AlreadyRunning);
    let store = &env.pipeline.store;
    let runs = wait_for_runs(store, 1).await;
    assert_eq!(runs.len(), 1, "one run for two requests");
    assert_eq!(runs[0].posts_new, 26);
    // Once it has finished, the source may run again. Its run record is written a moment
    // before it leaves the set of running sources, so ask a few times.
    let mut again = ask(&requests, "tg").await;
    for _ in 0..20 {
        if again == RunStart::Started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        again = ask(&requests, "tg").await;
    }
    assert_eq!(again, RunStart::Started);
    assert_eq!(wait_for_runs(store, 2).await.len(), 2);
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_another_worker_runs_is_not_started_here() {
    let env = TestEnv::new().await;
    let web = SampleWeb::start().await.unwrap();
    let store = env.pipeline.store.clone();
    let minute = Duration::from_secs(60);
    store
        .claim_run("tg", "other-machine:7/abcdef", minute)
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (requests, requested) = mpsc::channel(scheduler::REQUEST_QUEUE);
    let run = tokio::spawn(scheduler::run(
        env.pipeline.clone(),
        asked_only(&web),
        requested,
        async {
            let _ = stopped.await;
        },
    ));
    assert_eq!(ask(&requests, "tg").await, RunStart::AlreadyRunning);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(web.requests().is_empty(), "nothing fetched here");
    // Given back: it runs here when asked.
    store
        .release_run("tg", "other-machine:7/abcdef")
        .await
        .unwrap();
    assert_eq!(ask(&requests, "tg").await, RunStart::Started);
    assert_eq!(wait_for_runs(&store, 1).await.len(), 1);
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}
