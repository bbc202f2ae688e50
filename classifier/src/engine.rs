//! The compiled rule engine. One Aho-Corasick pass finds every keyword, every gazetteer name and
//! the literal prefixes of the patterns (the one-byte literals only patterns use, such as digits,
//! are looked up in a table as the pass reads each byte: in the automaton they were most of its
//! matches); a pattern with a literal prefix is only tried, anchored, where one of its prefixes
//! occurred and is followed by bytes a match can go on with (see [`crate::anchored::Follow`]).
//! Literals are read from the patterns with `\s` as a space, the only white space normalised
//! text has. The same pass looks for the literals a pattern's matches must contain (its required
//! literals; a one-byte one nothing else uses is looked for after the pass): a pattern none of
//! whose required literals occurred is not run at all, and one without prefixes whose literals
//! did runs over the whole text, or, on ASCII text, where its prefixes read as ASCII occur (a
//! pattern starting with `\d`). Patterns with neither go through one `RegexSet` pass, and only
//! those that matched are re-scanned. Then conditions and scoring.
//!
//! Why the prefilter rather than one `RegexSet` over every pattern: analysts' patterns use
//! bounded repeats (`(\S+\s+){0,6}`, `[^\n]{0,30}`) whose combined automaton explodes; measured
//! on the development corpus, one set over the pack ran ~10× slower than the patterns one by
//! one, while the literal prefilter skips most patterns for most posts.
//!
//! Why anchored runs at the prefix positions rather than a scan of the whole text: every match
//! of such a pattern starts with one of its prefixes (that is what the literal extractor
//! guarantees, and what the regex crate's own prefilters rely on), so its matches can only start
//! where the Aho-Corasick pass saw a prefix, and anchored searches there give exactly the
//! matches of `find_iter` (see [`crate::anchored`]) without the unanchored scan to the end of the
//! text and the reverse scan for each match's start, which were a third of the engine's time.
//! The anchored searches run on a backtracker over a small program per pattern (see
//! [`crate::backtrack`]), which finds the regex's match without walking one of ~250 lazy DFAs'
//! tables; the regex answers where the backtracker cannot.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind};
use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use regex::RegexSet;
use regex_automata::meta::Regex;
use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};

use crate::anchored::{ByteSet, Follow, anchored_at, each_match, is_word_boundary};
use crate::backtrack::Program;
use crate::entities::{EntityKind, entities, salaries};
use crate::gazetteer::Gazetteer;
use crate::normalize::{Normalized, Normalizer, is_cjk, is_han};
use crate::rules::{Indicator, Lang, Levels, Location, RuleError, RulePack, Status};
use crate::verdict::{DestinationMatch, FiredIndicator, Level, PlaceMatch, Span, Verdict};

/// Who a keyword belongs to, when it stands for a word of the text: it counts only on word
/// boundaries.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Indicator(usize),
    Place(usize),
    Destination(usize),
    Audience,
}

/// Everything a keyword stands for, gathered at build time.
#[derive(Default)]
struct KeyOwners {
    words: Vec<Owner>,
    /// Patterns it is a literal prefix of, with what may follow it in their matches: where it
    /// occurs, followed by that, they are tried.
    triggers: Vec<(usize, Follow)>,
    /// Patterns it is a required literal of: unless one occurs, they are not tried. Literals
    /// taken from patterns count wherever they occur, word boundaries or not.
    required: Vec<usize>,
}

/// Where the matches of one keyword go: ranges of the classifier's flat owner tables, so
/// routing a match is a few look-ups in contiguous memory.
#[derive(Debug, Clone, Copy)]
struct Route {
    words: (u32, u32),
    triggers: (u32, u32),
    required: (u32, u32),
    /// Whether a match needs a word boundary at its (start, end) to count for `words`.
    bounds: (bool, bool),
}

impl Route {
    /// Whether the keyword is a literal prefix of some pattern.
    fn has_triggers(&self) -> bool {
        self.triggers.0 < self.triggers.1
    }
}

/// The flat tables every [`Route`] points into.
#[derive(Default)]
struct Routes {
    words: Vec<Owner>,
    triggers: Vec<Trigger>,
    /// Pattern indices, for `required`.
    patterns: Vec<usize>,
    /// The distinct [`Follow`]s of `triggers`: most prefixes share a few.
    follows: Vec<Follow>,
    follow_ids: HashMap<Follow, u32>,
}

/// A pattern a keyword is a literal prefix of, and what may follow the keyword in its matches
/// (an index in [`Routes::follows`]).
#[derive(Debug, Clone, Copy)]
struct Trigger {
    pattern: usize,
    follow: u32,
    /// What gates the pattern's matches at this prefix, kept here so that the scan reads one
    /// table.
    gates: Gates,
}

/// What a pattern's literals say about where its matches can start, beyond its prefixes.
#[derive(Debug, Clone, Copy)]
struct Gates {
    /// It is only tried once one of its required literals occurred: after the start of the
    /// match, or (`required_at_start`, when the literals were not taken after a prefix) from it.
    has_required: bool,
    required_at_start: bool,
    /// Every match starts at a Unicode word boundary.
    at_word_boundary: bool,
    /// Its prefixes hold on ASCII text only (see [`ascii_prefix_literals`]).
    ascii_only: bool,
}

impl Gates {
    /// Whether a required literal started at or after `start` (as `required_last` says, +1).
    fn required_seen(&self, start: usize, required_last: usize) -> bool {
        !self.has_required || start + usize::from(!self.required_at_start) < required_last
    }
}

impl Routes {
    /// `gates`: each pattern's, by index.
    fn add(&mut self, key: &str, owners: KeyOwners, gates: &[Gates]) -> Route {
        fn extend<T>(table: &mut Vec<T>, items: Vec<T>) -> (u32, u32) {
            let start = table.len();
            table.extend(items);
            (range_end(start), range_end(table.len()))
        }
        let not_cjk = |c: Option<char>| c.is_some_and(|c| !is_cjk(c));
        let bounds = if owners.words.is_empty() {
            (false, false)
        } else {
            (
                not_cjk(key.chars().next()),
                not_cjk(key.chars().next_back()),
            )
        };
        // A literal may come from several alternatives of one pattern.
        let mut triggers = owners.triggers;
        triggers.sort_unstable_by_key(|&(p, _)| p);
        triggers.dedup_by_key(|&mut (p, _)| p);
        let triggers: Vec<Trigger> = triggers
            .into_iter()
            .map(|(pattern, follow)| {
                let next = range_end(self.follows.len());
                let id = *self.follow_ids.entry(follow).or_insert(next);
                if id == next {
                    self.follows.push(follow);
                }
                Trigger {
                    pattern,
                    follow: id,
                    gates: gates[pattern],
                }
            })
            .collect();
        let triggers = extend(&mut self.triggers, triggers);
        let mut required = owners.required;
        required.sort_unstable();
        required.dedup();
        let required = extend(&mut self.patterns, required);
        Route {
            words: extend(&mut self.words, owners.words),
            triggers,
            required,
            bounds,
        }
    }

    fn words(&self, route: &Route) -> &[Owner] {
        &self.words[route.words.0 as usize..route.words.1 as usize]
    }

    /// The triggers of a route, by its range of the table.
    fn triggers(&self, (start, end): (u32, u32)) -> &[Trigger] {
        &self.triggers[start as usize..end as usize]
    }

