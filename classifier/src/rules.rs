//! The rule-pack files as analysts write them, and their validation.
//!
//! The format is documented in `seeds/rules/README.md`. Loading never panics: every problem
//! becomes a [`RuleError`] naming the file, the line and the rule.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

/// One rule-pack file handed to the classifier by its caller (the classifier reads no files).
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// How to name the file in errors, e.g. `seeds/rules/route.toml`.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

impl RuleSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        RuleSource {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// What is wrong with a rule pack, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct RuleError {
    pub location: Location,
    pub message: String,
}

/// File, line and rule of a [`RuleError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub rule: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules file {}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule `{rule}`")?;
        }
        Ok(())
    }
}

/// Whether an indicator counts towards the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Counts.
    Active,
    /// Reported with its matches but weighs nothing, so analysts can watch it before trusting it.
    Experimental,
    /// Kept in the file for history; not loaded.
    Retired,
}

/// The language buckets rules can be scoped to. Indonesian and Malay are one bucket: they are too
/// close to tell apart reliably on short posts, and recruiters mix them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    IdMs,
    En,
    Zh,
    Unknown,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::IdMs => "id_ms",
            Lang::En => "en",
            Lang::Zh => "zh",
            Lang::Unknown => "unknown",
        }
    }
}

/// Categories an indicator may belong to; see `seeds/rules/README.md`.
pub const CATEGORIES: &[&str] = &[
    "destination",
    "route",
    "document",
    "fee",
    "pay",
    "urgency",
    "low_barrier",
    "contact",
    "minor_women",
    "scam_job",
    "concealment",
    "recruit",
    "legit",
    "news",
    "kalbar",
];

/// Largest absolute weight an indicator may carry.
pub const MAX_WEIGHT: f64 = 1.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    ruleset: Option<Spanned<RulesetHeader>>,
    normalize: Option<NormalizeSection>,
    #[serde(default)]
    indicator: Vec<Spanned<IndicatorDef>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesetHeader {
    version: String,
    flag_threshold: f64,
    levels: Levels,
}

/// Score cut-offs for the levels.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeSection {
    #[serde(default)]
    slang: HashMap<String, String>,
    #[serde(default)]
    keep: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorDef {
    id: String,
    category: String,
    status: Status,
    weight: f64,
    description: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    lang: Vec<Lang>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    excludes: Vec<String>,
    near: Option<NearDef>,
    #[serde(default)]
    examples: Examples,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NearDef {
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    indicators: Vec<String>,
    within: usize,
}

/// Texts an indicator must and must not fire on; `patroli rules test` runs them.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default, rename = "match")]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
}

/// A validated indicator, ready to compile.
#[derive(Debug, Clone)]
pub struct Indicator {
    pub id: String,
    pub category: String,
    pub status: Status,
    pub weight: f64,
    pub description: String,
    pub keywords: Vec<String>,
    pub patterns: Vec<String>,
    pub lang: Vec<Lang>,
    /// Indicator ids or categories of which one must also fire.
    pub requires: Vec<String>,
    /// Indicator ids or categories of which none may fire.
    pub excludes: Vec<String>,
    pub near: Option<Near>,
    pub examples: Examples,
    /// Where the indicator is written, for errors and for analysts.
    pub location: Location,
}

/// A co-occurrence condition: a match counts only near a match of one of these.
#[derive(Debug, Clone)]
pub struct Near {
    pub targets: Vec<String>,
    pub within: usize,
}

/// A parsed, validated rule pack (not yet compiled into matchers).
#[derive(Debug, Clone)]
pub struct RulePack {
    pub version: String,
    pub flag_threshold: f64,
    pub levels: Levels,
    pub slang: HashMap<String, String>,
    /// Tokens read as written (never de-obfuscated or split), e.g. `p3mi`.
    pub keep: Vec<String>,
    pub indicators: Vec<Indicator>,
    /// Indicators kept in the files for history: not loaded, listed for analysts.
    pub retired: Vec<Retired>,
}

