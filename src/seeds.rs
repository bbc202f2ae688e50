//! Loading the seeds: the rule pack, the gazetteer, the development corpus and the sources
//! files.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use patroli_classifier::{Classifier, Gazetteer, Labeled, LanguageDetection, RuleSource};
use patroli_crawler::{Source, parse_sources};
use patroli_index::{ActiveRules, RuleSet};

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// The gazetteer bundled in the binary.
pub const EMBEDDED_GAZETTEER: &str = include_str!("../seeds/gazetteer.toml");
/// The demo sources for the sample web, with `{sample_web}` placeholders.
pub const DEMO_SOURCES: &str = include_str!("../seeds/sources/demo.toml");
/// The analysts' labelled development corpus, bundled so the dashboard can evaluate rule sets
/// on it wherever the binary runs.
pub const DEV_CORPUS: &str = include_str!("../seeds/corpus/dev.jsonl");
/// Where the bundled rule pack comes from, as errors and the dashboard name it.
const EMBEDDED_RULES_FROM: &str = "(built in) seeds/rules";

/// The rule files in `dir` (every `*.toml`, by name), or the bundled pack when `dir` is `None`.
pub fn rule_sources(dir: Option<&Path>) -> anyhow::Result<Vec<RuleSource>> {
    let Some(dir) = dir else {
        return Ok(EMBEDDED_RULES
            .iter()
            .map(|(name, text)| RuleSource::new(format!("{EMBEDDED_RULES_FROM}/{name}"), *text))
            .collect());
    };
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read the rules folder {}; pass --rules DIR with the rule files",
            dir.display()
        )
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("the rules folder {} has no .toml files", dir.display());
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read rules file {}", p.display()))?;
            Ok(RuleSource::new(p.display().to_string(), text))
        })
        .collect()
}

/// The gazetteer from `file`, or the bundled one.
pub fn gazetteer(file: Option<&Path>) -> anyhow::Result<Gazetteer> {
    let source = match file {
        Some(f) => RuleSource::new(
            f.display().to_string(),
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the gazetteer {}", f.display()))?,
        ),
        None => RuleSource::new("(built in) seeds/gazetteer.toml", EMBEDDED_GAZETTEER),
    };
    Ok(Gazetteer::parse(&source)?)
}

/// The search analysis that goes with a rule pack: its slang table, so the index expands slang
/// in posts and queries exactly as the classifier does.
pub fn analysis(rules: Option<&Path>) -> anyhow::Result<patroli_index::Analysis> {
    Ok(patroli_index::Analysis {
        slang: patroli_classifier::RulePack::parse(&rule_sources(rules)?)?.slang,
    })
}

/// Parses and compiles a rule pack with a gazetteer.
pub fn classifier(
    rules: Option<&Path>,
    gazetteer_file: Option<&Path>,
    detection: LanguageDetection,
) -> anyhow::Result<Arc<Classifier>> {
    Ok(RuleSet::compile(rule_sources(rules)?, &gazetteer(gazetteer_file)?, detection)?.classifier)
}

/// The rule files as the rule set in use at start, before the store is asked for an activated
/// one (see `ActiveRules::load_stored`).
pub fn active_rules(
    rules: Option<&Path>,
    gazetteer_file: Option<&Path>,
    detection: LanguageDetection,
) -> anyhow::Result<ActiveRules> {
    let from = rules.map_or_else(
        || EMBEDDED_RULES_FROM.to_string(),
        |d| d.display().to_string(),
    );
    Ok(ActiveRules::from_files(
        rule_sources(rules)?,
        from,
        gazetteer(gazetteer_file)?,
        detection,
    )?)
}

/// A labelled corpus: JSON Lines `{"id", "text", "label"}` (blank lines skipped); `name` says
/// where it came from in errors.
pub fn labelled(name: &str, text: &str) -> anyhow::Result<Vec<Labeled>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "{name}, line {}: expected a JSON object with \"id\", \"text\" and \"label\"",
                    n + 1
                )
            })
        })
        .collect()
}

/// Reads a sources file.
pub fn sources_file(path: &Path) -> anyhow::Result<Vec<Source>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the sources file {}; copy seeds/sources/examples.toml there and edit it, or pass --sources FILE",
            path.display()
        )
    })?;
    Ok(parse_sources(&path.display().to_string(), &text)?)
}

/// The demo sources, pointed at a running sample web.
pub fn demo_sources(sample_web: &str) -> anyhow::Result<Vec<Source>> {
    Ok(parse_sources(
        "seeds/sources/demo.toml",
        &DEMO_SOURCES.replace("{sample_web}", sample_web),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sources_files_parse() {
        let examples = parse_sources(
            "seeds/sources/examples.toml",
            include_str!("../seeds/sources/examples.toml"),
        )
        .unwrap();
        let kinds: Vec<&str> = examples.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "jobposting",
                "html_listing",
                "feed",
                "telegram",
                "sitemap",
                "generic"
            ]
        );
        assert!(examples.iter().all(|s| !s.allow_private));
        let demo = demo_sources("http://127.0.0.1:9").unwrap();
        assert!(
            demo.iter()
                .all(|s| s.allow_private && s.hosts() == ["127.0.0.1"])
        );
    }

    #[test]
    fn bundled_corpus_parses_and_bad_lines_are_named() {
        let corpus = labelled("dev.jsonl", DEV_CORPUS).unwrap();
        assert!(corpus.len() > 100, "{}", corpus.len());
        let e = labelled(
            "x.jsonl",
            "{\"id\":\"a\",\"text\":\"t\",\"label\":\"other\"}\n\nnot json",
        )
        .unwrap_err();
        assert!(format!("{e:#}").starts_with("x.jsonl, line 3:"), "{e:#}");
    }

    #[test]
    fn missing_rules_folder_names_it() {
        let e = rule_sources(Some(Path::new("/nonexistent/rules"))).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent/rules"), "{e:#}");
    }
}