    fn follow(&self, trigger: &Trigger) -> &Follow {
        &self.follows[trigger.follow as usize]
    }

    fn required(&self, route: &Route) -> &[usize] {
        &self.patterns[route.required.0 as usize..route.required.1 as usize]
    }
}

/// A table length as a range end; rule packs are far smaller than `u32::MAX` entries.
fn range_end(len: usize) -> u32 {
    u32::try_from(len).expect("fewer than 2^32 keyword owners")
}

/// A compiled pattern and the indicator it counts for.
struct Pattern {
    regex: Regex,
    /// The same for anchored searches, when the pattern has literal prefixes and the
    /// backtracker can run it (see [`crate::backtrack`]).
    program: Option<Program>,
    /// The indicator it belongs to.
    owner: usize,
    /// It has no literal prefixes but ASCII ones: on ASCII text it is tried where they occur.
    ascii_prefixed: bool,
}

/// Most literal prefixes taken from one pattern; a pattern with more goes to the `RegexSet`.
const MAX_TRIGGERS: usize = 64;

/// What the literals of a pattern tell about where its matches can be.
#[derive(Default)]
struct PatternLiterals {
    /// Every match starts with one of these, when such a set was found.
    prefixes: Option<Vec<String>>,
    /// Every match contains one of these (after its prefix, if it has prefixes), when such a
    /// set was found.
    required: Option<Vec<String>>,
    /// Every match starts at a Unicode word boundary (the pattern begins with `\b`).
    at_word_boundary: bool,
}

impl PatternLiterals {
    fn of(pattern: &str) -> PatternLiterals {
        let Ok(hir) = regex_syntax::parse(pattern) else {
            return PatternLiterals::default();
        };
        let hir = spaces_as_normalised(&hir);
        let prefixes = prefix_literals(&hir);
        PatternLiterals {
            required: required_literals(&hir, prefixes.is_some()),
            prefixes,
            at_word_boundary: hir
                .properties()
                .look_set_prefix()
                .contains(regex_syntax::hir::Look::WordUnicode),
        }
    }
}

/// `hir` with `\s` read as a space, the only white space normalised text has (every run of it
/// is one space there): in normalised text it matches what `hir` matches, and its literals are
/// longer (`di ` for `\b(di|ke)\s+…` where `di` alone is in one word in ten).
fn spaces_as_normalised(hir: &Hir) -> Hir {
    // Unicode's and, in patterns read as ASCII, ASCII's.
    static WHITE_SPACE: LazyLock<[Hir; 2]> = LazyLock::new(|| {
        [r"\s", r"(?-u:\s)"].map(|s| regex_syntax::parse(s).expect("static regex"))
    });
    let each = |parts: &[Hir]| parts.iter().map(spaces_as_normalised).collect::<Vec<_>>();
    match hir.kind() {
        HirKind::Class(_) if WHITE_SPACE.contains(hir) => Hir::literal(*b" "),
        HirKind::Concat(parts) => Hir::concat(each(parts)),
        HirKind::Alternation(parts) => Hir::alternation(each(parts)),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            sub: Box::new(spaces_as_normalised(&rep.sub)),
            ..rep.clone()
        }),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(spaces_as_normalised(&capture.sub)),
            ..capture.clone()
        }),
        _ => hir.clone(),
    }
}

/// The literal prefixes every match of `hir` starts with, when there are few enough.
fn prefix_literals(hir: &Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_total(MAX_TRIGGERS);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    if literals.is_empty()
        || literals.len() > MAX_TRIGGERS
        || literals.iter().any(|l| l.as_bytes().is_empty())
    {
        return None;
    }
    literals
        .iter()
        .map(|l| String::from_utf8(l.as_bytes().to_vec()).ok())
        .collect()
}

/// The literal prefixes of `pattern` read as ASCII-only (`\d` as `[0-9]`), when there are few
/// enough: on ASCII text it matches what the pattern matches, so there every match starts with
/// one of them. Patterns that start with a digit have no prefixes otherwise (every Unicode digit
/// can start them).
fn ascii_prefix_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .build()
        .parse(pattern)
        .ok()?;
    prefix_literals(&spaces_as_normalised(&hir))
}

/// Literals one of which every match contains: the prefixes of one part of the pattern's
/// top-level sequence (`\b(lewat|ikut)\s+(\S+\s+){0,2}(hutan|sungai)\b` → `hutan`, `sungai`),
/// the part whose shortest literal is longest. Every part of a sequence must match, and a part
/// whose matches may be empty has no such literals, so the set is necessary. With `after_prefix`
/// the first part with literals, where the pattern's prefixes come from, is left out: the set
/// then says something new, and its literals start after the start of the match.
///
/// Even sets of one-byte literals (`$`) are used: on the built-in pack they save more searches
/// than their Aho-Corasick matches cost.
fn required_literals(hir: &Hir, after_prefix: bool) -> Option<Vec<String>> {
    let HirKind::Concat(parts) = hir.kind() else {
        return None;
    };
    let shortest = |set: &Vec<String>| set.iter().map(String::len).min().unwrap_or(0);
    let mut sets = parts.iter().filter_map(prefix_literals);
    if after_prefix {
        sets.next()?;
    }
    sets.max_by_key(|set| (shortest(set), std::cmp::Reverse(set.len())))
}

/// Indicator indices named by ids or categories.
fn resolve(indicators: &[Indicator], names: &[String]) -> Vec<usize> {
    (0..indicators.len())
        .filter(|&j| {
            names
                .iter()
                .any(|n| *n == indicators[j].id || *n == indicators[j].category)
        })
        .collect()
}

/// An indicator's conditions with their targets resolved to indices once, at build time.
#[derive(Debug, Clone, Default)]
struct Conditions {
    near: Option<(Vec<usize>, usize)>,
    requires: Vec<usize>,
    excludes: Vec<usize>,
}

impl Conditions {
    /// No condition at all.
    fn is_empty(&self) -> bool {
        self.near.is_none() && self.requires.is_empty() && self.excludes.is_empty()
    }
}

/// Whether language detection runs. Without it, language-scoped rules see every text as
/// Indonesian/Malay unless it contains Chinese characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageDetection {
    On,
    Off,
}

/// A compiled rule pack. Build once, classify many texts; `classify` takes `&self` and is safe to
/// call from many threads.
pub struct Classifier {
    version: Arc<str>,
    flag_threshold: f64,
    levels: Levels,
    indicators: Vec<Indicator>,
    normalizer: Normalizer,
    keywords: contiguous::NFA,
    /// The route of each keyword of `keywords`, by pattern id.
    keyword_routes: Vec<Route>,
    /// Keywords of one ASCII byte that only patterns use (digits, `$`, `+`): they are looked
    /// for by a byte table as the Aho-Corasick pass goes, instead of in the automaton, where
    /// they would be most of the matches to report. Indexed by byte.
    byte_routes: [Option<Route>; 128],
    /// Required literals of one ASCII byte that are nothing else's keyword, with their pattern:
    /// only the last occurrence counts, so it is looked for once the pass is done rather than
    /// reported at every one (a `k` is in one word in three).
    required_bytes: Vec<(usize, u8)>,
    /// The bytes with a route in `byte_routes`.
    route_bytes: ByteSet,
    routes: Routes,
    /// Patterns with required literals but no literal prefix, run on the whole text when one of
    /// their required literals occurred.
    unprefixed: Vec<usize>,
    /// Patterns with neither, and their indices in `patterns`.
    fallback: RegexSet,
    fallback_ids: Vec<usize>,
    patterns: Vec<Pattern>,
    conditions: Vec<Conditions>,
    gazetteer: Gazetteer,
    /// What verdicts name, shared by all of them (see [`crate::verdict`]).
    names: Names,
    detector: Option<LanguageDetector>,
}

