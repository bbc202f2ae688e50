//! Running a regex only where its matches can start.
//!
//! An unanchored search scans the rest of the text for every match it reports, and on text with
//! non-ASCII characters a regex with Unicode `\b` makes the regex crate leave its fast automaton
//! for an engine that is tens of times slower. When the places where a match can start are known
//! (from literal prefixes, or from the shape of the regex), anchored searches there find the
//! same matches and each stops as soon as the regex cannot go on.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::look::{Look, LookMatcher};
use regex_automata::{Anchored, Input};

/// Finds the matches of a regex whose every match starts at one of `starts` (ascending).
/// `search` tries one start with [`anchored_at`] and returns the end of the match there. Starts
/// inside the previous match are skipped, so the matches are those of `find_iter`: leftmost
/// first and never overlapping.
pub(crate) fn each_match(
    starts: impl IntoIterator<Item = usize>,
    mut search: impl FnMut(usize) -> Option<usize>,
) {
    let mut next = 0;
    for s in starts {
        if s < next {
            continue;
        }
        if let Some(end) = search(s) {
            next = end;
        }
    }
}

/// The positions of `t` whose byte is in `first` and that pass `check`, ascending: where a regex
/// whose matches all start with such a byte can start. The table is looked up in a tight loop,
/// so `check` only runs on the few bytes that can start a match.
pub(crate) fn starts_at<'a>(
    t: &'a [u8],
    first: &'a [bool; 256],
    check: impl Fn(usize) -> bool + 'a,
) -> impl Iterator<Item = usize> + 'a {
    let mut next = 0;
    std::iter::from_fn(move || {
        while next < t.len() {
            let i = next;
            next += 1;
            if first[usize::from(t[i])] && check(i) {
                return Some(i);
            }
        }
        None
    })
}

/// The input for a search of `t` anchored at `start`; the text before it still counts for
/// look-behind such as `\b`.
pub(crate) fn anchored_at(t: &str, start: usize) -> Input<'_> {
    Input::new(t).range(start..).anchored(Anchored::Yes)
}

/// Whether `at` is a word boundary of `t` as the regex `\b` sees it (Unicode), deciding between
/// ASCII neighbours without the Unicode tables: there the word characters are `[0-9A-Za-z_]`.
pub(crate) fn is_word_boundary(t: &[u8], at: usize) -> bool {
    let before = at.checked_sub(1).map(|i| t[i]);
    let after = t.get(at).copied();
    if before.is_none_or(|b| b.is_ascii()) && after.is_none_or(|b| b.is_ascii()) {
        let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        return word(before) != word(after);
    }
    LookMatcher::new().matches(Look::WordUnicode, t, at)
}

/// What may follow a literal prefix at the start of a match: the bytes allowed right after it
/// and, after an ASCII byte, the bytes allowed after that. A necessary condition, read off the
/// regex's lazy DFA once at build time, so most starts where the regex would fail within two
/// bytes (`di` of `ditanggung` for `\b(di|ke)\s+…`, a `0` not followed by `8` for a phone
/// number) are dropped without searching. Where that DFA gives up (on non-ASCII bytes, when the
/// regex has a Unicode `\b`) the byte is allowed; after a non-ASCII byte nothing is checked, and
/// the end of the text is always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Follow {
    first: ByteSet,
    second: ByteSet,
}

/// A set of bytes, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(crate) const ALL: ByteSet = ByteSet([u64::MAX; 4]);

    pub(crate) fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    pub(crate) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    pub(crate) fn union(self, other: ByteSet) -> ByteSet {
        ByteSet(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }
}

impl Follow {
    /// Allows anything: for prefixes nothing was learnt about.
    const ANY: Follow = Follow {
        first: ByteSet::ALL,
        second: ByteSet::ALL,
    };

    /// What may follow each of `prefixes` in a match of `pattern` starting with it, whatever
    /// comes before the match (`\b` and `^` look behind it). After a prefix, `second` holds
    /// every byte that may come after any allowed first byte.
    pub(crate) fn of_prefixes(pattern: &str, prefixes: &[String]) -> Vec<Follow> {
        let Ok(dfa) = DFA::builder()
            .configure(
                DFA::config()
                    .unicode_word_boundary(true)
                    .cache_capacity(FOLLOW_CACHE),
            )
            .build(pattern)
        else {
            return vec![Follow::ANY; prefixes.len()];
        };
        let mut cache = dfa.create_cache();
        prefixes
            .iter()
            .map(|prefix| {
                let clears = cache.clear_count();
                let follow = Follow::walk(&dfa, &mut cache, prefix.as_bytes());
                // State ids do not survive a cache clear: trust the sets only if none happened.
                follow
                    .filter(|_| cache.clear_count() == clears)
                    .unwrap_or(Follow::ANY)
            })
            .collect()
    }

