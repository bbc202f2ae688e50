//! Running a regex only where its matches can start.
//!
//! An unanchored search scans the rest of the text for every match it reports, and on text with
//! non-ASCII characters a regex with Unicode `\b` makes the regex crate leave its fast automaton
//! for an engine that is tens of times slower. When the places where a match can start are known
//! (from literal prefixes, or from the shape of the regex), anchored searches there find the
//! same matches and each stops as soon as the regex cannot go on.

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

/// A table of the bytes in `bytes`, for [`starts_at`].
pub(crate) const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
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