/// A retired indicator as written (not validated: it never runs).
#[derive(Debug, Clone)]
pub struct Retired {
    pub id: String,
    pub category: String,
    pub weight: f64,
    pub description: String,
    pub location: Location,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl RulePack {
    /// Parses and validates the files of a rule pack. Retired indicators are set aside here.
    pub fn parse(sources: &[RuleSource]) -> Result<RulePack, RuleError> {
        let mut header: Option<(RulesetHeader, Location)> = None;
        let mut slang = HashMap::new();
        let mut keep = Vec::new();
        let mut indicators = Vec::new();
        let mut retired = Vec::new();
        for source in sources {
            let file: RuleFile = toml::from_str(&source.text).map_err(|e| RuleError {
                location: Location {
                    file: source.name.clone(),
                    line: e.span().map(|s| line_of(&source.text, s.start)),
                    rule: None,
                },
                message: e.message().trim().to_string(),
            })?;
            if let Some(h) = file.ruleset {
                let location = Location {
                    file: source.name.clone(),
                    line: Some(line_of(&source.text, h.span().start)),
                    rule: None,
                };
                if let Some((_, first)) = &header {
                    return Err(RuleError {
                        location,
                        message: format!(
                            "a second [ruleset] table; the first is in {}",
                            first.file
                        ),
                    });
                }
                header = Some((h.into_inner(), location));
            }
            if let Some(n) = file.normalize {
                keep.extend(n.keep);
                for (k, v) in n.slang {
                    if k.is_empty() || !k.chars().all(char::is_alphanumeric) {
                        return Err(RuleError {
                            location: Location {
                                file: source.name.clone(),
                                line: None,
                                rule: None,
                            },
                            message: format!(
                                "slang key {k:?} must be one word of letters or digits"
                            ),
                        });
                    }
                    slang.insert(k.to_lowercase(), v);
                }
            }
            for def in file.indicator {
                let location = Location {
                    file: source.name.clone(),
                    line: Some(line_of(&source.text, def.span().start)),
                    rule: Some(def.get_ref().id.clone()),
                };
                if def.get_ref().status == Status::Retired {
                    let def = def.into_inner();
                    retired.push(Retired {
                        id: def.id,
                        category: def.category,
                        weight: def.weight,
                        description: def.description,
                        location,
                    });
                    continue;
                }
                indicators.push(validate_indicator(
                    def.into_inner(),
                    location,
                    &source.text,
                )?);
            }
        }
        let Some((header, header_location)) = header else {
            let file = sources
                .first()
                .map_or_else(|| "(none given)".to_string(), |s| s.name.clone());
            return Err(RuleError {
                location: Location {
                    file,
                    line: None,
                    rule: None,
                },
                message: "no [ruleset] table with version, flag_threshold and levels; add one (see seeds/rules/README.md)".into(),
            });
        };
        let l = header.levels;
        let ordered = 0.0 < l.low && l.low <= l.medium && l.medium <= l.high && l.high <= 1.0;
        if !(ordered && (0.0..=1.0).contains(&header.flag_threshold)) {
            return Err(RuleError {
                location: header_location,
                message: "levels must satisfy 0 < low <= medium <= high <= 1 and flag_threshold must be in [0, 1]".into(),
            });
        }
        check_references(&indicators)?;
        Ok(RulePack {
            version: header.version,
            flag_threshold: header.flag_threshold,
            levels: header.levels,
            slang,
            keep,
            indicators,
            retired,
        })
    }
}

fn validate_indicator(
    def: IndicatorDef,
    mut location: Location,
    text: &str,
) -> Result<Indicator, RuleError> {
    let err = |location: &Location, message: String| RuleError {
        location: location.clone(),
        message,
    };
    if !CATEGORIES.contains(&def.category.as_str()) {
        return Err(err(
            &location,
            format!(
                "unknown category {:?}; use one of: {}",
                def.category,
                CATEGORIES.join(", ")
            ),
        ));
    }
    if !def.id.starts_with(&format!("{}.", def.category)) {
        return Err(err(
            &location,
            format!("the id must start with its category: `{}.…`", def.category),
        ));
    }
    if !(def.weight.is_finite() && def.weight.abs() <= MAX_WEIGHT) {
        return Err(err(
            &location,
            format!(
                "weight {} is outside [-{MAX_WEIGHT}, {MAX_WEIGHT}]",
                def.weight
            ),
        ));
    }
    if def.keywords.is_empty() && def.patterns.is_empty() {
        return Err(err(&location, "has neither keywords nor patterns".into()));
    }
    if let Some(k) = def.keywords.iter().find(|k| k.trim().is_empty()) {
        return Err(err(&location, format!("empty keyword {k:?}")));
    }
    let mut patterns = Vec::with_capacity(def.patterns.len());
    for p in def.patterns {
        let line = line_of(text, p.span().start);
        let pattern = p.into_inner();
        let bad = |message: String| {
            let mut at = location.clone();
            at.line = Some(line);
            Err(RuleError {
                location: at,
                message,
            })
        };
        match regex::Regex::new(&pattern) {
            Err(e) => return bad(format!("invalid regex {pattern:?}: {e}")),
            Ok(re) if re.is_match("") => {
                return bad(format!(
                    "regex {pattern:?} matches the empty string; it would fire everywhere"
                ));
            }
            Ok(_) => patterns.push(pattern),
        }
    }
    let near = match def.near {
        Some(n) if n.categories.is_empty() && n.indicators.is_empty() => {
            return Err(err(
                &location,
                "`near` names no categories or indicators".into(),
            ));
        }
        Some(n) if n.within == 0 => {
            return Err(err(
                &location,
                "`near.within` must be at least 1 word".into(),
            ));
        }
        Some(n) => Some(Near {
            targets: n.categories.into_iter().chain(n.indicators).collect(),
            within: n.within,
        }),
        None => None,
    };
    location.rule = Some(def.id.clone());
    Ok(Indicator {
        id: def.id,
        category: def.category,
        status: def.status,
        weight: def.weight,
        description: def.description,
        keywords: def.keywords,
        patterns,
        lang: def.lang,
        requires: def.requires,
        excludes: def.excludes,
        near,
        examples: def.examples,
        location,
    })
}

/// Every id is unique, and every `requires`, `excludes` and `near` target names a known
/// indicator or category.
fn check_references(indicators: &[Indicator]) -> Result<(), RuleError> {
    let mut ids = HashSet::new();
    for ind in indicators {
        if !ids.insert(ind.id.as_str()) {
            return Err(RuleError {
                location: ind.location.clone(),
                message: "this id is used by another indicator; ids must be unique".into(),
            });
        }
    }
    for ind in indicators {
        let near = ind.near.iter().flat_map(|n| n.targets.iter());
        for target in ind.requires.iter().chain(&ind.excludes).chain(near) {
            if !ids.contains(target.as_str()) && !CATEGORIES.contains(&target.as_str()) {
                return Err(RuleError {
                    location: ind.location.clone(),
                    message: format!(
                        "refers to {target:?}, which is neither a category nor a loaded indicator id (retired indicators are not loaded)"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "[ruleset]\nversion = \"t1\"\nflag_threshold = 0.5\n[ruleset.levels]\nlow = 0.2\nmedium = 0.5\nhigh = 0.75\n";

    fn parse(indicators: &str) -> Result<RulePack, RuleError> {
        RulePack::parse(&[
            RuleSource::new("ruleset.toml", HEADER),
            RuleSource::new("route.toml", indicators),
        ])
    }

    #[test]
    fn reports_invalid_regex_with_file_line_and_rule() {
        let file = "[[indicator]]\nid = \"route.tikus\"\ncategory = \"route\"\nstatus = \"active\"\nweight = 0.4\ndescription = \"x\"\npatterns = [\n  'jalan\\s+tikus',\n  'lewat (hutan',\n]\n";
        let e = parse(file).unwrap_err();
        assert_eq!(e.location.file, "route.toml");
        assert_eq!(e.location.line, Some(9));
        assert_eq!(e.location.rule.as_deref(), Some("route.tikus"));
        assert!(
            e.to_string()
                .starts_with("rules file route.toml, line 9: rule `route.tikus`: invalid regex"),
            "{e}"
        );
    }

    #[test]
    fn reports_toml_syntax_errors_with_line() {
        let e = parse("[[indicator]]\nid = \"route.x\"\nweight = = 3\n").unwrap_err();
        assert_eq!(e.location.line, Some(3));
    }

    #[test]
    fn rejects_unknown_fields_categories_and_references() {
        let base = "[[indicator]]\nid = \"route.x\"\ncategory = \"route\"\nstatus = \"active\"\nweight = 0.4\ndescription = \"x\"\nkeywords = [\"a\"]\n";
        let e = parse(&format!("{base}wieght = 2\n")).unwrap_err();
        assert!(e.message.contains("wieght"), "{e}");
        let e = parse(&base.replace("category = \"route\"", "category = \"routes\"")).unwrap_err();
        assert!(e.message.contains("unknown category"), "{e}");
        let e = parse(&format!("{base}requires = [\"dest.nowhere\"]\n")).unwrap_err();
        assert!(e.message.contains("dest.nowhere"), "{e}");
        let e = parse(&format!("{base}{base}")).unwrap_err();
        assert!(e.message.contains("unique"), "{e}");
        let e = parse(&base.replace("0.4", "7")).unwrap_err();
        assert!(e.message.contains("weight"), "{e}");
    }

    #[test]
    fn rejects_patterns_matching_everything_and_missing_header() {
        let file = "[[indicator]]\nid = \"route.x\"\ncategory = \"route\"\nstatus = \"active\"\nweight = 0.4\ndescription = \"x\"\npatterns = ['a*']\n";
        assert!(parse(file).unwrap_err().message.contains("empty string"));
        let e = RulePack::parse(&[RuleSource::new("a.toml", "")]).unwrap_err();
        assert!(e.message.contains("[ruleset]"));
    }

    #[test]
    fn sets_retired_indicators_aside() {
        let file = "[[indicator]]\nid = \"route.old\"\ncategory = \"route\"\nstatus = \"retired\"\nweight = 0.4\ndescription = \"x\"\nkeywords = [\"a\"]\n";
        let pack = parse(file).unwrap();
        assert!(pack.indicators.is_empty());
        let ids: Vec<_> = pack.retired.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["route.old"]);
    }
}