/// The rule pack's and the gazetteer's names as verdicts hold them.
struct Names {
    /// Per indicator: id, category, description.
    indicators: Vec<[Arc<str>; 3]>,
    /// Per place: name, kind, regency.
    places: Vec<[Arc<str>; 3]>,
    /// Per destination: name, country.
    destinations: Vec<[Arc<str>; 2]>,
}

impl Names {
    fn of(indicators: &[Indicator], gazetteer: &Gazetteer) -> Names {
        let name = |s: &String| Arc::<str>::from(s.as_str());
        Names {
            indicators: indicators
                .iter()
                .map(|i| [name(&i.id), name(&i.category), name(&i.description)])
                .collect(),
            places: gazetteer
                .place
                .iter()
                .map(|p| [name(&p.name), name(&p.kind), name(&p.regency)])
                .collect(),
            destinations: gazetteer
                .destination
                .iter()
                .map(|d| [name(&d.name), name(&d.country)])
                .collect(),
        }
    }
}

/// An example from a rule file that did not behave as the file says.
#[derive(Debug, Clone)]
pub struct ExampleFailure {
    pub indicator: String,
    pub location: Location,
    pub text: String,
    /// True when the example should have matched and did not.
    pub expected_match: bool,
}

/// Counts from a run of the rule files' examples.
#[derive(Debug, Clone)]
pub struct ExampleReport {
    pub checked: usize,
    pub failures: Vec<ExampleFailure>,
    /// Indicators with no `match` example or no `no_match` example.
    pub without_examples: Vec<String>,
}

impl Classifier {
    /// Compiles a rule pack and gazetteer.
    pub fn new(
        pack: RulePack,
        gazetteer: Gazetteer,
        detection: LanguageDetection,
    ) -> Result<Classifier, RuleError> {
        let normalizer = Normalizer::new(pack.slang.clone(), pack.keep.clone());
        let mut by_keyword: BTreeMap<String, KeyOwners> = BTreeMap::new();
        let mut add = |k: &str, owner: Owner| {
            let norm = normalizer.normalize(k).text().to_string();
            if !norm.is_empty() {
                by_keyword.entry(norm).or_default().words.push(owner);
            }
        };
        for (i, ind) in pack.indicators.iter().enumerate() {
            for k in &ind.keywords {
                add(k, Owner::Indicator(i));
            }
        }
        for (i, p) in gazetteer.place.iter().enumerate() {
            for k in std::iter::once(&p.name).chain(&p.aliases) {
                add(k, Owner::Place(i));
            }
        }
        for (i, d) in gazetteer.destination.iter().enumerate() {
            for k in std::iter::once(&d.name).chain(&d.aliases) {
                add(k, Owner::Destination(i));
            }
        }
        for k in &gazetteer.audience {
            add(k, Owner::Audience);
        }
        let mut patterns = Vec::new();
        let mut gates = Vec::new();
        let mut unprefixed = Vec::new();
        let mut fallback_ids = Vec::new();
        let mut fallback_patterns = Vec::new();
        for (i, ind) in pack.indicators.iter().enumerate() {
            for p in &ind.patterns {
                // Validated when the pack was parsed; compile errors here are still reported.
                let re = Regex::new(p).map_err(|e| RuleError {
                    location: ind.location.clone(),
                    message: format!("invalid regex {p:?}: {e}"),
                })?;
                let id = patterns.len();
                let literals = PatternLiterals::of(p);
                // Without prefixes a pattern with required literals is searched on the whole
                // text; on ASCII text, prefixes read as ASCII can start it instead.
                let ascii_prefixes = (literals.prefixes.is_none() && literals.required.is_some())
                    .then(|| ascii_prefix_literals(p))
                    .flatten();
                if let Some(prefixes) = literals.prefixes.as_ref().or(ascii_prefixes.as_ref()) {
                    for (key, follow) in prefixes.iter().zip(Follow::of_prefixes(p, prefixes)) {
                        by_keyword
                            .entry(key.clone())
                            .or_default()
                            .triggers
                            .push((id, follow));
                    }
                }
                for key in literals.required.iter().flatten() {
                    by_keyword.entry(key.clone()).or_default().required.push(id);
                }
                match (&literals.prefixes, &literals.required) {
                    (Some(_), _) => {}
                    (None, Some(_)) => unprefixed.push(id),
                    (None, None) => {
                        fallback_ids.push(id);
                        fallback_patterns.push(p.as_str());
                    }
                }
                patterns.push(Pattern {
                    regex: re,
                    // The patterns in the `RegexSet` are never searched anchored.
                    program: (literals.prefixes.is_some() || literals.required.is_some())
                        .then(|| Program::new(p))
                        .flatten(),
                    owner: i,
                    ascii_prefixed: ascii_prefixes.is_some(),
                });
                gates.push(Gates {
                    has_required: literals.required.is_some(),
                    required_at_start: literals.prefixes.is_none(),
                    at_word_boundary: literals.at_word_boundary,
                    ascii_only: ascii_prefixes.is_some(),
                });
            }
        }
        // A one-byte required literal that nothing else looks for is found by `memrchr` after
        // the pass instead of at every occurrence.
        let mut required_bytes = Vec::new();
        by_keyword.retain(|key, owners| match key.as_bytes() {
            &[b] if b.is_ascii() && owners.words.is_empty() && owners.triggers.is_empty() => {
                required_bytes.extend(owners.required.iter().map(|&p| (p, b)));
                false
            }
            _ => true,
        });
        let mut routes = Routes::default();
        let mut byte_routes = [None; 128];
        let mut route_bytes = ByteSet::default();
        let mut keys = Vec::new();
        let mut keyword_routes = Vec::new();
        for (key, owners) in by_keyword {
            let only_patterns = owners.words.is_empty();
            let route = routes.add(&key, owners, &gates);
            match key.as_bytes() {
                &[b] if only_patterns && b.is_ascii() => {
                    byte_routes[usize::from(b)] = Some(route);
                    route_bytes.insert(b);
                }
                _ => {
                    keys.push(key);
                    keyword_routes.push(route);
                }
            }
        }
        let keywords = contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build(&keys)
            .map_err(|e| RuleError {
                location: pack.indicators.first().map_or_else(
                    || Location {
                        file: "(rule pack)".into(),
                        line: None,
                        rule: None,
                    },
                    |i| i.location.clone(),
                ),
                message: format!("cannot compile the keywords: {e}"),
            })?;
        let fallback = RegexSet::new(&fallback_patterns).map_err(|e| RuleError {
            location: Location {
                file: "(rule pack)".into(),
                line: None,
                rule: None,
            },
            message: format!("the patterns together are too large to compile: {e}"),
        })?;
        let conditions = pack
            .indicators
            .iter()
            .map(|ind| Conditions {
                near: ind
                    .near
                    .as_ref()
                    .map(|n| (resolve(&pack.indicators, &n.targets), n.within)),
                requires: resolve(&pack.indicators, &ind.requires),
                excludes: resolve(&pack.indicators, &ind.excludes),
            })
            .collect();
        let detector = (detection == LanguageDetection::On).then(|| {
            LanguageDetectorBuilder::from_languages(&[
                Language::Indonesian,
                Language::Malay,
                Language::English,
                Language::Chinese,
            ])
            .build()
        });
        Ok(Classifier {
            version: pack.version.into(),
            names: Names::of(&pack.indicators, &gazetteer),
            flag_threshold: pack.flag_threshold,
            levels: pack.levels,
            indicators: pack.indicators,
            normalizer,
            keywords,
            keyword_routes,
            byte_routes,
            route_bytes,
            required_bytes,
            routes,
            unprefixed,
            fallback,
            fallback_ids,
            patterns,
            conditions,
            gazetteer,
            detector,
        })
    }

