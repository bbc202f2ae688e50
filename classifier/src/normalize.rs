//! Text normalisation with a map back to the original bytes.
//!
//! Recruiters write to be read by people and missed by filters: `g4ji`, `m@laysia`, `W A`,
//! `gajiii`, emojis between words, `12jt`. The normaliser undoes that before matching and keeps,
//! for every normalised character, the byte range of the original text it came from, so a match
//! found in normalised text is reported as a span of what the recruiter actually wrote.
//!
//! It runs once per post on the engine's hot path. Text that folds to ASCII (ASCII text with
//! at most emojis and symbols besides, nine posts in ten) goes through every step at once, word
//! by word over its bytes (`ascii.rs`). Other text goes the general way, step by step: the steps
//! work in place on one vector of [`Unit`]s where they can (only slang expansion, which may
//! lengthen the text, writes a second one), look tokens up without allocating, and fold ASCII
//! characters without Unicode normalisation. Steps that rarely apply (de-obfuscation, joining
//! spaced letters, number separators, number words) collect their edits first and touch the
//! vector only when there are some.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use unicode_normalization::UnicodeNormalization;

mod ascii;
mod spans;

use spans::Spans;

/// One character of normalised text and the original byte range it stands for.
#[derive(Debug, Clone, Copy)]
struct Unit {
    ch: char,
    start: usize,
    end: usize,
}

/// Normalised text plus the byte map back to the original.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    text: String,
    /// For every byte of `text`, the original byte range of the character it belongs to.
    spans: Spans,
    /// Byte offsets in `text` where words start (for `near` distances).
    word_starts: Vec<usize>,
    /// Whether `text` is all ASCII (what the fast path writes always is).
    ascii: bool,
    /// Whether the original text is all ASCII.
    original_ascii: bool,
}

impl Normalized {
    /// Its buffers, emptied, with room for a text of about `len` bytes: a normalisation writes
    /// its output in them.
    fn take_room(&mut self, len: usize) -> (Vec<u8>, Spans, Vec<usize>) {
        let mut text = std::mem::take(&mut self.text).into_bytes();
        text.clear();
        text.reserve(len);
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        let mut word_starts = std::mem::take(&mut self.word_starts);
        word_starts.clear();
        word_starts.reserve(len / WORD_LEN_GUESS);
        (text, spans, word_starts)
    }

    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the normalised text is all ASCII, known without looking at it again.
    pub fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// Whether the original text is all ASCII, known without looking at it again.
    pub fn original_is_ascii(&self) -> bool {
        self.original_ascii
    }

    /// Maps a byte range of the normalised text to a byte range of the original text. Both ends
    /// fall on character boundaries of the original.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if start >= end || end > self.text.len() {
            return (0, 0);
        }
        (self.spans.get(start).0, self.spans.get(end - 1).1)
    }

    /// Where the words of the normalised text start, ascending: runs of letters and digits (each
    /// Chinese or Japanese character a word of its own).
    pub(crate) fn word_starts(&self) -> &[usize] {
        &self.word_starts
    }

    /// The index of the word that contains (or follows) byte `pos` of the normalised text.
    pub fn word_index(&self, pos: usize) -> usize {
        match self.word_starts.binary_search(&pos) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

/// FNV-1a, for the token tables: several times faster than the default SipHash on short tokens,
/// and safe here because the tables' keys come from the rule pack and lookups never insert, so
/// no text can make the tables degrade.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FnvBuild = BuildHasherDefault<Fnv>;

/// What the slang table and the keep list say about one token.
#[derive(Debug, Clone, Default)]
struct TokenRule {
    /// Read as written: never de-obfuscated or split (`p3mi`, `bp3mi`, `mp3`).
    keep: bool,
    /// What the token stands for (`yg` → `yang`).
    slang: Option<String>,
}

/// Which tokens may be in the token table (or be number words), from their first, second and
/// last bytes and their length: most words of a post are not, and this answers for them without
/// hashing the word.
/// A bit for each length up to 15; a token of 16 bytes or more sets, and asks for, all of them.
#[derive(Debug, Clone)]
struct KeyFilter(Box<[u16; 1024]>);

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter(Box::new([0; 1024]))
    }
}

impl KeyFilter {
    /// The slot and bit of a non-empty token.
    fn slot(token: &[u8]) -> (usize, u16) {
        let byte = |i: usize| u32::from(token.get(i).copied().unwrap_or(0));
        let mixed =
            (byte(0) << 16 | byte(1) << 8 | byte(token.len() - 1)).wrapping_mul(0x9E37_79B1);
        let bit = 1u16.checked_shl(token.len() as u32).unwrap_or(0);
        (
            (mixed >> 22) as usize,
            if bit == 0 { u16::MAX } else { bit },
        )
    }

