//! The analysts' workflow over stored posts: rule diff and reclassify.

use chrono::Utc;
use patroli::{analyst, seeds};
use patroli_classifier::{LanguageDetection, Level};
use patroli_crawler::{CollectedPost, Snapshot};
use patroli_index::SearchRequest;

use crate::util::TestEnv;

fn pack(version: &str, weight: f64) -> String {
    format!(
        r#"[ruleset]
version = "{version}"
flag_threshold = 0.5
[ruleset.levels]
low = 0.2
medium = 0.5
high = 0.75

[[indicator]]
id = "route.tikus"
category = "route"
status = "active"
weight = {weight}
description = "Jalan tikus"
keywords = ["jalan tikus"]
"#
    )
}

fn write_pack(dir: &std::path::Path, version: &str, weight: f64) -> std::path::PathBuf {
    let rules = dir.join(version);
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("ruleset.toml"), pack(version, weight)).unwrap();
    rules
}

#[tokio::test]
async fn diff_shows_changes_and_reclassify_applies_them() {
    let env = TestEnv::new().await;
    let store = &env.pipeline.store;
    let snapshot = Snapshot {
        requested_url: "http://x.test/".into(),
        final_url: "http://x.test/".into(),
        status: 200,
        headers: vec![],
        body: b"x".to_vec(),
        sha256: "0".repeat(64),
        fetched_at: Utc::now(),
    };
    let post = |key: &str, text: &str| CollectedPost {
        source_id: "s".into(),
        url: format!("http://x.test/{key}"),
        external_id: Some(key.into()),
        title: None,
        text: text.into(),
        author: None,
        location: None,
        published: None,
    };
    store
        .save_page(
            &snapshot,
            &[
                post("a", "Berangkat lewat jalan tikus, aman"),
                post("b", "Kasir toko di Pontianak"),
            ],
        )
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let load =
        |dir: &std::path::Path| seeds::classifier(Some(dir), None, LanguageDetection::Off).unwrap();
    let old = load(&write_pack(tmp.path(), "v1", 0.6));
    let new = load(&write_pack(tmp.path(), "v2", 0.3));

    let d = patroli_index::diff(store, old.clone(), new.clone())
        .await
        .unwrap();
    assert_eq!(
        (d.old_version.as_str(), d.new_version.as_str(), d.posts),
        ("v1", "v2", 2)
    );
    assert_eq!(d.no_longer_flagged.len(), 1);
    let c = &d.no_longer_flagged[0];
    assert_eq!((c.old_level, c.new_level), (Level::Medium, Level::Low));
    assert!(d.newly_flagged.is_empty() && d.level_changed.is_empty());
    assert_eq!(d.level_moves["none"]["none"], 1);

    // Applying v1 flags the post, in the store and in the index; v2 then unflags it.
    let flagged = |env: &TestEnv| {
        env.pipeline
            .index
            .search(&SearchRequest {
                flagged_only: true,
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .total
    };
    assert_eq!(
        analyst::reclassify(store, &env.pipeline.index, &old)
            .await
            .unwrap(),
        2
    );
    assert_eq!(flagged(&env), 1);
    let v = store.post(c.id).await.unwrap().unwrap().verdict.unwrap();
    assert_eq!((&*v.ruleset_version, v.flagged), ("v1", true));
    analyst::reclassify(store, &env.pipeline.index, &new)
        .await
        .unwrap();
    assert_eq!(flagged(&env), 0);
    assert_eq!(
        &*store
            .post(c.id)
            .await
            .unwrap()
            .unwrap()
            .verdict
            .unwrap()
            .ruleset_version,
        "v2"
    );
}

#[tokio::test]
async fn the_pipeline_uses_a_rule_set_activated_on_its_handle_and_after_a_restart() {
    let env = TestEnv::new().await;
    let store = &env.pipeline.store;
    // What `patroli run` hands its dashboard: the same handle.
    let dashboard = env.pipeline.rules.clone();
    let current = dashboard.current();
    let files = current.rules.candidate_files(
        "route.toml",
        &current.rules.file("route.toml").unwrap().text,
        Some("2099.1.1"),
    );
    dashboard
        .activate(
            store,
            dashboard.compile(files).unwrap(),
            "route.toml",
            "ani",
        )
        .await
        .unwrap();

    let snapshot = Snapshot {
        requested_url: "http://x.test/".into(),
        final_url: "http://x.test/".into(),
        status: 200,
        headers: vec![],
        body: b"x".to_vec(),
        sha256: "0".repeat(64),
        fetched_at: Utc::now(),
    };
    let post = CollectedPost {
        source_id: "s".into(),
        url: "http://x.test/a".into(),
        external_id: Some("a".into()),
        title: None,
        text: "Kerja sawit di Sarawak lewat jalan tikus".into(),
        author: None,
        location: None,
        published: None,
    };
    let saved = store.save_page(&snapshot, &[post]).await.unwrap();
    env.pipeline
        .classify_and_index(&[saved[0].0])
        .await
        .unwrap();
    let v = store
        .post(saved[0].0)
        .await
        .unwrap()
        .unwrap()
        .verdict
        .unwrap();
    assert_eq!(&*v.ruleset_version, "2099.1.1");

    // A restart starts from the rule files, then loads the activation from the store.
    let restarted = seeds::active_rules(None, None, LanguageDetection::Off).unwrap();
    assert_ne!(restarted.current().rules.version(), "2099.1.1");
    assert!(matches!(
        restarted.load_stored(store).await.unwrap(),
        patroli_index::Stored::Loaded(a) if a.version == "2099.1.1" && a.activated_by == "ani"
    ));
    assert_eq!(restarted.classifier().version(), "2099.1.1");
}