    /// The rule set's version, recorded on every verdict.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The loaded (active and experimental) indicators.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    pub fn flag_threshold(&self) -> f64 {
        self.flag_threshold
    }

    pub fn levels(&self) -> Levels {
        self.levels
    }

    /// The language bucket of a text (for rules and for the store).
    pub fn detect_language(&self, text: &str) -> Lang {
        self.language_of(text, cjk_count(text))
    }

    /// [`Classifier::detect_language`] for a text with `cjk` Chinese or Japanese characters.
    fn language_of(&self, text: &str, cjk: usize) -> Lang {
        // Only worth counting the letters when there is Chinese or Japanese to weigh them with.
        let letters = || {
            text.chars()
                .filter(|&c| is_han(c) || c.is_alphabetic())
                .count()
        };
        if cjk > 0 && cjk * 2 >= letters() {
            return Lang::Zh;
        }
        match self
            .detector
            .as_ref()
            .and_then(|d| d.detect_language_of(text))
        {
            Some(Language::English) => Lang::En,
            Some(Language::Chinese) => Lang::Zh,
            Some(_) => Lang::IdMs,
            None if self.detector.is_none() => Lang::IdMs,
            None => Lang::Unknown,
        }
    }

    /// Classifies one text.
    pub fn classify(&self, text: &str) -> Verdict {
        SCAN_SCRATCH.with_borrow_mut(|scratch| self.classify_in(text, scratch))
    }

    /// [`Classifier::classify`], in vectors kept between the texts a thread classifies.
    fn classify_in(&self, text: &str, scratch: &mut ScanScratch) -> Verdict {
        let mut norm = std::mem::take(&mut scratch.normalized);
        self.normalizer.normalize_into(text, &mut norm);
        let cjk = if norm.original_is_ascii() {
            0
        } else {
            cjk_count(text)
        };
        let lang = self.language_of(text, cjk);
        let has_cjk = cjk > 0;
        let present = |l: Lang| l == lang || (l == Lang::Zh && has_cjk);

        let t = norm.text();
        let audience = self.scan(t, norm.is_ascii(), scratch);
        self.match_patterns(t, norm.is_ascii(), scratch);
        let ScanScratch {
            hits,
            matched,
            settled,
            counted,
            places,
            destinations,
            ..
        } = scratch;
        // Language scope: a match counts when the post's language, or the language of the
        // sentence it stands in, is in scope (so mixed-language posts work).
        let mut segment_langs: HashMap<(usize, usize), Lang> = HashMap::new();
        // The few indicators that matched, noted as their first matches were: the steps below
        // look at them only.
        matched.sort_unstable();
        // From here on lists only shrink.
        *settled = true;
        for &i in matched.iter() {
            let ind = &self.indicators[i];
            if !ind.lang.is_empty() && !ind.lang.iter().any(|l| present(*l)) {
                hits[i].retain(|&(s, _)| {
                    let (os, _) = norm.original_span(s, s + 1);
                    let seg = segment(text, os);
                    let l = *segment_langs
                        .entry(seg)
                        .or_insert_with(|| self.detect_language(&text[seg.0..seg.1]));
                    ind.lang.contains(&l)
                });
            }
            merge_overlaps(&mut hits[i]);
        }

        self.apply_conditions(&norm, hits, matched);
        let score = self.score(hits, matched, counted);
        let level = self.level(score);
        let span = |(s, e): (usize, usize)| {
            let (s, e) = norm.original_span(s, e);
            Span {
                start: s,
                end: e,
                text: text[s..e].to_string(),
            }
        };
        let indicators = matched
            .iter()
            .filter_map(|&i| {
                let matches = &hits[i];
                let ind = &self.indicators[i];
                (!matches.is_empty()).then(|| {
                    let [id, category, description] = self.names.indicators[i].clone();
                    FiredIndicator {
                        id,
                        category,
                        weight: ind.weight,
                        counted: counted.contains(&i),
                        experimental: ind.status == Status::Experimental,
                        description,
                        matches: matches.iter().copied().map(span).collect(),
                    }
                })
            })
            .collect::<Vec<_>>();
        let places = first_per_name(places)
            .iter()
            .map(|&(i, s)| {
                let [name, kind, regency] = self.names.places[i].clone();
                PlaceMatch {
                    name,
                    kind,
                    regency,
                    span: span(s),
                }
            })
            .collect::<Vec<_>>();
        let destinations = first_per_name(destinations)
            .iter()
            .map(|&(i, s)| {
                let [name, country] = self.names.destinations[i].clone();
                DestinationMatch {
                    name,
                    country,
                    span: span(s),
                }
            })
            .collect();
        let entities = entities(text);
        let local_number = entities.iter().any(|e| {
            e.kind == EntityKind::Phone
                && self.gazetteer.area_codes.iter().any(|c| {
                    e.value
                        .strip_prefix("+62")
                        .is_some_and(|n| n.starts_with(c.as_str()))
                })
        });
        let kalbar = audience
            || local_number
            || !places.is_empty()
            || indicators.iter().any(|i| &*i.category == "kalbar");
        let salaries = salaries(&norm, text);
        scratch.normalized = norm;
        Verdict {
            score,
            level,
            flagged: score >= self.flag_threshold,
            lang,
            kalbar,
            indicators,
            places,
            destinations,
            entities,
            salaries,
            ruleset_version: self.version.clone(),
        }
    }

    /// The one Aho-Corasick pass over the normalised text `t`, which also finds the one-byte
    /// pattern literals. The keywords' matches, and what the patterns need, are left in
    /// `scratch`; returns whether a marker of a Kalbar audience occurred. `ascii`: `t` is.
    fn scan(&self, t: &str, ascii: bool, scratch: &mut ScanScratch) -> bool {
        let mut audience = false;
        let ScanScratch {
            hits,
            matched,
            settled,
            places,
            destinations,
            prefixes,
            starts,
            required_last,
            ..
        } = scratch;
        // Of the last text's lists only those of the indicators it matched hold anything.
        if std::mem::take(settled) {
            for &i in matched.iter() {
                hits[i].clear();
            }
        } else {
            hits.iter_mut().for_each(Vec::clear);
        }
        matched.clear();
        hits.resize_with(self.indicators.len(), Vec::new);
        places.clear();
        destinations.clear();
        prefixes.clear();
        starts.clear();
        required_last.clear();
        required_last.resize(self.patterns.len(), 0);
        for_each_keyword(&self.keywords, t, &self.route_bytes, |hit| {
            let (route, span) = match hit {
                Hit::Keyword(keyword, span) => {
                    let route = &self.keyword_routes[keyword];
                    let words = self.routes.words(route);
                    if !words.is_empty() && on_word_boundaries(t, span.0, span.1, route.bounds) {
                        for owner in words {
                            match *owner {
                                Owner::Indicator(i) => {
                                    record(hits, matched, i, |list| list.push(span))
                                }
                                Owner::Place(i) => places.push((i, span)),
                                Owner::Destination(i) => destinations.push((i, span)),
                                Owner::Audience => audience = true,
                            }
                        }
                    }
                    (route, span)
                }
                Hit::Byte(i, b) => {
                    let route = self.byte_routes[usize::from(b)].as_ref();
                    (
                        route.expect("only bytes with a route are reported"),
                        (i, i + 1),
                    )
                }
            };
            self.saw_required(route, span.0, required_last);
            if route.has_triggers() {
                prefixes.push((route.triggers, span.0, span.1));
            }
        });
        for &(p, b) in &self.required_bytes {
            if let Some(i) = memchr::memrchr(b, t.as_bytes()) {
                required_last[p] = required_last[p].max(i + 1);
            }
        }
        // Most prefixes cannot begin a match: a match starting at `s` holds a required literal
        // after its prefix, past `s` (from `s` on, if the literals were not taken after a
        // prefix), only some bytes may follow the prefix, and a pattern that begins with `\b`
        // only matches at a word boundary. ASCII prefixes count on ASCII text only.
        for &(triggers, s, end) in prefixes.iter() {
            let mut boundary = None;
            for trigger in self.routes.triggers(triggers) {
                let p = trigger.pattern;
                if (ascii || !trigger.gates.ascii_only)
                    && trigger.gates.required_seen(s, required_last[p])
                    && self.routes.follow(trigger).allows(t.as_bytes(), end)
                    && (!trigger.gates.at_word_boundary
                        || *boundary.get_or_insert_with(|| is_word_boundary(t.as_bytes(), s)))
                {
                    starts.push((p, s));
                }
            }
        }
        audience
    }

    /// Records that the required literals of `route` occur at `start`.
    fn saw_required(&self, route: &Route, start: usize, required_last: &mut [usize]) {
        for &p in self.routes.required(route) {
            required_last[p] = required_last[p].max(start + 1);
        }
    }

    /// Adds the matches of the patterns in `t` to the scratch's `hits`, running each pattern
    /// only where the scan of `t` says it can match: anchored at the starts it kept, or on the
    /// whole text when a required literal occurred or the `RegexSet` matched. `ascii`: `t` is.
    fn match_patterns(&self, t: &str, ascii: bool, scratch: &mut ScanScratch) {
        let ScanScratch {
            hits,
            matched,
            starts,
            required_last,
            backtrack,
            ..
        } = scratch;
        starts.sort_unstable();
        starts.dedup();
        for group in starts.chunk_by(|a, b| a.0 == b.0) {
            let pattern = &self.patterns[group[0].0];
            record(hits, matched, pattern.owner, |list| {
                anchored_matches(pattern, t, group.iter().map(|&(_, s)| s), backtrack, list)
            });
        }
        // On ASCII text the scan tried the patterns with ASCII prefixes where those occur.
        let unprefixed = self
            .unprefixed
            .iter()
            .filter(|&&p| required_last[p] > 0 && !(ascii && self.patterns[p].ascii_prefixed));
        let fallback = self
            .fallback
            .matches(t)
            .into_iter()
            .map(|f| self.fallback_ids[f]);
        for pattern in unprefixed
            .copied()
            .chain(fallback)
            .map(|p| &self.patterns[p])
        {
            // Outside ASCII the regex's lazy DFA cannot tell Unicode word boundaries and the
            // regex backtracks over the whole text instead; ours runs anchored wherever a
            // match can start, as it does at prefixes, which costs a fraction of that.
            if let Some(program) = pattern.program.as_ref().filter(|_| !ascii) {
                let starts = t.bytes().enumerate().filter_map(|(i, b)| {
                    (program.may_start_with(b) && t.is_char_boundary(i)).then_some(i)
                });
                record(hits, matched, pattern.owner, |list| {
                    anchored_matches(pattern, t, starts, backtrack, list)
                });
                continue;
            }
            record(hits, matched, pattern.owner, |list| {
                list.extend(
                    pattern
                        .regex
                        .find_iter(t)
                        .filter(|m| !m.is_empty())
                        .map(|m| (m.start(), m.end())),
                )
            });
        }
    }

    /// Applies `near`, `requires` and `excludes`, each against what fired before any condition,
    /// to the matches in `raw`. `matched`: the indicators with matches in `raw`, ascending.
    fn apply_conditions(
        &self,
        norm: &Normalized,
        raw: &mut [Vec<(usize, usize)>],
        matched: &[usize],
    ) {
        // Conditions look at what fired before any of them applied: decide for every indicator
        // first, then apply. `requires` and `excludes` keep all of an indicator's matches or
        // none; only `near` keeps some, and only it needs a new list.
        let mut cleared: Vec<usize> = Vec::new();
        let mut narrowed: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        for &i in matched {
            let cond = &self.conditions[i];
            if raw[i].is_empty() || cond.is_empty() {
                continue;
            }
            let fired_any =
                |targets: &[usize]| targets.iter().any(|&j| j != i && !raw[j].is_empty());
            if (!cond.requires.is_empty() && !fired_any(&cond.requires))
                || (!cond.excludes.is_empty() && fired_any(&cond.excludes))
            {
                cleared.push(i);
                continue;
            }
            if let Some((targets, within)) = &cond.near {
                let anchors: Vec<usize> = targets
                    .iter()
                    .filter(|&&j| j != i)
                    .flat_map(|&j| raw[j].iter().flat_map(|&(s, e)| [s, e.saturating_sub(1)]))
                    .map(|p| norm.word_index(p))
                    .collect();
                let near = |&(s, e): &(usize, usize)| {
                    let (ws, we) = (norm.word_index(s), norm.word_index(e.saturating_sub(1)));
                    anchors
                        .iter()
                        .any(|&a| a.abs_diff(ws).min(a.abs_diff(we)) <= *within)
                };
                if !raw[i].iter().all(near) {
                    narrowed.push((i, raw[i].iter().copied().filter(near).collect()));
                }
            }
        }
        for i in cleared {
            raw[i].clear();
        }
        for (i, kept) in narrowed {
            raw[i] = kept;
        }
    }

    /// Per category, the strongest positive and the strongest negative active weight count:
    /// the score; the indicators counted are left in `counted`. `matched`: the indicators that
    /// may have fired, ascending.
    fn score(
        &self,
        fired: &[Vec<(usize, usize)>],
        matched: &[usize],
        counted: &mut Vec<usize>,
    ) -> f64 {
        let key = |i: usize| {
            let ind = &self.indicators[i];
            (ind.category.as_str(), ind.weight > 0.0)
        };
        // The strongest indicator of each (category, positive) so far: a post fires a few.
        counted.clear();
        for &i in matched {
            let ind = &self.indicators[i];
            if fired[i].is_empty() || ind.status != Status::Active || ind.weight == 0.0 {
                continue;
            }
            let this = key(i);
            match counted.iter_mut().find(|j| key(**j) == this) {
                Some(j) if ind.weight.abs() > self.indicators[*j].weight.abs() => *j = i,
                Some(_) => {}
                None => counted.push(i),
            }
        }
        // Added up in the order of the keys, as scores always were.
        counted.sort_unstable_by_key(|&i| key(i));
        // From +0.0: a sum of no weights is 0, not the -0.0 that `Iterator::sum` starts from.
        let sum = counted
            .iter()
            .fold(0.0, |sum, &i| sum + self.indicators[i].weight);
        (sum.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
    }

    fn level(&self, score: f64) -> Level {
        let l = self.levels;
        if score >= l.high {
            Level::High
        } else if score >= l.medium {
            Level::Medium
        } else if score >= l.low {
            Level::Low
        } else {
            Level::None
        }
    }

    /// Runs every example in the rule files: each `match` text must make its indicator fire and
    /// each `no_match` text must not.
    pub fn test_examples(&self) -> ExampleReport {
        let mut report = ExampleReport {
            checked: 0,
            failures: Vec::new(),
            without_examples: Vec::new(),
        };
        for ind in &self.indicators {
            let ex = &ind.examples;
            if ex.must_match.is_empty() || ex.no_match.is_empty() {
                report.without_examples.push(ind.id.clone());
            }
            let cases = ex
                .must_match
                .iter()
                .map(|t| (t, true))
                .chain(ex.no_match.iter().map(|t| (t, false)));
            for (text, expected_match) in cases {
                report.checked += 1;
                let fired = self.classify(text).indicator_ids().any(|id| id == ind.id);
                if fired != expected_match {
                    report.failures.push(ExampleFailure {
                        indicator: ind.id.clone(),
                        location: ind.location.clone(),
                        text: text.clone(),
                        expected_match,
                    });
                }
            }
        }
        report
    }
}