    fn insert(&mut self, token: &[u8]) {
        if !token.is_empty() {
            let (slot, bit) = Self::slot(token);
            self.0[slot] |= bit;
        }
    }

    fn may_hold(&self, token: &[u8]) -> bool {
        !token.is_empty() && {
            let (slot, bit) = Self::slot(token);
            self.0[slot] & bit != 0
        }
    }
}

/// Expands chat slang and undoes obfuscation. Built once from the rule set's slang table.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    /// The slang table and the keep list, by lower-case token (its UTF-8 bytes: the fast path
    /// looks its words up as bytes): one lookup per token.
    rules: HashMap<Box<[u8]>, TokenRule, FnvBuild>,
    /// The tokens `rules` may hold, and the number words: a word it turns away is neither.
    filter: KeyFilter,
    /// Characters in the longest slang or keep token: longer tokens are not looked up.
    longest_key: usize,
    /// Whether every slang expansion is ASCII, so that text folded to ASCII stays ASCII and can
    /// take the fast path (`ascii.rs`).
    ascii_slang: bool,
}

/// Currency and unit prefixes split from a number glued after them (`rm3500` → `rm 3500`).
const UNIT_PREFIXES: &[&str] = &[
    "rp", "rm", "usd", "us", "idr", "myr", "sgd", "ntd", "nt", "hkd", "thb",
];

/// Longest slang token, in UTF-8 bytes, that is looked up; longer ones are kept as written.
const MAX_SLANG_BYTES: usize = 32;

/// Digits and symbols that stand for letters when written inside a word (`g4ji`, `m@laysia`).
fn leet(c: char) -> Option<char> {
    Some(match c {
        '4' | '@' => 'a',
        '3' => 'e',
        '1' | '!' => 'i',
        '0' => 'o',
        '$' | '5' => 's',
        '7' => 't',
        _ => return None,
    })
}

/// Separators that recruiters put between single letters (`W A`, `W.A`, `J-A-P-R-I`).
fn letter_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '_' | '*' | '|' | '+' | '~')
}

/// Ordinary punctuation kept as it is (patterns may use it: `wa.me/62`, `$1000`, `15jt++`).
fn kept_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '€' | '£' | '¥' | '₱' | '¢')
}