    fn walk(dfa: &DFA, cache: &mut Cache, prefix: &[u8]) -> Option<Follow> {
        let classes = dfa.byte_classes();
        let reps: Vec<u8> = classes
            .representatives(..)
            .filter_map(|u| u.as_u8())
            .collect();
        let (mut first, mut second) = ([false; 256], [false; 256]);
        let mut second_all = false;
        // Text before the match only matters through look-behind: start of text, a line end,
        // a carriage return, a word character or another character.
        for before in ["", "\n", "\r", "a", " "] {
            let mut hay = before.as_bytes().to_vec();
            hay.extend_from_slice(prefix);
            let input = Input::new(&hay)
                .range(before.len()..)
                .anchored(Anchored::Yes);
            let mut state = dfa.start_state_forward(cache, &input).ok()?;
            for &b in prefix {
                state = dfa.next_state(cache, state, b).ok()?;
            }
            if state.is_match() || state.is_quit() {
                return None;
            }
            for &x in &reps {
                let after = dfa.next_state(cache, state, x).ok()?;
                if after.is_dead() {
                    continue;
                }
                first[usize::from(classes.get(x))] = true;
                if after.is_quit() {
                    continue;
                }
                if after.is_match() {
                    second_all = true;
                    continue;
                }
                for &y in &reps {
                    if !dfa.next_state(cache, after, y).ok()?.is_dead() {
                        second[usize::from(classes.get(y))] = true;
                    }
                }
            }
        }
        let set = |by_class: [bool; 256]| {
            let mut set = ByteSet([0; 4]);
            for b in 0..=255 {
                if by_class[usize::from(classes.get(b))] {
                    set.insert(b);
                }
            }
            set
        };
        Some(Follow {
            first: set(first),
            second: if second_all {
                ByteSet::ALL
            } else {
                set(second)
            },
        })
    }

    /// Whether a match can start with a prefix that ends at `end` of `t`.
    pub(crate) fn allows(&self, t: &[u8], end: usize) -> bool {
        let Some(&b) = t.get(end) else {
            return true;
        };
        if !self.first.contains(b) {
            return false;
        }
        !b.is_ascii() || t.get(end + 1).is_none_or(|&c| self.second.contains(c))
    }
}

/// The lazy DFA's cache while following prefixes: far more than the few states needed, so it
/// is never cleared (after a clear [`Follow::of_prefixes`] gives up on the prefix).
const FOLLOW_CACHE: usize = 8 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_automata::meta::Regex;

    /// Patterns shaped like the rule pack's, each with literals every match starts with.
    const PATTERNS: &[(&str, &[&str])] = &[
        (r"\b(di|ke|kerja)\s+(kh|pp)\b", &["di", "ke", "kerja"]),
        (r"(\+\s?62|\b0)\s?8\d{1,2}[\s\-]?\d{3,4}\b", &["+", "0"]),
        (r"\b(rm|myr)\s*\d[\d\.,]*", &["rm", "myr"]),
        (r"\bgaji\b[^\n]{0,5}?\d+\s*juta\b", &["gaji"]),
        (r"\b(min|minimal)\s*(usia)?\s*1[2-7]\b", &["min", "minimal"]),
        (r"kuching|sarawak", &["kuching", "sarawak"]),
        (r"\bcaf\u{e9}\b", &["caf"]),
    ];

    /// Text around a prefix: pieces of the patterns, white space, non-ASCII letters and spaces,
    /// line ends.
    fn around() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(" "),
            Just("\u{a0}"),
            Just("\n"),
            Just("kh"),
            Just("rja"),
            Just("8"),
            Just("12"),
            Just("juta"),
            Just("usia"),
            Just("ing"),
            Just("\u{e9}"),
            Just("\u{4e2d}"),
            Just("a"),
            Just("-"),
            Just("."),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    fn follows(pattern: usize) -> Vec<Follow> {
        let (regex, prefixes) = PATTERNS[pattern];
        let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        Follow::of_prefixes(regex, &prefixes)
    }

    #[test]
    fn follow_rejects_what_cannot_go_on() {
        let di = follows(0)[0];
        assert!(!di.allows(b"ditanggung", 2));
        assert!(di.allows(b"di kh", 2));
        assert!(!di.allows(b"di xx", 2), "the second byte");
        assert!(
            di.allows("di\u{a0}xx".as_bytes(), 2),
            "non-ASCII first byte"
        );
        assert!(
            di.allows(b"di", 2) && di.allows(b"di ", 2),
            "the end of the text"
        );
        let cafe = follows(6)[0];
        assert!(cafe.allows("caf\u{e9}".as_bytes(), 3) && !cafe.allows(b"cafe", 3));
        let zero = follows(1)[1];
        assert!(!zero.allows(b"0562", 1) && zero.allows(b"0812", 1));
    }

    proptest! {
        #[test]
        fn follow_never_rejects_a_match(
            pattern in 0..PATTERNS.len(),
            prefix in 0..2usize,
            before in around(),
            after in around(),
        ) {
            let (regex, prefixes) = PATTERNS[pattern];
            let prefix = prefix.min(prefixes.len() - 1);
            let text = format!("{before}{}{after}", prefixes[prefix]);
            let (start, end) = (before.len(), before.len() + prefixes[prefix].len());
            let matched = Regex::new(regex).unwrap().search(&anchored_at(&text, start));
            if matched.is_some() {
                prop_assert!(follows(pattern)[prefix].allows(text.as_bytes(), end), "{text:?}");
            }
        }
    }
}
