//! Shared helpers for the end-to-end tests.

pub mod dashboard;
pub mod fixture;

use std::sync::Arc;

use patroli::pipeline::Pipeline;
use patroli::seeds;
use patroli_classifier::LanguageDetection;
use patroli_index::{SearchIndex, Store};

/// A pipeline over a fresh data directory with the built-in rule pack.
pub struct TestEnv {
    _dir: tempfile::TempDir,
    pub pipeline: Pipeline,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).await.expect("store opens");
        TestEnv::on(store, dir)
    }

    /// A pipeline over `store` with its search index in `dir` (a node of a shared store).
    pub fn on(store: Store, dir: tempfile::TempDir) -> TestEnv {
        let index = Arc::new(
            SearchIndex::open(
                &dir.path().join("index"),
                &seeds::analysis(None).expect("built-in rules load"),
            )
            .expect("index opens"),
        );
        let rules =
            seeds::active_rules(None, None, LanguageDetection::On).expect("built-in rules load");
        TestEnv {
            _dir: dir,
            pipeline: Pipeline {
                store,
                index,
                rules,
                fetch: Default::default(),
                lease: patroli::workers::DEFAULT_LEASE,
                progress: None,
            },
        }
    }
}

/// Whitespace folded to single spaces, for comparing texts across HTML round trips.
pub fn fold_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