/// True for characters of scripts written without spaces between words (Chinese, Japanese).
pub fn is_cjk(c: char) -> bool {
    (c as u32) >= 0x2E80
        && matches!(c as u32,
        0x2E80..=0x2FFF | 0x3040..=0x30FF | 0x3100..=0x312F | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Which ASCII characters are word characters (letters and digits): the steps ask of every
/// character, most of them ASCII, so a table look-up answers.
const ASCII_WORD: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// A letter or digit. Chinese characters, most of what is not ASCII here, are answered by their
/// block (every character of it is a letter) before Unicode's tables are searched.
fn is_word_char(c: char) -> bool {
    match ASCII_WORD.get(c as usize) {
        Some(&word) => word,
        None => is_han(c) || c.is_alphanumeric(),
    }
}

/// The CJK Unified Ideographs block: Chinese characters, all letters.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}')
}

/// A character of a token: a word character outside the scripts written without spaces (told
/// first, as a range check answers for them without Unicode's tables).
fn is_token_char(c: char) -> bool {
    match ASCII_WORD.get(c as usize) {
        Some(&word) => word,
        None => !is_cjk(c) && c.is_alphanumeric(),
    }
}

/// A letter that can be obfuscated or spelled out (not Chinese or Japanese).
fn is_spelled_letter(c: char) -> bool {
    !is_cjk(c) && c.is_alphabetic()
}

impl Normalizer {
    /// A normaliser with the given slang table (keys are single lower-case tokens) and tokens to
    /// keep as written.
    pub fn new(slang: HashMap<String, String>, keep: impl IntoIterator<Item = String>) -> Self {
        let mut rules: HashMap<String, TokenRule, FnvBuild> = HashMap::default();
        for (k, v) in slang {
            rules.entry(k.to_lowercase()).or_default().slang = Some(v.to_lowercase());
        }
        for k in keep {
            rules.entry(k.to_lowercase()).or_default().keep = true;
        }
        let longest_key = rules.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        let ascii_slang = rules.values().flat_map(|r| &r.slang).all(|s| s.is_ascii());
        let mut filter = KeyFilter::default();
        rules.keys().for_each(|k| filter.insert(k.as_bytes()));
        NUMBER_WORDS.iter().for_each(|w| filter.insert(w));
        let rules = rules
            .into_iter()
            .map(|(k, rule)| (k.into_bytes().into_boxed_slice(), rule))
            .collect();
        Normalizer {
            rules,
            filter,
            longest_key,
            ascii_slang,
        }
    }

    /// Normalises `input`; see the module documentation for what that means. Text that folds to
    /// ASCII, most of what recruiters write, goes through the fast path of `ascii.rs` when it can.
    pub fn normalize(&self, input: &str) -> Normalized {
        let mut out = Normalized::default();
        self.normalize_into(input, &mut out);
        out
    }

    /// [`Normalizer::normalize`] into `out`, in the room it has from an earlier text.
    pub(crate) fn normalize_into(&self, input: &str, out: &mut Normalized) {
        if !(self.ascii_slang && self.normalize_ascii(input, out)) {
            self.normalize_units(input, out);
        }
    }

    /// The general way: the steps one after the other over a vector of units.
    fn normalize_units(&self, input: &str, out: &mut Normalized) {
        SCRATCH.with_borrow_mut(|[units, expanded]| {
            fold(input, units);
            self.deobfuscate(units);
            join_spaced_letters(units);
            collapse_elongation(units);
            let number_words_in = self.expand_tokens(units, expanded);
            separate_numbers(expanded);
            if number_words_in {
                *expanded = number_words(std::mem::take(expanded));
            }
            build(expanded, input.is_ascii(), out);
        })
    }

    /// Reads digits and symbols inside words as the letters they imitate, and a hyphen between
    /// letters as a space (`iming-iming`, `m-paspor`), except in tokens of the keep list.
    ///
    /// Each change depends only on the folded text: a character changes only when the characters
    /// on both sides are letters, which never change, so the edits can be found first and made
    /// after. A kept token is looked up only around a digit that would change.
    fn deobfuscate(&self, units: &mut [Unit]) {
        let letter = |u: Option<&Unit>| u.is_some_and(|u| is_spelled_letter(u.ch));
        let mut edits = Vec::new();
        for i in 1..units.len() {
            let c = units[i].ch;
            let Some(replacement) = (if c == '-' { Some(' ') } else { leet(c) }) else {
                continue;
            };
            if letter(units.get(i - 1))
                && letter(units.get(i + 1))
                && !(c.is_ascii_digit() && self.in_kept_token(units, i))
            {
                edits.push((i, replacement));
            }
        }
        for (i, ch) in edits {
            units[i].ch = ch;
        }
    }

    /// Whether unit `i` lies in a token of the keep list.
    fn in_kept_token(&self, units: &[Unit], i: usize) -> bool {
        let token_char = |u: &Unit| is_token_char(u.ch);
        let start = i - units[..i]
            .iter()
            .rev()
            .take_while(|u| token_char(u))
            .count();
        let end = i + units[i..].iter().take_while(|u| token_char(u)).count();
        end - start <= self.longest_key
            && self.is_kept(&units[start..end].iter().map(|u| u.ch).collect::<String>())
    }

    /// What the slang table and the keep list say about `token` (lower case, UTF-8).
    #[inline]
    fn rule(&self, token: &[u8]) -> Option<&TokenRule> {
        self.filter
            .may_hold(token)
            .then(|| self.rules.get(token))
            .flatten()
    }

    /// Whether `token` (lower case) is on the keep list.
    fn is_kept(&self, token: &str) -> bool {
        self.rule(token.as_bytes()).is_some_and(|r| r.keep)
    }

    /// Splits numbers glued to units (`12jt` → `12 jt`, `rm3500` → `rm 3500`), expands
    /// reduplication (`laki2` → `laki laki`) and slang tokens, writing the result `into` the
    /// given vector; returns whether a number word may be in it.
    fn expand_tokens(&self, units: &[Unit], into: &mut Vec<Unit>) -> bool {
        into.clear();
        let mut out = Expanded {
            units: std::mem::take(into),
            number_words: false,
        };
        let mut word = String::new();
        let mut i = 0;
        while i < units.len() {
            if !is_token_char(units[i].ch) {
                out.units.push(units[i]);
                i += 1;
                continue;
            }
            let mut j = i;
            while j < units.len() && is_token_char(units[j].ch) {
                j += 1;
            }
            let token = &units[i..j];
            word.clear();
            if token.len() <= self.longest_key {
                word.extend(token.iter().map(|u| u.ch));
            }
            let rule = self.rule(word.as_bytes());
            let digits = token.iter().take_while(|u| u.ch.is_ascii_digit()).count();
            let letters = token.iter().take_while(|u| u.ch.is_alphabetic()).count();
            if rule.is_some_and(|r| r.keep) {
                out.push(token, None);
            } else if digits > 0
                && digits < token.len()
                && token[digits..].iter().all(|u| u.ch.is_alphabetic())
            {
                // A number glued to a word: `12jt`, `30wpm`.
                out.push(&token[..digits], None);
                out.push_space(token[digits]);
                self.push_word(&token[digits..], &mut out);
            } else if letters > 0
                && letters < token.len()
                && token[letters..].iter().all(|u| u.ch.is_ascii_digit())
                && UNIT_PREFIXES
                    .iter()
                    .any(|p| p.chars().eq(token[..letters].iter().map(|u| u.ch)))
            {
                // A currency glued before a number: `rm3500`, `usd1000`.
                out.push(&token[..letters], None);
                out.push_space(token[letters]);
                out.push(&token[letters..], None);
            } else if letters >= 2 && letters + 1 == token.len() && token[letters].ch == '2' {
                // Reduplication shorthand: `laki2` → `laki laki`, `org2` → `orang orang`.
                let base = &token[..letters];
                self.push_word(base, &mut out);
                out.push_space(token[letters]);
                let mark = token[letters];
                let copy: Vec<Unit> = base
                    .iter()
                    .map(|u| Unit {
                        start: mark.start,
                        end: mark.end,
                        ..*u
                    })
                    .collect();
                self.push_word(&copy, &mut out);
            } else {
                // The whole token, looked up already.
                let short = token.len() <= self.longest_key && word.len() <= MAX_SLANG_BYTES;
                let slang = rule.filter(|_| short).and_then(|r| r.slang.as_deref());
                out.push(token, slang);
            }
            i = j;
        }
        *into = out.units;
        out.number_words
    }

    /// Pushes a part of a token, or its slang expansion.
    fn push_word(&self, token: &[Unit], out: &mut Expanded) {
        let slang = if token.len() <= self.longest_key {
            self.slang_of(token)
        } else {
            None
        };
        out.push(token, slang);
    }

    /// The slang expansion of a token, looked up without allocating.
    fn slang_of(&self, token: &[Unit]) -> Option<&str> {
        let mut buf = [0u8; MAX_SLANG_BYTES];
        let mut len = 0;
        for u in token {
            let n = u.ch.len_utf8();
            if len + n > buf.len() {
                return None;
            }
            u.ch.encode_utf8(&mut buf[len..]);
            len += n;
        }
        self.rule(&buf[..len])?.slang.as_deref()
    }
}

/// Appends `ch` to UTF-8 bytes; cheaper than `String::push` for ASCII.
fn push_utf8(buf: &mut Vec<u8>, ch: char) {
    if ch.is_ascii() {
        buf.push(ch as u8);
    } else {
        buf.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

thread_local! {
    /// The two unit vectors a normalisation works in, kept between the texts a thread
    /// normalises so that each text does not allocate and grow them again.
    static SCRATCH: RefCell<[Vec<Unit>; 2]> = const { RefCell::new([Vec::new(), Vec::new()]) };
}

/// Text with slang expanded and glued tokens split, and whether a number word is in it.
struct Expanded {
    units: Vec<Unit>,
    /// Whether a word of the text could start a run of number words. Words are only ever
    /// pushed whole, between characters that are not in words, so looking at each push sees
    /// every word; number separators, the step in between, change no letters.
    number_words: bool,
}

impl Expanded {
    /// Pushes a (non-empty) token, or its slang expansion spanning the whole token.
    fn push(&mut self, token: &[Unit], slang: Option<&str>) {
        match slang {
            Some(expansion) => {
                let start = token[0].start;
                let end = token[token.len() - 1].end;
                self.units
                    .extend(expansion.chars().map(|ch| Unit { ch, start, end }));
                self.number_words |= has_number_run(expansion);
            }
            None => {
                self.units.extend_from_slice(token);
                self.number_words |= starts_number_run(number_word_of(token));
            }
        }
    }

    /// Pushes a space that stands for `unit`.
    fn push_space(&mut self, unit: Unit) {
        self.units.push(Unit { ch: ' ', ..unit });
    }
}

/// What `fold` makes of an ASCII character: letters and digits in lower case, punctuation
/// kept, the rest (controls, white space) a space. Without branches or a table, so that a loop
/// of it over a text is vectorised.
#[inline]
const fn fold_ascii(b: u8) -> u8 {
    let upper = b.wrapping_sub(b'A') < 26;
    let graphic = b.wrapping_sub(b'!') < 94;
    if graphic {
        b | ((upper as u8) << 5)
    } else {
        b' '
    }
}

/// NFKC, lower case, and decorative symbols (emojis, dingbats, box drawing) to spaces. ASCII
/// characters, which NFKC leaves alone, are folded byte by byte without decoding.
fn fold(input: &str, units: &mut Vec<Unit>) {
    units.clear();
    units.reserve(input.len());
    let bytes = input.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let b = bytes[start];
        if b.is_ascii() {
            units.push(Unit {
                ch: fold_ascii(b) as char,
                start,
                end: start + 1,
            });
            start += 1;
            continue;
        }
        let c = input[start..]
            .chars()
            .next()
            .expect("`start` is on a character boundary");
        let end = start + c.len_utf8();
        fold_char(c, |ch| units.push(Unit { ch, start, end }));
        start = end;
    }
}

/// Folds one non-ASCII character as `fold` does, handing each resulting character to `push`.
fn fold_char(c: char, mut push: impl FnMut(char)) {
    // Most of a Chinese post: each is its own NFKC and lower case, and kept.
    if is_han(c) {
        return push(c);
    }
    for n in std::iter::once(c).nfkc() {
        for ch in n.to_lowercase() {
            push(
                if is_han(ch) || ch.is_alphanumeric() || kept_punctuation(ch) {
                    ch
                } else {
                    ' '
                },
            );
        }
    }
}

/// Joins letters written one by one with separators: `W A` → `wa`, `j.a.p.r.i` → `japri`. A
/// single letter is a word of one letter; the separator between two single letters goes when it
/// is exactly one separator.
fn join_spaced_letters(units: &mut Vec<Unit>) {
    let mut separators = Vec::new();
    let mut last_single: Option<usize> = None;
    let mut i = 0;
    while i < units.len() {
        if !is_word_char(units[i].ch) {
            i += 1;
            continue;
        }
        let start = i;
        while i < units.len() && is_word_char(units[i].ch) {
            i += 1;
        }
        if i - start == 1 && is_spelled_letter(units[start].ch) {
            if last_single.is_some_and(|p| p + 2 == start && letter_separator(units[p + 1].ch)) {
                separators.push(start - 1);
            }
            last_single = Some(start);
        }
    }
    remove(units, &separators);
}

/// Removes the units at `indices` (ascending).
fn remove(units: &mut Vec<Unit>, indices: &[usize]) {
    if indices.is_empty() {
        return;
    }
    let mut next = indices.iter().peekable();
    let mut i = 0;
    units.retain(|_| {
        let keep = next.next_if_eq(&&i).is_none();
        i += 1;
        keep
    });
}

/// Collapses a letter repeated three or more times: `gajiii` → `gaji`, `bisaaa` → `bisa`.
fn collapse_elongation(units: &mut Vec<Unit>) {
    // Nothing moves before the first run of three. Most texts have none: the cheap comparisons
    // come first.
    let Some(first) = units
        .windows(3)
        .position(|w| w[0].ch == w[1].ch && w[1].ch == w[2].ch && is_spelled_letter(w[0].ch))
    else {
        return;
    };
    let mut kept = first;
    let mut i = first;
    while i < units.len() {
        let c = units[i].ch;
        let mut j = i + 1;
        while j < units.len() && units[j].ch == c {
            j += 1;
        }
        if is_spelled_letter(c) && j - i >= 3 {
            units[kept] = Unit {
                ch: c,
                start: units[i].start,
                end: units[j - 1].end,
            };
            kept += 1;
        } else {
            units.copy_within(i..j, kept);
            kept += j - i;
        }
        i = j;
    }
    units.truncate(kept);
}

/// Token boundaries: (start, end) unit indices of every run of token characters.
struct Tokens<'a> {
    units: &'a [Unit],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(units: &'a [Unit]) -> Self {
        Tokens { units, pos: 0 }
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let units = self.units;
        let mut start = self.pos;
        while start < units.len() && !is_token_char(units[start].ch) {
            start += 1;
        }
        if start == units.len() {
            return None;
        }
        let mut end = start + 1;
        while end < units.len() && is_token_char(units[end].ch) {
            end += 1;
        }
        self.pos = end;
        Some((start, end))
    }
}

