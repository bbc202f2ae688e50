//! Several crawl workers and dashboard nodes on one PostgreSQL store: workers share sources
//! without fetching a URL twice, keep to each host's rate together, take over the run of a
//! worker killed mid-run, and resume a run after the database went away and came back;
//! dashboard nodes see each other's changes.
//!
//! They need a PostgreSQL server: `PATROLI_TEST_POSTGRES=postgres://user@127.0.0.1:port/postgres`
//! (`.ci/run` starts one and sets it). Without it they say so and pass, so the README's test
//! command still works on a machine without PostgreSQL.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patroli::sampleweb::SampleWeb;
use patroli::seeds;
use patroli_index::testing::{POSTGRES_ENV, fresh_database};
use patroli_index::{LeadChange, LeadStatus, SearchIndex, SearchRequest, Store};

use crate::crawler::{SPACING_AT_600, arrivals, fan, source};
use crate::util::TestEnv;
use crate::util::fixture::{Fixture, Reply, gaps, tally};

/// A fresh database on the test server, or `None` (with a note) when there is no server.
async fn database() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(server) if !server.is_empty() => Some(fresh_database(&server).await),
        _ => {
            eprintln!(
                "skipped: set {POSTGRES_ENV} to a PostgreSQL server's URL to run the multi-worker tests (.ci/run does)"
            );
            None
        }
    }
}

