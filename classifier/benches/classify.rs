//! Classifier throughput on the labelled development corpus and the sample-web posts, with and
//! without language detection, against the floor: a bare Aho-Corasick scan of the same keywords
//! over the same text, with the allocator the `patroli` binary ships with. Run:
//! `cargo bench -p patroli-classifier --bench classify`.

use std::hint::black_box;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patroli_classifier::{Classifier, Gazetteer, LanguageDetection, RulePack, RuleSource};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Copies of the corpus classified per iteration, so one iteration is a few MB.
const REPEAT: usize = 20;

fn seeds() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../seeds"))
}

fn classifier(detection: LanguageDetection) -> Classifier {
    let mut files: Vec<_> = std::fs::read_dir(seeds().join("rules"))
        .expect("seeds/rules")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let sources: Vec<RuleSource> = files
        .iter()
        .map(|p| {
            RuleSource::new(
                p.display().to_string(),
                std::fs::read_to_string(p).expect("rule file"),
            )
        })
        .collect();
    let gaz = std::fs::read_to_string(seeds().join("gazetteer.toml")).expect("gazetteer");
    let gazetteer =
        Gazetteer::parse(&RuleSource::new("gazetteer.toml", gaz)).expect("gazetteer parses");
    Classifier::new(
        RulePack::parse(&sources).expect("rules parse"),
        gazetteer,
        detection,
    )
    .expect("rules compile")
}

fn corpus() -> Vec<String> {
    let dev = std::fs::read_to_string(seeds().join("corpus/dev.jsonl")).expect("dev corpus");
    let mut texts: Vec<String> = dev
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let posts =
        std::fs::read_to_string(seeds().join("sample-web/posts.toml")).expect("sample posts");
    let posts: toml::Value = toml::from_str(&posts).expect("posts parse");
    texts.extend(
        posts["post"]
            .as_array()
            .expect("post array")
            .iter()
            .filter_map(|p| p["text"].as_str().map(str::to_string)),
    );
    texts
        .iter()
        .cycle()
        .take(texts.len() * REPEAT)
        .cloned()
        .collect()
}

fn bench(c: &mut Criterion) {
    let texts = corpus();
    let bytes: usize = texts.iter().map(String::len).sum();
    let plain = classifier(LanguageDetection::Off);
    let with_lang = classifier(LanguageDetection::On);
    let keywords: Vec<String> = plain
        .indicators()
        .iter()
        .flat_map(|i| i.keywords.iter().map(|k| k.to_lowercase()))
        .collect();
    let bare = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        .build(&keywords)
        .expect("keywords compile");
    eprintln!(
        "corpus: {} posts, {:.2} MB, {} keywords",
        texts.len(),
        bytes as f64 / 1e6,
        keywords.len()
    );

    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("bare_aho_corasick_scan", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| bare.find_overlapping_iter(black_box(t.as_str())).count())
                .sum::<usize>()
        })
    });
    g.bench_function("classify_without_language_detection", |b| {
        b.iter(|| {
            texts
                .iter()
                .filter(|t| plain.classify(black_box(t)).flagged)
                .count()
        })
    });
    g.bench_function("classify_with_language_detection", |b| {
        b.iter(|| {
            texts
                .iter()
                .filter(|t| with_lang.classify(black_box(t)).flagged)
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