/// What becomes of a separator between digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberSeparator {
    /// A thousands separator, dropped: `12.000.000` → `12000000`.
    Thousands,
    /// A decimal comma (or point), made a point: `1,5` → `1.5`.
    Decimal,
}

/// Finds thousands separators and decimal commas: `12.000.000`, `1,5`. Digit groups that fit
/// neither shape (phone numbers) are left alone. `ch(i)` is the `i`-th character of the text
/// (`None` past its end); `found` hears of each separator in ascending order. The text is read
/// from `from` on, which must be `0` or the start of a number, with no separator before it. Both
/// ways through the normaliser share it, the general one over units and the ASCII one over bytes.
fn number_separators(
    from: usize,
    ch: impl Fn(usize) -> Option<char>,
    mut found: impl FnMut(usize, NumberSeparator),
) {
    let digit = |i: usize| ch(i).is_some_and(|c| c.is_ascii_digit());
    let sep = |i: usize| matches!(ch(i), Some('.' | ','));
    let mut i = from;
    while let Some(c) = ch(i) {
        if !c.is_ascii_digit()
            || (i > 0 && ch(i - 1).is_some_and(|p| p.is_ascii_digit() || p.is_alphabetic()))
        {
            i += 1;
            continue;
        }
        let mut j = i;
        while digit(j) {
            j += 1;
        }
        let lead = j - i;
        // Thousands: 1-3 digits, then one or more groups of a separator and exactly 3 digits,
        // all with the same separator.
        let mut k = j;
        while sep(k) && (1..=3).all(|d| digit(k + d)) && !digit(k + 4) {
            k += 4;
        }
        let groups = (j..k).step_by(4);
        let same_sep = groups.clone().all(|g| ch(g) == ch(j));
        if lead <= 3 && k > j && same_sep && !(sep(k) && digit(k + 1)) {
            groups.for_each(|g| found(g, NumberSeparator::Thousands));
            i = k;
            continue;
        }
        // Decimal: digits, a separator, one or two digits, then no more digits.
        if sep(j) && digit(j + 1) && !digit(j + 3) && !(sep(j + 2) || sep(j + 3)) {
            found(j, NumberSeparator::Decimal);
            i = j + 1;
            continue;
        }
        i = j;
    }
}