/// A `patroli` process on the shared store, with its own data folder (its search index) and a
/// two-second run lease, so a dead worker's run is taken over quickly.
fn worker(database: &str, data: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_patroli"))
        .arg("--database-url")
        .arg(database)
        .arg("--data-dir")
        .arg(data)
        .args(["--lease-secs", "2"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("patroli starts")
}

/// Waits, at most a minute, until `done` holds, while `worker` keeps running.
async fn wait_for(worker: &mut Child, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within a minute");
        assert!(
            worker.try_wait().unwrap().is_none(),
            "{what}: the worker ended first"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The posts of all `pages` pages are stored, each once.
async fn assert_each_post_once(store: &Store, pages: u32) {
    let posts = store.posts_after(0, 1000).await.unwrap();
    assert_eq!(posts.len(), pages as usize, "every post");
    let mut texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), pages as usize, "no post stored twice");
}

/// Waits for `child` to end, at most a minute.
async fn finish(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("a worker did not finish within a minute");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_sources_and_one_hosts_rate() {
    let Some(db) = database().await else { return };
    let web = Fixture::start(|r| {
        fan(r, "/a/", 8)
            .or_else(|| fan(r, "/b/", 8))
            .or_else(|| fan(r, "/c/", 8))
            .unwrap_or_else(Reply::not_found)
    })
    .await;
    // Three sources on one host at 600 requests a minute. Each worker is given two, so both
    // are crawling the host at once, and both want `b`.
    let paced = "rate_per_minute = 600\nburst = 1\n";
    let src = |id: &str| source(id, "jobposting", &[web.url(&format!("/{id}/hub"))], paced);
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one.toml"), dir.path().join("two.toml"));
    std::fs::write(&one, src("a") + &src("b")).unwrap();
    std::fs::write(&two, src("b") + &src("c")).unwrap();
    let crawl = |sources: &Path, data: &str| {
        worker(
            &db,
            &dir.path().join(data),
            &["crawl", "--once", "--sources", sources.to_str().unwrap()],
        )
    };
    let (first, second) = (crawl(&one, "w1"), crawl(&two, "w2"));
    assert!(finish(first).await.success());
    assert!(finish(second).await.success());

    let hits = web.hits_on_pages();
    let counts = tally(&hits);
    // Each worker reads robots.txt once; every page is fetched by one worker, once.
    assert!(counts["/robots.txt"] <= 2, "{counts:?}");
    for (target, n) in &counts {
        if target != "/robots.txt" {
            assert_eq!(*n, 1, "{target} fetched {n} times: {counts:?}");
        }
    }
    assert_eq!(counts.len(), 1 + 3 * 9, "robots.txt, 3 hubs, 24 pages");
    // Together the two workers kept to the host's rate: on average one request per 100 ms,
    // and never two much closer (each worker sleeps to its slot on its own clock, so two
    // requests may land a little nearer than their slots; without shared slots they come a
    // few milliseconds apart).
    let times = arrivals(&hits);
    let span = *times.last().unwrap() - times[0];
    let intervals = times.len() as u32 - 1;
    assert!(
        span >= SPACING_AT_600 * intervals,
        "{intervals} intervals in {span:?} at 600/min over two workers"
    );
    let min = gaps(&times).into_iter().min().unwrap();
    assert!(
        min >= SPACING_AT_600 * 3 / 4,
        "two requests {min:?} apart at 600/min over two workers"
    );
    let store = Store::connect(&db).await.unwrap();
    assert_eq!(store.count_posts().await.unwrap(), 24);
    assert!(
        store.live_leases().await.unwrap().is_empty(),
        "all given back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_run_is_taken_over_without_loss() {
    let Some(db) = database().await else { return };
    const PAGES: u32 = 30;
    let web = Fixture::start(|r| fan(r, "/k/", PAGES).unwrap_or_else(Reply::not_found)).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    // 300 a minute: the run takes six seconds, long enough to be killed half-way.
    let toml = source(
        "slow",
        "jobposting",
        &[web.url("/k/hub")],
        "rate_per_minute = 300\nburst = 1\n",
    );
    std::fs::write(&sources, toml).unwrap();
    let sources = sources.to_str().unwrap();
    let mut first = worker(
        &db,
        &dir.path().join("w1"),
        &["crawl", "--once", "--sources", sources],
    );
    let store = loop {
        if let Ok(s) = Store::connect(&db).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_for(&mut first, "the first worker storing 8 posts", async || {
        store.count_posts().await.unwrap_or(0) >= 8
    })
    .await;
    first.kill().unwrap(); // SIGKILL: its lease stays until it expires
    first.wait().unwrap();
    let state = store.source_state("slow").await.unwrap();
    let done: Vec<String> = state
        .seen
        .iter()
        .filter(|u| !state.pending.iter().any(|(p, _)| p == *u))
        .map(|u| url::Url::parse(u).unwrap().path().to_string())
        .collect();
    assert!(!state.pending.is_empty(), "killed half-way");
    assert!(
        (store.count_posts().await.unwrap() as u32) < PAGES,
        "killed half-way"
    );

    // A long-running worker with no schedule for the source: only resuming starts it.
    let mut second = worker(
        &db,
        &dir.path().join("w2"),
        &["run", "--addr", "127.0.0.1:0", "--sources", sources],
    );
    wait_for(&mut second, "the run taken over and finished", async || {
        !store.runs_of("slow", 1).await.unwrap().is_empty()
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    // Every page's post once; pages the dead worker had finished were not fetched again.
    assert_each_post_once(&store, PAGES).await;
    for path in done.iter().filter(|p| p.starts_with("/k/")) {
        assert_eq!(
            web.count(path),
            1,
            "{path} was fetched again after the take-over"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_nodes_see_each_others_changes() {
    let Some(db) = database().await else { return };
    let web = SampleWeb::start().await.unwrap();
    let node = |dir: tempfile::TempDir| {
        let db = db.clone();
        async move { TestEnv::on(Store::connect(&db).await.unwrap(), dir) }
    };
    let a = node(tempfile::tempdir().unwrap()).await;
    let b = node(tempfile::tempdir().unwrap()).await;
    // A crawl on node A; node B's index follows the shared store.
    a.pipeline
        .crawl(seeds::demo_sources(&web.base_url()).unwrap())
        .await
        .unwrap();
    let stored = a.pipeline.store.count_posts().await.unwrap() as u64;
    assert!(stored > 0);
    assert_eq!(b.pipeline.index.len(), 0);
    b.pipeline.index.catch_up(&b.pipeline.store).await.unwrap();
    assert_eq!(b.pipeline.index.len(), stored);
    // An officer on node B escalates a lead; node A's search shows it.
    let escalated = |index: &SearchIndex| {
        index
            .search(&SearchRequest {
                lead_status: Some(LeadStatus::Escalated),
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .total
    };
    assert_eq!(escalated(&a.pipeline.index), 0);
    let change = LeadChange::Status {
        status: LeadStatus::Escalated,
        target: Some("immigration".into()),
    };
    b.pipeline
        .store
        .change_lead(1, "siti", &change)
        .await
        .unwrap();
    a.pipeline.index.catch_up(&a.pipeline.store).await.unwrap();
    assert_eq!(escalated(&a.pipeline.index), 1);
    assert_eq!(
        a.pipeline.store.lead(1).await.unwrap().status,
        LeadStatus::Escalated
    );
}

/// A TCP proxy on 127.0.0.1 in front of the database that the test can cut, as if the server
/// went down: open connections are dropped and new ones refused until it is restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (up2, conns) = (up.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                conns.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy {
            port,
            up,
            connections,
            accept,
        }
    }

    /// The database as if it went down.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// The database back up.
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_run_loses_nothing_and_the_run_resumes() {
    let Some(db) = database().await else { return };
    const PAGES: u32 = 30;
    let web = Fixture::start(|r| fan(r, "/d/", PAGES).unwrap_or_else(Reply::not_found)).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = dir.path().join("sources.toml");
    let hub = web.url("/d/hub");
    std::fs::write(
        &sources,
        source(
            "down",
            "jobposting",
            std::slice::from_ref(&hub),
            "rate_per_minute = 300\nburst = 1\n",
        ),
    )
    .unwrap();
    // The worker reaches the database only through the proxy.
    let mut url = url::Url::parse(&db).unwrap();
    let target = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    // A run left half-way (its start URL pending), so the worker starts it by resuming it.
    let store = Store::connect(&db).await.unwrap();
    store
        .frontier_apply(&[patroli_index::FrontierOp::Queued {
            source_id: "down".into(),
            url: hub,
            depth: 0,
        }])
        .await
        .unwrap();
    let mut worker = worker(
        url.as_str(),
        &dir.path().join("w"),
        &[
            "run",
            "--addr",
            "127.0.0.1:0",
            "--sources",
            sources.to_str().unwrap(),
        ],
    );
    wait_for(&mut worker, "the worker storing 8 posts", async || {
        store.count_posts().await.unwrap() >= 8
    })
    .await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = store.count_posts().await.unwrap();
    assert!((during as u32) < PAGES, "the outage came mid-run");
    proxy.restore();
    wait_for(
        &mut worker,
        "the run resumed after the outage",
        async || !store.runs_of("down", 1).await.unwrap().is_empty(),
    )
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_each_post_once(&store, PAGES).await;
}