/// Lets `find` add to indicator `owner`'s matches, noting the indicator in `matched` when they
/// are its first.
fn record(
    hits: &mut [Vec<(usize, usize)>],
    matched: &mut Vec<usize>,
    owner: usize,
    find: impl FnOnce(&mut Vec<(usize, usize)>),
) {
    let list = &mut hits[owner];
    let first = list.is_empty();
    find(list);
    if first && !list.is_empty() {
        matched.push(owner);
    }
}

/// The matches `pattern.regex.find_iter(t)` would give, found by anchored searches at `starts`
/// (ascending), which hold every position where a match can begin.
fn anchored_matches(
    pattern: &Pattern,
    t: &str,
    starts: impl Iterator<Item = usize>,
    backtrack: &mut Vec<(u32, usize)>,
    out: &mut Vec<(usize, usize)>,
) {
    each_match(starts, |s| {
        let end = match pattern
            .program
            .as_ref()
            .map(|p| p.match_at(t, s, backtrack))
        {
            Some(Ok(end)) => end,
            // Not compiled, or too many steps: the regex answers.
            _ => pattern.regex.search(&anchored_at(t, s)).map(|m| m.end()),
        }?;
        out.push((s, end));
        Some(end)
    });
}

/// What the scan and the patterns find, and what the scan leaves for the patterns, in vectors
/// kept between the texts a thread classifies so that each text does not allocate, zero and
/// grow them again.
#[derive(Default)]
struct ScanScratch {
    /// The normalised text, whose buffers the next text is written in.
    normalized: Normalized,
    /// The matches of each indicator, keyword and pattern ones, by index (their lists keep
    /// their room from text to text).
    hits: Vec<Vec<(usize, usize)>>,
    /// The indicators with matches, in the order of their first until the scan and the patterns
    /// are done, then ascending.
    matched: Vec<usize>,
    /// Whether `matched` names every list in `hits` that is not empty, so that the next text
    /// need clear only those: not before the first text, nor after one that panicked half way.
    settled: bool,
    /// The indicators whose weights the score counts.
    counted: Vec<usize>,
    /// Gazetteer places and destinations the scan found, by index, with their spans.
    places: Vec<(usize, (usize, usize))>,
    destinations: Vec<(usize, (usize, usize))>,
    /// Where literal prefixes occur (start, end), with their triggers (a range of the
    /// routes' table): which of their patterns to try there is known once every required
    /// literal has been seen.
    prefixes: Vec<((u32, u32), usize, usize)>,
    /// (pattern, position) for every occurrence of a pattern's literal prefix where a match of
    /// the pattern can start.
    starts: Vec<(usize, usize)>,
    /// For every pattern with required literals, where the last one starts (+1; 0: none).
    required_last: Vec<usize>,
    /// The backtracker's stack (see [`Program::match_at`]).
    backtrack: Vec<(u32, usize)>,
}