/// Applies [`number_separators`] to units.
fn separate_numbers(units: &mut Vec<Unit>) {
    let mut drop = Vec::new();
    let mut decimal = Vec::new();
    number_separators(
        0,
        |i| units.get(i).map(|u| u.ch),
        |i, kind| match kind {
            NumberSeparator::Thousands => drop.push(i),
            NumberSeparator::Decimal => decimal.push(i),
        },
    );
    for i in decimal {
        units[i].ch = '.';
    }
    remove(units, &drop);
}

/// An Indonesian/Malay number word below a thousand.
#[derive(Clone, Copy)]
enum NumberWord {
    Digit(u32),
    /// Multiplies the digit before it; `belas` (n + 10) is `Times(0)`.
    Times(u32),
    /// `setengah`, one half.
    Half,
}

/// Defines the list of number words and [`number_word`], which reads them, from one table.
macro_rules! number_words {
    ($($word:literal => $value:expr),* $(,)?) => {
        /// Every number word (all ASCII).
        const NUMBER_WORDS: &[&[u8]] = &[$($word),*];

        /// The number word `word` is, if any.
        fn number_word(word: &[u8]) -> Option<NumberWord> {
            Some(match word {
                $($word => $value,)*
                _ => return None,
            })
        }
    };
}

number_words! {
    b"satu" => NumberWord::Digit(1),
    b"se" => NumberWord::Digit(1),
    b"dua" => NumberWord::Digit(2),
    b"tiga" => NumberWord::Digit(3),
    b"empat" => NumberWord::Digit(4),
    b"lima" => NumberWord::Digit(5),
    b"enam" => NumberWord::Digit(6),
    b"tujuh" => NumberWord::Digit(7),
    b"delapan" => NumberWord::Digit(8),
    b"lapan" => NumberWord::Digit(8),
    b"sembilan" => NumberWord::Digit(9),
    b"sepuluh" => NumberWord::Digit(10),
    b"sebelas" => NumberWord::Digit(11),
    b"seratus" => NumberWord::Digit(100),
    b"setengah" => NumberWord::Half,
    b"belas" => NumberWord::Times(0),
    b"puluh" => NumberWord::Times(10),
    b"ratus" => NumberWord::Times(100),
}

