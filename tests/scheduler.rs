//! Scheduled runs: each source runs on its cron schedule and never twice at once.

use std::time::Duration;

use patroli::sampleweb::SampleWeb;
use patroli::scheduler;
use patroli_crawler::parse_sources;

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
    let run = tokio::spawn(scheduler::run(env.pipeline.clone(), sources, async {
        let _ = stopped.await;
    }));
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