thread_local! {
    static SCAN_SCRATCH: RefCell<ScanScratch> = RefCell::default();
}

#[cfg(test)]
impl Classifier {
    /// The pattern matches in `text`, per indicator, found as the engine finds them and by
    /// running every pattern over the whole normalised text: they must be the same.
    pub(crate) fn pattern_matches_both_ways(&self, text: &str) -> [Vec<Vec<(usize, usize)>>; 2] {
        let norm = self.normalizer.normalize(text);
        let t = norm.text();
        let mut scratch = ScanScratch::default();
        self.scan(t, norm.is_ascii(), &mut scratch);
        // The keywords' matches, which the scan leaves there, are not the patterns'.
        scratch.hits.iter_mut().for_each(Vec::clear);
        self.match_patterns(t, norm.is_ascii(), &mut scratch);
        let mut found = scratch.hits;
        let mut every = vec![Vec::new(); self.indicators.len()];
        for pattern in &self.patterns {
            every[pattern.owner].extend(
                pattern
                    .regex
                    .find_iter(t)
                    .filter(|m| !m.is_empty())
                    .map(|m| (m.start(), m.end())),
            );
        }
        for spans in found.iter_mut().chain(every.iter_mut()) {
            spans.sort_unstable();
        }
        [found, every]
    }
}

/// What the walk over a text reports.
#[derive(Debug, Clone, Copy)]
enum Hit {
    /// An occurrence of a keyword: its index and span.
    Keyword(usize, (usize, usize)),
    /// A byte of the set asked for, and where it is.
    Byte(usize, u8),
}

/// Calls `f` with every occurrence of a keyword in `t`, overlapping ones included, in order of
/// their ends and, for one end, of the automaton's matches: what `find_overlapping_iter`
/// reports, without the iterator stopping and resuming at each match. On the same pass, it
/// reports every byte in `bytes`, before the keywords that end with it.
fn for_each_keyword(keywords: &contiguous::NFA, t: &str, bytes: &ByteSet, mut f: impl FnMut(Hit)) {
    let mut state = keywords
        .start_state(Anchored::No)
        .expect("the keyword automaton is built for unanchored searches");
    for (i, &b) in t.as_bytes().iter().enumerate() {
        if bytes.contains(b) {
            f(Hit::Byte(i, b));
        }
        state = keywords.next_state(Anchored::No, state, b);
        if keywords.is_special(state) && keywords.is_match(state) {
            for k in 0..keywords.match_len(state) {
                let keyword = keywords.match_pattern(state, k);
                f(Hit::Keyword(
                    keyword.as_usize(),
                    (i + 1 - keywords.pattern_len(keyword), i + 1),
                ));
            }
        }
    }
}

/// Sorts spans and merges those that overlap, so one stretch of text is reported once.
fn merge_overlaps(spans: &mut Vec<(usize, usize)>) {
    spans.sort_unstable();
    spans.dedup_by(|next, kept| {
        let overlaps = next.0 < kept.1;
        if overlaps {
            kept.1 = kept.1.max(next.1);
        }
        overlaps
    });
}