/// Longest number word, in letters.
const LONGEST_NUMBER_WORD: usize = {
    let (mut longest, mut i) = (0, 0);
    while i < NUMBER_WORDS.len() {
        if NUMBER_WORDS[i].len() > longest {
            longest = NUMBER_WORDS[i].len();
        }
        i += 1;
    }
    longest
};

/// The number word a token spells, if any.
fn number_word_of(token: &[Unit]) -> Option<NumberWord> {
    let mut buf = [0u8; LONGEST_NUMBER_WORD];
    if token.len() > LONGEST_NUMBER_WORD || !token.iter().all(|u| u.ch.is_ascii()) {
        return None;
    }
    for (b, u) in buf.iter_mut().zip(token) {
        *b = u.ch as u8;
    }
    number_word(&buf[..token.len()])
}

/// Whether a number word can start a run of them (a digit or `setengah`).
fn starts_number_run(word: Option<NumberWord>) -> bool {
    matches!(word, Some(NumberWord::Digit(_) | NumberWord::Half))
}

/// Whether a word of a slang expansion can start a run of number words.
fn has_number_run(expansion: &str) -> bool {
    expansion
        .split(|c| !is_token_char(c))
        .any(|w| starts_number_run(number_word(w.as_bytes())))
}

/// Number words become digits: `dua belas juta` → `12 juta`, `seratus lima puluh` → `150`,
/// `setengah juta` → `0.5 juta`. Thousand and million words stay as the units patterns expect.
fn number_words(units: Vec<Unit>) -> Vec<Unit> {
    let toks: Vec<(usize, usize)> = Tokens::new(&units).collect();
    let runs = number_runs(
        toks.len(),
        |k| number_word_of(&units[toks[k].0..toks[k].1]),
        |m| toks[m].0 == toks[m - 1].1 + 1 && units[toks[m - 1].1].ch == ' ',
    );
    if runs.is_empty() {
        return units;
    }
    let mut out = Vec::with_capacity(units.len());
    let mut pos = 0;
    for (first, last, digits) in runs {
        let (s, e) = (toks[first].0, toks[last].1);
        out.extend_from_slice(&units[pos..s]);
        let (start, end) = (units[s].start, units[e - 1].end);
        out.extend(digits.chars().map(|ch| Unit { ch, start, end }));
        pos = e;
    }
    out.extend_from_slice(&units[pos..]);
    out
}

