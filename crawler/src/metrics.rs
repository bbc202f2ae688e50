//! Prometheus counters of crawling, registered in the process's default registry (the dashboard
//! serves them at `/metrics`).

use std::sync::LazyLock;

use prometheus::{IntCounterVec, IntGaugeVec, register_int_counter_vec, register_int_gauge_vec};

pub static PAGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "patroli_crawl_pages_total",
        "Pages fetched (any outcome)",
        &["source"]
    )
    .expect("metric registers once")
});
pub static BYTES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "patroli_crawl_bytes_total",
        "Body bytes received",
        &["source"]
    )
    .expect("metric registers once")
});
pub static POSTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!("patroli_crawl_posts_total", "Posts extracted", &["source"])
        .expect("metric registers once")
});
pub static ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "patroli_crawl_errors_total",
        "Failed URLs by kind",
        &["source", "kind"]
    )
    .expect("metric registers once")
});
pub static QUEUE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "patroli_crawl_queue_depth",
        "URLs waiting in a source's frontier",
        &["source"]
    )
    .expect("metric registers once")
});
pub static POLITENESS_WAIT_MS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "patroli_crawl_politeness_wait_milliseconds_total",
        "Time spent waiting for a host's rate limiter",
        &["host"]
    )
    .expect("metric registers once")
});
