//! Property tests: on any input the normaliser and the engine never panic, the normalised text
//! has no white space but spaces (the patterns' literals are read so), every span lies on
//! character boundaries of the original text and covers what it says, the same input always
//! gives the same verdict whatever the thread classified before, and the patterns, run only
//! where the engine's prefilter says they can match, match what they match on the whole text.
//! Run against the real rule pack in `seeds/`.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;

use crate::normalize::Normalizer;
use crate::{Classifier, Gazetteer, LanguageDetection, RulePack, RuleSource};

static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(|| {
    let gaz = std::fs::read_to_string(seeds().join("gazetteer.toml")).expect("gazetteer");
    let gazetteer =
        Gazetteer::parse(&RuleSource::new("gazetteer.toml", gaz)).expect("gazetteer parses");
    Classifier::new(seed_rules(), gazetteer, LanguageDetection::On).expect("rules compile")
});

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| {
    let pack = seed_rules();
    Normalizer::new(pack.slang, pack.keep)
});

fn seeds() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../seeds"))
}

/// The rule pack in `seeds/rules/`.
pub(crate) fn seed_rules() -> RulePack {
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
    RulePack::parse(&sources).expect("rules parse")
}

/// Text that looks like the posts the engine sees: words from the domain, obfuscations, digits,
/// separators, emojis, combining marks, CJK, odd white space.
fn posty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("gaji".to_string()),
        Just("g4ji".to_string()),
        Just("jalan tikus".to_string()),
        Just("paspor dibantu".to_string()),
        Just("W A".to_string()),
        Just("0812-5738-2041".to_string()),
        Just("wa.me/6281257382041".to_string()),
        Just("Rp 12.000.000".to_string()),
        Just("dua belas juta".to_string()),
        Just("RM3.500".to_string()),
        Just("laki2".to_string()),
        Just("Kamboja".to_string()),
        Just("柬埔寨客服".to_string()),
        Just("月薪1200美金".to_string()),
        Just("2.800 ringgit sebulan".to_string()),
        Just("1,500 USD".to_string()),
        Just("puluhan warga".to_string()),
        Just("٣ rm".to_string()),
        Just("🔥💰✈️".to_string()),
        Just("e\u{301}\u{302}".to_string()),
        Just("ＲＭ３０００".to_string()),
        Just("\u{200b}\u{feff}".to_string()),
        "[a-z0-9@$!.,\\-_ ]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join(" "))
}

fn check(text: &str) {
    let norm = NORMALIZER.normalize(text);
    assert_eq!(norm.is_ascii(), norm.text().is_ascii(), "{text:?}");
    assert_eq!(norm.original_is_ascii(), text.is_ascii(), "{text:?}");
    // What patterns' literals are read with (`\s` as a space).
    assert!(
        norm.text().chars().all(|c| c == ' ' || !c.is_whitespace()),
        "only spaces as white space in {:?}",
        norm.text()
    );
    let v = CLASSIFIER.classify(text);
    assert!((0.0..=1.0).contains(&v.score));
    let spans = v
        .indicators
        .iter()
        .flat_map(|i| i.matches.iter())
        .chain(v.places.iter().map(|p| &p.span))
        .chain(v.destinations.iter().map(|d| &d.span))
        .chain(v.entities.iter().map(|e| &e.span))
        .chain(v.salaries.iter().map(|s| &s.span));
    for s in spans {
        assert!(s.start <= s.end && s.end <= text.len(), "{s:?}");
        assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "{s:?}"
        );
        assert_eq!(&text[s.start..s.end], s.text);
    }
    // A thread of its own starts from empty scratch: nothing the texts before left in this
    // thread's may show.
    let fresh = std::thread::scope(|s| {
        s.spawn(|| CLASSIFIER.classify(text))
            .join()
            .expect("classifies")
    });
    assert_eq!(v, fresh, "same input, same verdict, whatever came before");
    let [found, every] = CLASSIFIER.pattern_matches_both_ways(text);
    assert_eq!(found, every, "pattern matches in {text:?}");
}

/// The posts of the development corpus and the sample web.
pub(crate) fn seed_posts() -> Vec<String> {
    let seeds = seeds();
    let dev = std::fs::read_to_string(seeds.join("corpus/dev.jsonl")).expect("dev corpus");
    let mut posts: Vec<String> = dev
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .map(|v| v["text"].as_str().expect("text").to_string())
        .collect();
    let sample = std::fs::read_to_string(seeds.join("sample-web/posts.toml")).expect("posts");
    let sample: toml::Value = toml::from_str(&sample).expect("posts parse");
    posts.extend(
        sample["post"]
            .as_array()
            .expect("post array")
            .iter()
            .map(|p| p["text"].as_str().expect("text").to_string()),
    );
    posts
}

#[test]
fn seed_posts_hold() {
    let posts = seed_posts();
    assert!(posts.len() > 400, "{} posts", posts.len());
    for post in &posts {
        check(post);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_unicode_text(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn post_like_text(text in posty()) {
        check(&text);
    }
}