/// The runs of number words among `count` tokens, as (first token, last token, the digits they
/// become). Token `k` is the number word `word(k)`, if it is one; `joined(k)` tells whether token
/// `k` follows token `k - 1` after exactly one space, as the words of a run do.
fn number_runs(
    count: usize,
    word: impl Fn(usize) -> Option<NumberWord>,
    joined: impl Fn(usize) -> bool,
) -> Vec<(usize, usize, String)> {
    let mut runs = Vec::new();
    let mut k = 0;
    while k < count {
        match word(k) {
            Some(NumberWord::Half) => {
                runs.push((k, k, "0.5".into()));
                k += 1;
                continue;
            }
            Some(NumberWord::Digit(_)) => {}
            _ => {
                k += 1;
                continue;
            }
        }
        // Parse a run: (digit [belas|puluh|ratus])+, adding up groups.
        let (mut total, mut current, mut end) = (0u32, 0u32, k);
        let mut m = k;
        while m < count {
            if m > k && !joined(m) {
                break;
            }
            match word(m) {
                Some(NumberWord::Digit(d)) => {
                    total += current;
                    current = d;
                }
                Some(NumberWord::Times(0)) if (1..10).contains(&current) => current += 10,
                Some(NumberWord::Times(t)) if t > 0 && (1..10).contains(&current) => current *= t,
                _ => break,
            }
            end = m;
            m += 1;
        }
        total += current;
        runs.push((k, end, total.to_string()));
        k = end + 1;
    }
    runs
}

/// A guess at the average word length, in characters, to size the word list.
const WORD_LEN_GUESS: usize = 4;