/// How many characters of `text` are Chinese or Japanese. Each of them is three or four bytes
/// long, the first 0xE2 or above: only those characters are decoded.
fn cjk_count(text: &str) -> usize {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] >= 0xE2 && text[i..].chars().next().is_some_and(is_cjk))
        .count()
}

/// The sentence or line of `text` around byte `pos`.
fn segment(text: &str, pos: usize) -> (usize, usize) {
    let is_end = |c: char| matches!(c, '\n' | '.' | '!' | '?' | '。' | '！' | '？');
    let start = text[..pos].rfind(is_end).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let end = text[pos..].find(is_end).map_or(text.len(), |i| pos + i);
    (start, end.max(start))
}

fn on_word_boundaries(
    t: &str,
    start: usize,
    end: usize,
    (need_start, need_end): (bool, bool),
) -> bool {
    let before = t[..start].chars().next_back();
    let after = t[end..].chars().next();
    let word = |c: Option<char>| c.is_some_and(|c| !is_cjk(c) && c.is_alphanumeric());
    (!need_start || !word(before)) && (!need_end || !word(after))
}

/// Keeps the first match of each gazetteer entry.
fn first_per_name(hits: &mut Vec<(usize, (usize, usize))>) -> &[(usize, (usize, usize))] {
    hits.sort_by_key(|&(i, (s, _))| (i, s));
    hits.dedup_by_key(|h| h.0);
    hits.sort_by_key(|&(_, (s, _))| s);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSource;

    const PACK: &str = r#"
[ruleset]
version = "test-1"
flag_threshold = 0.5
[ruleset.levels]
low = 0.2
medium = 0.5
high = 0.75
[normalize.slang]
jt = "juta"
gk = "tidak"

[[indicator]]
id = "destination.malaysia"
category = "destination"
status = "active"
weight = 0.2
description = "Malaysia"
keywords = ["malaysia", "sarawak"]

[[indicator]]
id = "destination.kamboja"
category = "destination"
status = "active"
weight = 0.3
description = "Cambodia"
keywords = ["kamboja", "柬埔寨"]

[[indicator]]
id = "document.no_passport"
category = "document"
status = "active"
weight = 0.4
description = "No passport needed"
patterns = ['(tidak|tanpa)\s+(perlu\s+)?paspor']
near = { categories = ["destination"], within = 6 }

[[indicator]]
id = "pay.high"
category = "pay"
status = "active"
weight = 0.2
description = "High pay"
patterns = ['gaji\s+\d+\s+juta']
requires = ["destination"]

[[indicator]]
id = "scam_job.cs"
category = "scam_job"
status = "experimental"
weight = 0.3
description = "CS job"
keywords = ["客服", "admin online"]

[[indicator]]
id = "news.arrest"
category = "news"
status = "active"
weight = -0.6
description = "Reporting an arrest"
keywords = ["diamankan", "digagalkan"]
"#;

    const GAZ: &str = r#"
audience = ["kamek"]
area_codes = ["562"]
[[place]]
name = "Singkawang"
kind = "kota"
regency = "Kota Singkawang"
aliases = ["skw"]
[[destination]]
name = "Sarawak"
country = "MY"
aliases = ["kuching"]
"#;

    fn classifier() -> Classifier {
        let pack = RulePack::parse(&[RuleSource::new("t.toml", PACK)]).unwrap();
        let gaz = Gazetteer::parse(&RuleSource::new("g.toml", GAZ)).unwrap();
        Classifier::new(pack, gaz, LanguageDetection::Off).unwrap()
    }

    /// The test pack with `pay.high`'s patterns replaced by `patterns` (TOML literal strings).
    fn with_pay_patterns(patterns: &str) -> Classifier {
        let pack = PACK.replace(
            r"patterns = ['gaji\s+\d+\s+juta']",
            &format!("patterns = [{patterns}]"),
        );
        assert_ne!(pack, PACK);
        let pack = RulePack::parse(&[RuleSource::new("t.toml", pack)]).unwrap();
        let gaz = Gazetteer::parse(&RuleSource::new("g.toml", GAZ)).unwrap();
        Classifier::new(pack, gaz, LanguageDetection::Off).unwrap()
    }

    fn ids(v: &Verdict) -> Vec<&str> {
        v.indicator_ids().collect()
    }

    #[test]
    fn scores_strongest_per_category_and_maps_spans() {
        let text = "Kerja Sarawak, gk perlu paspor, g4ji 8jt!! Kamboja juga ada";
        let v = classifier().classify(text);
        assert_eq!(
            ids(&v),
            [
                "destination.malaysia",
                "destination.kamboja",
                "document.no_passport",
                "pay.high"
            ]
        );
        // destination counts once (0.3, the strongest), + document 0.4 + pay 0.2.
        assert_eq!(v.score, 0.9);
        assert_eq!(v.level, Level::High);
        assert!(v.flagged);
        let doc = &v.indicators[2];
        assert_eq!(doc.matches[0].text, "gk perlu paspor");
        let pay = &v.indicators[3];
        assert_eq!(pay.matches[0].text, "g4ji 8jt");
        assert_eq!(&text[pay.matches[0].start..pay.matches[0].end], "g4ji 8jt");
        assert!(!v.indicators[0].counted && v.indicators[1].counted);
    }

    #[test]
    fn a_text_with_nothing_scores_plus_zero() {
        for text in ["", "selamat pagi semua"] {
            let v = classifier().classify(text);
            assert!(v.indicators.is_empty(), "{text:?}");
            assert!(
                v.score == 0.0 && v.score.is_sign_positive(),
                "{text:?}: {}",
                v.score
            );
        }
    }

    #[test]
    fn near_and_requires_conditions_hold_back_lone_signals() {
        let v = classifier().classify("Tanpa paspor? Cek dulu syaratnya. Gaji 5 juta di kota. Lalu lalu lalu lalu lalu ke Malaysia");
        assert!(ids(&v).contains(&"pay.high"), "{:?}", ids(&v));
        assert!(!ids(&v).contains(&"document.no_passport"), "{:?}", ids(&v));
        let v = classifier().classify("Gaji 5 juta di Pontianak");
        assert!(ids(&v).is_empty(), "{:?}", ids(&v));
    }

    #[test]
    fn negative_context_lowers_the_score() {
        let v = classifier().classify("9 warga digagalkan kerja Kamboja tanpa paspor");
        assert_eq!(v.score, 0.1);
        assert!(!v.flagged);
        assert_eq!(v.level, Level::None);
    }

    #[test]
    fn keywords_need_whole_words_except_chinese() {
        let v = classifier().classify("malaysiana skwad");
        assert!(ids(&v).is_empty() && v.places.is_empty());
        let v = classifier().classify("招聘柬埔寨客服");
        assert_eq!(ids(&v), ["destination.kamboja", "scam_job.cs"]);
        assert!(!v.indicators[1].counted && v.indicators[1].experimental);
        assert_eq!(v.score, 0.3);
    }

    #[test]
    fn finds_kalbar_places_destinations_and_audience() {
        let v = classifier().classify("Dari SKW ke Kuching");
        assert!(v.kalbar);
        assert_eq!(&*v.places[0].name, "Singkawang");
        assert_eq!(v.places[0].span.text, "SKW");
        assert_eq!(&*v.destinations[0].name, "Sarawak");
        assert!(classifier().classify("kamek nak kerja").kalbar);
        assert!(
            classifier().classify("hubungi kantor (0562) 631234").kalbar,
            "a Singkawang landline"
        );
        assert!(
            !classifier().classify("hubungi 0812-5738-2041").kalbar,
            "a mobile number has no region"
        );
        assert!(!classifier().classify("kerja di Jakarta").kalbar);
    }

    #[test]
    fn examples_are_checked() {
        let pack = PACK.replace(
            "keywords = [\"diamankan\", \"digagalkan\"]",
            "keywords = [\"diamankan\", \"digagalkan\"]\n[indicator.examples]\nmatch = [\"3 orang diamankan\", \"ditangkap\"]\nno_match = [\"aman\"]",
        );
        let pack = RulePack::parse(&[RuleSource::new("t.toml", pack)]).unwrap();
        let c = Classifier::new(pack, Gazetteer::default(), LanguageDetection::Off).unwrap();
        let report = c.test_examples();
        assert_eq!(report.checked, 3);
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.failures[0].text, "ditangkap");
        assert!(report.failures[0].expected_match);
    }

    #[test]
    fn language_scope_holds_per_sentence() {
        let pack = PACK.replace(
            "keywords = [\"diamankan\", \"digagalkan\"]",
            "keywords = [\"diamankan\", \"digagalkan\", \"arrested\"]\nlang = [\"en\"]",
        );
        let pack = RulePack::parse(&[RuleSource::new("t.toml", pack)]).unwrap();
        let c = Classifier::new(pack, Gazetteer::default(), LanguageDetection::On).unwrap();
        let fired = |t: &str| c.classify(t).indicator_ids().any(|i| i == "news.arrest");
        assert!(fired(
            "Three recruiters were arrested at the border by the police yesterday"
        ));
        assert!(!fired(
            "Tiga orang diamankan polisi di perbatasan kemarin malam"
        ));
        // Mixed: an Indonesian post quoting an English sentence.
        assert!(fired(
            "Berita hari ini dari Kuching untuk warga kita. Three recruiters were arrested by the police in Kuching yesterday."
        ));
    }

    #[test]
    fn a_one_byte_required_literal_counts_wherever_it_last_occurs() {
        // `k` is required (after the prefix `bayar`) and no keyword: it is looked for after the
        // pass, and a `k` before the prefix must not hide the one after it.
        let c = with_pay_patterns(r"'gaji\s+\d+\s+juta', '\bbayar\s+\d+\s*(ribu|k)\b'");
        assert_eq!(c.required_bytes.len(), 1, "{:?}", c.required_bytes);
        let fired = |t: &str| c.classify(t).indicator_ids().any(|i| i == "pay.high");
        assert!(fired("kerja sarawak, ok bayar 500k"));
        assert!(fired("kerja sarawak, bayar 500k ok"));
        assert!(!fired("kerja sarawak, ok bayar 500"));
    }

    #[test]
    fn a_pattern_starting_with_a_digit_is_tried_at_its_ascii_prefixes() {
        // No prefixes (any Unicode digit can start it), so ASCII text is searched from the
        // ASCII ones: the digits and `ringgit`, which is also its required literal and can be
        // where a match starts.
        let c = with_pay_patterns(r"'(\d+\s*)?ringgit\b'");
        assert!(c.patterns.iter().any(|p| p.ascii_prefixed));
        let spans = |t: &str| {
            let v = c.classify(t);
            let fired = v.indicators.into_iter().find(|i| &*i.id == "pay.high");
            fired.map(|i| i.matches.into_iter().map(|m| m.text).collect::<Vec<_>>())
        };
        assert_eq!(
            spans("kerja sarawak gaji ringgit"),
            Some(vec!["ringgit".into()])
        );
        assert_eq!(
            spans("kerja sarawak gaji 500 ringgit"),
            Some(vec!["500 ringgit".into()])
        );
        // Outside ASCII, where other digits can start it, the whole text is searched.
        assert_eq!(
            spans("kerja sarawak ٣ ringgit"),
            Some(vec!["٣ ringgit".into()])
        );
        assert_eq!(spans("kerja sarawak gaji 500"), None);
    }

    #[test]
    fn white_space_in_patterns_is_read_as_the_space_normalised_text_has() {
        let prefixes = |p: &str| PatternLiterals::of(p).prefixes.unwrap();
        assert_eq!(prefixes(r"\b(di|ke)\s+kerja"), ["di ", "ke "]);
        assert_eq!(prefixes(r"gaji\s*\d"), ["gaji ", "gaji"]);
        let ascii = ascii_prefix_literals(r"(\d|rm)\s+ringgit").unwrap();
        assert_eq!(ascii.len(), 11, "{ascii:?}");
        assert!(ascii.iter().all(|p| p.ends_with(' ')), "{ascii:?}");
    }

    #[test]
    fn a_pattern_without_literals_is_searched_with_the_set() {
        let c = with_pay_patterns(r"'\b[a-z]{3}\d{4}\b'");
        assert_eq!(
            c.fallback_ids.len(),
            1,
            "the pattern has no literals to wait for"
        );
        let fired = |t: &str| c.classify(t).indicator_ids().any(|i| i == "pay.high");
        assert!(fired("kerja sarawak, kode abc1234"));
        assert!(!fired("kerja sarawak, kode abc12"));
    }

    #[test]
    fn same_input_same_verdict() {
        let c = classifier();
        let text = "Kerja Sarawak tanpa paspor gaji 9 juta kamboja 柬埔寨";
        assert_eq!(c.classify(text), c.classify(text));
    }

    proptest::proptest! {
        #[test]
        fn counts_the_chinese_and_japanese_characters(text in "(\\PC|[\u{2e80}-\u{2fff}\u{3040}-\u{30ff}\u{4e00}-\u{9fff}\u{20000}-\u{2fa1f}]){0,24}") {
            proptest::prop_assert_eq!(cjk_count(&text), text.chars().filter(|&c| is_cjk(c)).count());
        }

        #[test]
        fn keyword_walk_reports_what_the_overlapping_iterator_does(
            text in "[a-z \u{e9}\u{67ec}]{0,40}",
        ) {
            // Keys inside keys, sharing starts and ends, and non-ASCII ones.
            let keys = ["he", "she", "hers", "his", "e", "s", "sh", "h", "\u{e9}", "\u{67ec}h"];
            let nfa = contiguous::Builder::new()
                .match_kind(MatchKind::Standard)
                .build(keys)
                .unwrap();
            let mut bytes = ByteSet::default();
            bytes.insert(b'e');
            bytes.insert(b' ');
            let (mut walked, mut found_bytes) = (Vec::new(), Vec::new());
            for_each_keyword(&nfa, &text, &bytes, |hit| match hit {
                Hit::Keyword(k, span) => walked.push((k, span)),
                Hit::Byte(i, b) => found_bytes.push((i, b)),
            });
            let iterated: Vec<(usize, (usize, usize))> = aho_corasick::AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(keys)
                .unwrap()
                .find_overlapping_iter(&text)
                .map(|m| (m.pattern().as_usize(), (m.start(), m.end())))
                .collect();
            proptest::prop_assert_eq!(walked, iterated);
            let every: Vec<(usize, u8)> = text
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'e' || b == b' ')
                .collect();
            proptest::prop_assert_eq!(found_bytes, every);
        }
    }
}