/// The normalised text and its maps, with one space between words and none at the ends.
fn build(units: &[Unit], original_ascii: bool, out: &mut Normalized) {
    let (mut text, mut spans, mut word_starts) = out.take_room(units.len());
    let mut prev_word = false;
    // The first white space after a word, written once the next word comes.
    let mut space: Option<&Unit> = None;
    for u in units {
        if u.ch.is_whitespace() {
            if space.is_none() && !text.is_empty() {
                space = Some(u);
            }
            continue;
        }
        if let Some(s) = space.take() {
            text.push(b' ');
            spans.push((s.start, s.end));
            prev_word = false;
        }
        let word = is_word_char(u.ch);
        if word && (!prev_word || is_cjk(u.ch)) {
            word_starts.push(text.len());
        }
        prev_word = word;
        push_utf8(&mut text, u.ch);
        let span = (u.start, u.end);
        if u.ch.is_ascii() {
            spans.push(span);
        } else {
            spans.push_same(span, u.ch.len_utf8());
        }
    }
    *out = Normalized {
        ascii: text.is_ascii(),
        original_ascii,
        text: String::from_utf8(text).expect("written from chars"),
        spans,
        word_starts,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalizer() -> Normalizer {
        let slang = [
            ("yg", "yang"),
            ("jt", "juta"),
            ("gk", "tidak"),
            ("ln", "luar negeri"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        Normalizer::new(slang, ["p3mi".to_string(), "bp3mi".to_string()])
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(
            normalizer().normalize(input).text(),
            expected,
            "input: {input:?}"
        );
    }

    #[test]
    fn the_key_filter_lets_every_key_through() {
        let long = "a".repeat(40);
        let keys = crate::robustness::seed_rules()
            .slang
            .into_keys()
            .chain([long.clone()]);
        let n = Normalizer::new(keys.map(|k| (k, "x".to_string())).collect(), Vec::new());
        for key in n.rules.keys() {
            assert!(n.filter.may_hold(key), "{key:?}");
            assert!(n.rule(key).is_some(), "{key:?}");
        }
        for word in NUMBER_WORDS {
            assert!(n.filter.may_hold(word), "{word:?}");
            assert!(number_word(word).is_some(), "{word:?}");
        }
        assert!(
            n.filter.may_hold("a".repeat(39).as_bytes()),
            "a long key lets every long token of its slot through"
        );
        assert!(!n.filter.may_hold(b""));
        let slang = |token: &str| n.rule(token.as_bytes()).and_then(|r| r.slang.as_deref());
        assert_eq!(slang(&long), Some("x"));
        assert_eq!(slang("gaji"), None);
    }

    #[test]
    fn folds_ascii_without_a_table_as_with_one() {
        for b in 0..128u8 {
            let kept = b.is_ascii_alphanumeric() || b.is_ascii_punctuation();
            let expected = if kept { b.to_ascii_lowercase() } else { b' ' };
            assert_eq!(fold_ascii(b), expected, "byte {b}");
        }
    }

    #[test]
    fn the_han_block_is_all_letters() {
        let block = ('\u{4E00}'..='\u{9FFF}').filter(|&c| is_han(c));
        assert_eq!(block.clone().count(), 0x9FFF - 0x4E00 + 1);
        assert!(block.clone().all(char::is_alphanumeric));
        assert!(!block.clone().any(char::is_numeric));
        assert!(block.clone().all(is_cjk));
        // So `fold_char` passes them through without asking NFKC.
        assert!(block.clone().all(|c| {
            std::iter::once(c)
                .nfkc()
                .flat_map(char::to_lowercase)
                .eq([c])
        }));
        assert!(!is_han('a') && !is_han('\u{3400}') && !is_han('\u{A000}'));
    }

    #[test]
    fn folds_case_width_and_emojis() {
        check("GAJI Besar🔥🔥 ＲＭ３０００", "gaji besar rm 3000");
        check("💰Kerja✈️Malaysia", "kerja malaysia");
    }

    #[test]
    fn undoes_obfuscation() {
        check("g4ji b3sar di m@laysia", "gaji besar di malaysia");
        check("hub W A 0812", "hub wa 0812");
        check("j.a.p.r.i aja", "japri aja");
        check("gajiii gedeee", "gaji gede");
        check("k3rja sekarang", "kerja sekarang");
    }

    #[test]
    fn leaves_numbers_and_codes_alone() {
        check("0812-3456-7890", "0812-3456-7890");
        check("usd1000 rm3500 covid19 b1", "usd 1000 rm 3500 covid19 b1");
        check("saat ini", "saat ini");
    }

    #[test]
    fn expands_slang_and_splits_units() {
        check("gaji 12jt yg pasti", "gaji 12 juta yang pasti");
        check(
            "krj ke LN gk pakai ribet",
            "krj ke luar negeri tidak pakai ribet",
        );
    }

    #[test]
    fn canonicalises_numbers() {
        check("Rp 12.000.000,- per bulan", "rp 12000000,- per bulan");
        check("gaji 1,5jt", "gaji 1.5 juta");
        check("RM3.500 / USD1,200", "rm 3500 / usd 1200");
        check("hub 0812.3456.7890", "hub 0812.3456.7890");
        check("dua belas juta", "12 juta");
        check("seratus lima puluh ribu", "150 ribu");
        check("lima juta dua ratus", "5 juta 200");
        check("setengah juta", "0.5 juta");
        check("satu orang", "1 orang");
    }

    #[test]
    fn reads_number_words_that_slang_expands_to() {
        let slang = [("dw", "dua"), ("sbln", "setengah bulan")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let n = Normalizer::new(slang, Vec::new());
        assert_eq!(n.normalize("gaji dw belas juta").text(), "gaji 12 juta");
        assert_eq!(n.normalize("sbln").text(), "0.5 bulan");
    }

    #[test]
    fn protects_codes_and_expands_shorthand() {
        check("P3MI resmi, BP3MI Kalbar", "p3mi resmi, bp3mi kalbar");
        check("laki2 dan iming-iming", "laki laki dan iming iming");
        check("30wpm", "30 wpm");
        check("rp5", "rp 5");
    }

    #[test]
    fn spans_map_back_to_original_bytes() {
        let original = "Gaji 💰 12jt di M@laysia";
        let n = normalizer().normalize(original);
        let pos = n.text().find("juta").unwrap();
        let (s, e) = n.original_span(pos, pos + 4);
        assert_eq!(&original[s..e], "jt");
        let pos = n.text().find("malaysia").unwrap();
        let (s, e) = n.original_span(pos, pos + "malaysia".len());
        assert_eq!(&original[s..e], "M@laysia");
    }

    #[test]
    fn word_index_counts_words() {
        let n = normalizer().normalize("kerja di  sarawak");
        assert_eq!(n.word_index(0), 0);
        assert_eq!(n.word_index(n.text().find("sarawak").unwrap()), 2);
    }
}
