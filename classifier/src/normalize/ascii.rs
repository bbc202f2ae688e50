//! The normaliser's fast path for text that folds to ASCII: ASCII text, and ASCII text with
//! emojis, symbols or odd white space that fold to spaces (together nine posts in ten).
//!
//! The general way folds the text into a vector of units (a character and its original byte
//! range) and runs each step over it in turn. Here every folded character is one byte. Each one
//! stands for one input byte, except the spaces that other characters fold to, so this path
//! keeps plain bytes until it writes the output and does the steps together in one pass over
//! words. It folds and de-obfuscates the bytes, then reads them word by word: it joins letters
//! spelled out one by one, collapses elongated letters and expands slang as it goes, and writes
//! each character with its byte range straight into the output, squeezing white space. Most
//! words are plain (lower-case letters, none tripled, neither slang, kept nor a number word):
//! runs of them, with the punctuation and single spaces between them, are copied in one go, and
//! a word's letters are read eight bytes at a time. Number
//! separators are found afterwards on the output (white space, the only thing squeezing changes,
//! is neither digit, separator nor letter to them).
//!
//! Number words (`dua belas`, in one post in twenty) are read last, on the output, by the runs
//! the general way's step finds: a run of number words stops at more than one space, so the
//! spaces that stand for more than one are noted as they are squeezed.
//!
//! The output is the general way's, byte for byte, spans and word starts included (a property
//! test compares the two). Text with a character that folds to something other than ASCII or a
//! space (accents, Chinese, full-width forms) goes the general way:
//! [`Normalizer::normalize_ascii`] gives up on it.

use std::cell::RefCell;

use super::spans::{Span, Spans};
use super::{
    LONGEST_NUMBER_WORD, MAX_SLANG_BYTES, Normalized, Normalizer, NumberSeparator, UNIT_PREFIXES,
    Unit, collapse_elongation, fold_ascii, fold_char, has_number_run, leet, letter_separator,
    number_runs, number_separators, number_word, starts_number_run,
};

/// The ASCII characters that may be read as a letter inside a word: the hyphen and the digits
/// and symbols [`leet`] knows.
const MAY_STAND_FOR_A_LETTER: [bool; 256] = {
    let mut table = [false; 256];
    let may = b"-4@31!0$57";
    let mut i = 0;
    while i < may.len() {
        table[may[i] as usize] = true;
        i += 1;
    }
    table
};

/// The text folded to ASCII bytes, and where they come from.
#[derive(Default)]
struct Folded {
    bytes: Vec<u8>,
    /// The spaces that non-ASCII characters folded to, by index in `bytes`, with the byte range
    /// of the character. Every other byte comes from one input byte, at the offset the last of
    /// these leaves (none: the same index).
    wide: Vec<(usize, Span)>,
    /// Whether the input is all ASCII.
    ascii: bool,
}

impl Folded {
    /// The input byte range folded byte `k` stands for.
    fn span(&self, k: usize) -> Span {
        if self.wide.is_empty() {
            return (k, k + 1);
        }
        match self.wide.binary_search_by_key(&k, |&(i, _)| i) {
            Ok(w) => self.wide[w].1,
            Err(0) => (k, k + 1),
            Err(w) => {
                let (i, (_, end)) = self.wide[w - 1];
                let start = end + (k - i - 1);
                (start, start + 1)
            }
        }
    }
}

/// What a normalisation works in, kept between the texts a thread normalises.
#[derive(Default)]
struct Scratch {
    folded: Folded,
    /// A word of letters spelled out one by one or elongated, joined and collapsed.
    word: Vec<Unit>,
    /// The same word's characters.
    word_text: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Where the characters of a word come from in the original.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Bytes copied as they were, the first from this byte on.
    Copied(usize),
    /// One unit each.
    Units(&'a [Unit]),
    /// All from this one range.
    Same(Span),
}

impl<'a> Source<'a> {
    /// Where character `k` comes from.
    fn span(self, k: usize) -> Span {
        match self {
            Source::Copied(start) => (start + k, start + k + 1),
            Source::Units(units) => (units[k].start, units[k].end),
            Source::Same(span) => span,
        }
    }

    /// The source of the characters from `k` on.
    fn from(self, k: usize) -> Source<'a> {
        match self {
            Source::Copied(start) => Source::Copied(start + k),
            Source::Units(units) => Source::Units(&units[k..]),
            Source::Same(span) => Source::Same(span),
        }
    }
}

/// The output being written: text, the byte range of each byte, and the white space pending
/// between words (written as one space, with the range of the first white-space character,
/// once the next character comes; none at the ends).
struct Output {
    text: Vec<u8>,
    spans: Spans,
    space: Option<Span>,
    /// Whether the pending space stands for more than one white-space character.
    several_spaces: bool,
    /// Where in `text` the spaces that stand for more than one are.
    squeezed: Vec<usize>,
    /// Where words start in `text`.
    word_starts: Vec<usize>,
    /// Where the first `.` or `,` that follows a digit was written: only from the number before
    /// it on can there be number separators.
    separators: Option<usize>,
    /// Whether a number word that can start a number was written.
    number_words: bool,
    /// Whether the input is all ASCII.
    original_ascii: bool,
}

impl Output {
    fn ch(&mut self, ch: u8, span: Span) {
        if char::from(ch).is_whitespace() {
            if self.space.is_some() {
                self.several_spaces = true;
            } else if !self.text.is_empty() {
                self.space = Some(span);
            }
            return;
        }
        self.end_space();
        if matches!(ch, b'.' | b',') && self.text.last().is_some_and(u8::is_ascii_digit) {
            self.separators.get_or_insert(self.text.len());
        }
        if ch.is_ascii_alphanumeric() {
            self.word_may_start();
        }
        self.text.push(ch);
        self.spans.push(span);
    }

    /// Writes the pending white space, as a non-white character is about to be written.
    #[inline]
    fn end_space(&mut self) {
        if let Some(space) = self.space.take() {
            if std::mem::take(&mut self.several_spaces) {
                self.squeezed.push(self.text.len());
            }
            self.text.push(b' ');
            self.spans.push(space);
        }
    }

    /// Notes a word start if a letter or digit written next starts one.
    fn word_may_start(&mut self) {
        if !self.text.last().is_some_and(u8::is_ascii_alphanumeric) {
            self.word_starts.push(self.text.len());
        }
    }

    /// Writes a word, or a part of one (letters and digits, never empty), as it is.
    fn word(&mut self, chars: &[u8], source: Source) {
        self.number_words |= starts_number_run(number_word(chars));
        self.end_space();
        self.word_may_start();
        self.text.extend_from_slice(chars);
        match source {
            Source::Copied(start) => self.spans.push_copied((start, start + 1), chars.len()),
            Source::Same(span) => self.spans.push_same(span, chars.len()),
            Source::Units(units) => {
                for u in &units[..chars.len()] {
                    self.spans.push((u.start, u.end));
                }
            }
        }
    }

    /// Writes a slang expansion, every character of it spanning the whole word it stands for.
    fn expansion(&mut self, expansion: &str, span: Span) {
        let chars = expansion.as_bytes();
        // Most expand to one word (`yg` → `yang`), written at once.
        if !chars.is_empty() && chars.iter().all(u8::is_ascii_alphanumeric) {
            return self.word(chars, Source::Same(span));
        }
        self.number_words |= has_number_run(expansion);
        for &ch in chars {
            self.ch(ch, span);
        }
    }

    /// Drops thousands separators, makes decimal commas points and reads number words, into
    /// `out`.
    fn finish(mut self, out: &mut Normalized) {
        let text = &mut self.text;
        let mut dropped = Vec::new();
        let mut decimals = Vec::new();
        if let Some(first) = self.separators {
            // No separator comes before the number the first `.` or `,` after a digit ends.
            let number = first
                - text[..first]
                    .iter()
                    .rev()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
            number_separators(
                number,
                |i| text.get(i).map(|&b| char::from(b)),
                |i, kind| match kind {
                    NumberSeparator::Thousands => dropped.push(i),
                    NumberSeparator::Decimal => decimals.push(i),
                },
            );
        }
        for i in decimals {
            text[i] = b'.';
        }
        if let Some(&first) = dropped.first() {
            let mut kept = first;
            for (n, &d) in dropped.iter().enumerate() {
                let next = dropped.get(n + 1).copied().unwrap_or(text.len());
                text.copy_within(d + 1..next, kept);
                kept += next - d - 1;
            }
            text.truncate(kept);
            self.spans = self.spans.without(&dropped);
            // A separator dropped sat between digits: the digits after it no longer start a
            // word, and every later word start moves back by the separators before it.
            for space in &mut self.squeezed {
                *space -= dropped.partition_point(|&d| d < *space);
            }
            let mut before = 0;
            self.word_starts.retain_mut(|start| {
                while dropped.get(before).is_some_and(|&d| d < *start) {
                    before += 1;
                }
                if before > 0 && dropped[before - 1] + 1 == *start {
                    return false;
                }
                *start -= before;
                true
            });
        }
        *out = Normalized {
            text: String::from_utf8(std::mem::take(text)).expect("ASCII in, ASCII slang"),
            spans: self.spans,
            word_starts: self.word_starts,
            ascii: true,
            original_ascii: self.original_ascii,
        };
        if self.number_words {
            read_number_words(out, &self.squeezed);
        }
    }
}

/// Number words become digits in ASCII output, as the general way's step does on units: a run
/// of them stops where a space stands for more than one (`squeezed`, ascending).
fn read_number_words(out: &mut Normalized, squeezed: &[usize]) {
    let text = out.text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        while text.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            i += 1;
        }
        if i > start {
            tokens.push((start, i));
        }
        i += 1;
    }
    let runs = number_runs(
        tokens.len(),
        |k| number_word(&text[tokens[k].0..tokens[k].1]),
        |m| {
            let space = tokens[m - 1].1;
            tokens[m].0 == space + 1
                && text[space] == b' '
                && squeezed.binary_search(&space).is_err()
        },
    );
    if runs.is_empty() {
        return;
    }
    // Bytes between runs keep their place in the original.
    let copy = |from: usize, to: usize, written: &mut Vec<u8>, spans: &mut Spans| {
        written.extend_from_slice(&text[from..to]);
        spans.extend_from(&out.spans, from, to);
    };
    let mut written = Vec::with_capacity(text.len());
    let mut spans = Spans::new();
    let mut pos = 0;
    for (first, last, digits) in runs {
        let (s, e) = (tokens[first].0, tokens[last].1);
        copy(pos, s, &mut written, &mut spans);
        written.extend_from_slice(digits.as_bytes());
        spans.push_same((out.spans.get(s).0, out.spans.get(e - 1).1), digits.len());
        pos = e;
    }
    copy(pos, text.len(), &mut written, &mut spans);
    let word_starts = (0..written.len())
        .filter(|&k| {
            written[k].is_ascii_alphanumeric()
                && (k == 0 || !written[k - 1].is_ascii_alphanumeric())
        })
        .collect();
    out.text = String::from_utf8(written).expect("ASCII text, digits and points");
    out.spans = spans;
    out.word_starts = word_starts;
}

/// A one in each byte of a `u64`, and the high bit of each.
const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = ONES << 7;

/// The high bit of each byte of `x` (eight ASCII bytes) that is at least `low`, and no other
/// bit: each byte is below 0x80, so adding at most 0x80 to it carries into no other byte.
fn at_least(x: u64, low: u8) -> u64 {
    (x + (0x80 - u64::from(low)) * ONES) & HIGH
}

/// Where the run of lower-case ASCII letters at `from` ends, or `None` if a letter comes three
/// times in a row in it. Reads eight bytes at a time where eight are left: a word is about six
/// letters, so most take one step with no branch per letter. `bytes` must be ASCII.
fn lower_case_run(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let not_lower = !(at_least(x, b'a') & !at_least(x, b'z' + 1)) & HIGH;
        let letters = (not_lower.trailing_zeros() / 8) as usize;
        // A zero byte of `same` is one whose next two bytes equal it; only those whose next two
        // are in the run count.
        let same = (x ^ (x >> 8)) | (x ^ (x >> 16));
        let tripled = !at_least(same, 1) & HIGH;
        let windows = letters.saturating_sub(2);
        if tripled & ((1 << (8 * windows)) - 1) != 0 {
            return None;
        }
        if letters < 8 {
            return Some(at + letters);
        }
        // The last two bytes start windows that end in the next eight.
        at += 6;
    }
    lower_case_run_bytewise(bytes, at)
}

/// [`lower_case_run`] a byte at a time: for the last bytes of a text.
fn lower_case_run_bytewise(bytes: &[u8], from: usize) -> Option<usize> {
    let end = from
        + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
    (!tripled_letter(&bytes[from..end])).then_some(end)
}

/// Whether a letter comes three times in a row in `bytes`.
fn tripled_letter(bytes: &[u8]) -> bool {
    (2..bytes.len()).any(|k| {
        bytes[k] == bytes[k - 1] && bytes[k] == bytes[k - 2] && bytes[k].is_ascii_alphabetic()
    })
}

impl Normalizer {
    /// Normalises `input` into `out` as [`Normalizer::normalize`] does, or gives up (false, and
    /// `out` left as it was) on text that does not fold to ASCII. Expects slang that expands to
    /// ASCII only.
    pub(super) fn normalize_ascii(&self, input: &str, out: &mut Normalized) -> bool {
        SCRATCH.with_borrow_mut(|scratch| {
            let folds = self.fold(input, &mut scratch.folded);
            if folds {
                self.write(scratch, out);
            }
            folds
        })
    }

    /// Lower case, white space and control characters as spaces, and digits and symbols inside
    /// words read as the letters they imitate, a hyphen between letters as a space (`g4ji`,
    /// `m@laysia`, `iming-iming`), except in tokens of the keep list. Whether a character changes
    /// depends on the input around it only (a letter beside it is an ASCII letter of the input,
    /// as other characters fold to spaces). False, and `folded` left unfinished, if a character
    /// folds to something other than spaces.
    fn fold(&self, input: &str, folded: &mut Folded) -> bool {
        folded.bytes.clear();
        folded.wide.clear();
        folded.ascii = input.is_ascii();
        let bytes = input.as_bytes();
        if folded.ascii {
            // Byte for byte: fold them all, then look again at the few that may stand for a
            // letter, all of them in `!`..=`@`: eight bytes at a time, most have none.
            folded.bytes.extend(bytes.iter().map(|&b| fold_ascii(b)));
            let mut look_again = |p: usize| {
                if let Some(r) = self.stands_for(bytes, p) {
                    folded.bytes[p] = r;
                }
            };
            let mut chunks = bytes.chunks_exact(8);
            for (c, chunk) in chunks.by_ref().enumerate() {
                let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
                let mut marks = at_least(x, b'!') & !at_least(x, b'@' + 1);
                while marks != 0 {
                    look_again(c * 8 + (marks.trailing_zeros() / 8) as usize);
                    marks &= marks - 1;
                }
            }
            let tail = bytes.len() - chunks.remainder().len();
            (tail..bytes.len()).for_each(look_again);
            return true;
        }
        let mut p = 0;
        while p < bytes.len() {
            let b = bytes[p];
            if b.is_ascii() {
                folded
                    .bytes
                    .push(self.stands_for(bytes, p).unwrap_or(fold_ascii(b)));
                p += 1;
                continue;
            }
            let c = input[p..].chars().next().expect("on a character boundary");
            let span = (p, p + c.len_utf8());
            let mut spaces = true;
            fold_char(c, |ch| {
                spaces &= ch == ' ';
                folded.wide.push((folded.bytes.len(), span));
                folded.bytes.push(b' ');
            });
            if !spaces {
                return false;
            }
            p = span.1;
        }
        true
    }

    /// The letter (or space) that ASCII byte `p` of the input stands for, if it is a digit or
    /// symbol [`leet`] knows, or a hyphen, between two letters and outside the keep list's tokens.
    #[inline(always)]
    fn stands_for(&self, input: &[u8], p: usize) -> Option<u8> {
        let letter = |i: usize| input.get(i).is_some_and(u8::is_ascii_alphabetic);
        let b = input[p];
        if !MAY_STAND_FOR_A_LETTER[usize::from(b)] || p == 0 || !letter(p - 1) || !letter(p + 1) {
            return None;
        }
        let r = if b == b'-' { ' ' } else { leet(char::from(b))? };
        (!(b.is_ascii_digit() && self.in_kept_word(input, p))).then_some(r as u8)
    }

    /// Whether byte `i` of the input lies in a token of the keep list (`p3mi`).
    fn in_kept_word(&self, input: &[u8], i: usize) -> bool {
        let start = i - input[..i]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let end = i + input[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        end - start <= self.longest_key
            && self.is_kept(
                &std::str::from_utf8(&input[start..end])
                    .expect("ASCII")
                    .to_ascii_lowercase(),
            )
    }

    /// Reads the folded bytes word by word into the output. Most words are written straight
    /// from the folded bytes; letters spelled out one by one or elongated are first gathered,
    /// with their byte ranges, in `word`.
    fn write(&self, scratch: &mut Scratch, normalized: &mut Normalized) {
        let Scratch {
            folded: source,
            word,
            word_text,
        } = scratch;
        let folded = &source.bytes;
        let (text, spans, word_starts) = normalized.take_room(folded.len());
        let mut out = Output {
            text,
            spans,
            space: None,
            several_spaces: false,
            squeezed: Vec::new(),
            word_starts,
            separators: None,
            number_words: false,
            original_ascii: source.ascii,
        };
        let word_char = |k: usize| folded.get(k).is_some_and(u8::is_ascii_alphanumeric);
        // A letter that is a word of its own, after one separator: `W A`, `j.a.p.r.i`.
        let spelled_after = |k: usize| {
            folded
                .get(k)
                .is_some_and(|&b| letter_separator(char::from(b)))
                && folded.get(k + 1).is_some_and(u8::is_ascii_alphabetic)
                && !word_char(k + 2)
        };
        let folded_text = std::str::from_utf8(folded).expect("folded ASCII");
        let mut i = 0;
        while i < folded.len() {
            if !word_char(i) {
                out.ch(folded[i], source.span(i));
                i += 1;
                continue;
            }
            let plain_end = self.copy_plain(source, i, &mut out);
            if plain_end > i {
                i = plain_end;
                continue;
            }
            let mut j = i + 1;
            while word_char(j) {
                j += 1;
            }
            let elongated = tripled_letter(&folded[i..j]);
            let spelled = j == i + 1 && folded[i].is_ascii_alphabetic() && spelled_after(j);
            if !(spelled || elongated) {
                // A word comes from consecutive input bytes.
                let (start, _) = source.span(i);
                self.expand(&folded_text[i..j], Source::Copied(start), &mut out);
                i = j;
                continue;
            }
            let unit = |k: usize| {
                let (start, end) = source.span(k);
                Unit {
                    ch: char::from(folded[k]),
                    start,
                    end,
                }
            };
            word.clear();
            word.extend((i..j).map(unit));
            if spelled {
                while spelled_after(j) {
                    word.push(unit(j + 1));
                    j += 2;
                }
            }
            collapse_elongation(word);
            word_text.clear();
            word_text.extend(word.iter().map(|u| u.ch));
            self.expand(word_text, Source::Units(word), &mut out);
            i = j;
        }
        out.finish(normalized);
    }

    /// Where the word at folded byte `from` ends, if it is written as it is whatever stands
    /// around it: two or more lower-case letters, none tripled, not a number word, neither slang
    /// nor on the keep list.
    fn plain_word_end(&self, folded: &[u8], from: usize) -> Option<usize> {
        let end = lower_case_run(folded, from)?;
        let word = &folded[from..end];
        let plain = word.len() >= 2
            // A digit goes on the word.
            && !folded.get(end).is_some_and(u8::is_ascii_alphanumeric)
            // The filter holds the slang, the keep list and the number words.
            && (word.len() > self.longest_key.max(LONGEST_NUMBER_WORD)
                || !self.filter.may_hold(word)
                || !starts_number_run(number_word(word))
                    && (word.len() > self.longest_key
                        || !self.rules.contains_key(word)));
        plain.then_some(end)
    }

    /// Copies the plain words from folded byte `i` on, and what stands between them when it is
    /// punctuation and at most one space, in one go: output and input are the same bytes there.
    /// Returns where the copy ends: `i` if the word at `i` is not plain. Most of what recruiters
    /// write is such runs, so this is the path most words take.
    fn copy_plain(&self, source: &Folded, i: usize, out: &mut Output) -> usize {
        let folded = &source.bytes;
        let Some(j) = self.plain_word_end(folded, i) else {
            return i;
        };
        // A space that stands for a wider character (an emoji) ends a run: the bytes around it
        // are not consecutive in the input. Only spaces stand for one, so the first after `j` is
        // the only one a run can meet.
        let wide = source
            .wide
            .get(source.wide.partition_point(|&(k, _)| k < j))
            .map(|&(k, _)| k);
        let punctuation = |k: usize| {
            let mut k = k;
            while folded.get(k).is_some_and(u8::is_ascii_punctuation) {
                k += 1;
            }
            k
        };
        out.end_space();
        out.word_may_start();
        let start = out.text.len();
        let mut end = j;
        loop {
            // Between two plain words punctuation and one space are written as they are: after
            // a letter a `.` or `,` is no number separator, and one space is not squeezed.
            let marks = punctuation(end);
            let mut next = marks;
            if folded.get(next) == Some(&b' ') && wide != Some(next) {
                next = punctuation(next + 1);
            }
            let Some(next_end) = self.plain_word_end(folded, next) else {
                end = marks;
                break;
            };
            out.word_starts.push(start + next - i);
            end = next_end;
        }
        out.text.extend_from_slice(&folded[i..end]);
        out.spans.push_copied(source.span(i), end - i);
        end
    }

    /// Writes one word: split where a number is glued to a unit (`12jt`, `rm3500`),
    /// reduplication spelled out (`laki2`), slang expanded, as the general way's
    /// `expand_tokens` does.
    fn expand(&self, token: &str, source: Source, out: &mut Output) {
        let chars = token.as_bytes();
        let n = chars.len();
        let word = if n <= self.longest_key { token } else { "" };
        let rule = self.rule(word.as_bytes());
        let digits = chars.iter().take_while(|b| b.is_ascii_digit()).count();
        let letters = chars.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if rule.is_some_and(|r| r.keep) {
            out.word(chars, source)
        } else if digits > 0 && digits < n && chars[digits..].iter().all(u8::is_ascii_alphabetic) {
            out.word(&chars[..digits], source);
            out.ch(b' ', source.span(digits));
            self.expand_part(&token[digits..], source.from(digits), out)
        } else if letters > 0
            && letters < n
            && chars[letters..].iter().all(u8::is_ascii_digit)
            && UNIT_PREFIXES
                .iter()
                .any(|p| p.as_bytes() == &chars[..letters])
        {
            out.word(&chars[..letters], source);
            out.ch(b' ', source.span(letters));
            out.word(&chars[letters..], source.from(letters))
        } else if letters >= 2 && letters + 1 == n && chars[letters] == b'2' {
            let mark = source.span(letters);
            self.expand_part(&token[..letters], source, out);
            out.ch(b' ', mark);
            self.expand_part(&token[..letters], Source::Same(mark), out)
        } else {
            let short = n <= self.longest_key && word.len() <= MAX_SLANG_BYTES;
            match rule.filter(|_| short).and_then(|r| r.slang.as_deref()) {
                Some(expansion) => {
                    out.expansion(expansion, (source.span(0).0, source.span(n - 1).1))
                }
                None => out.word(chars, source),
            }
        }
    }

    /// Writes a part of a word, or its slang expansion.
    fn expand_part(&self, part: &str, source: Source, out: &mut Output) {
        let n = part.len();
        let slang = (n <= self.longest_key && n <= MAX_SLANG_BYTES)
            .then(|| self.rule(part.as_bytes())?.slang.as_deref())
            .flatten();
        match slang {
            Some(expansion) => out.expansion(expansion, (source.span(0).0, source.span(n - 1).1)),
            None => out.word(part.as_bytes(), source),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;

    /// The seed pack's normaliser, and one with slang that tries the corners: expansions to
    /// number words, with white space of every kind, of tokens with digits.
    static NORMALIZERS: LazyLock<[Normalizer; 2]> = LazyLock::new(|| {
        let pack = crate::robustness::seed_rules();
        let slang: HashMap<String, String> = [
            ("yg", "yang"),
            ("jt", "juta"),
            ("ln", "luar negeri"),
            ("dw", "dua"),
            ("sbln", "setengah bulan"),
            ("sp", " spasi  lagi "),
            ("tb", "tab\tvt\u{b}cr\r"),
            ("k3", "kerja"),
            ("2", "dua"),
            ("org", "orang"),
            ("wa", "whatsapp"),
            ("rb", "ribu.000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let keep = ["p3mi", "bp3mi", "4wd", "mp3", "k3"].map(String::from);
        [
            Normalizer::new(pack.slang, pack.keep),
            Normalizer::new(slang, keep),
        ]
    });

    /// Text made to meet every step: obfuscation, spaced letters, elongation, glued units,
    /// reduplication, slang, number words and separators, odd white space, emojis and symbols
    /// between and inside words, and now and then a character that does not fold to ASCII.
    fn foldable_posty() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("g4ji M@laysia k3rja p3mi BP3MI 4wd".to_string()),
            Just("W A j.a.p.r.i a a a x-y-z i - n".to_string()),
            Just("gajiii bisaaa aaab".to_string()),
            Just("12jt rm3500 USD1000 rp5 30wpm covid19".to_string()),
            Just("laki2 org2 dw2 yg2 ab2".to_string()),
            Just("yg jt ln dw sbln sp tb wa rb 2".to_string()),
            Just("dua belas juta seratus lima puluh setengah se-kalbar".to_string()),
            Just("Rp 12.000.000,- 1,5jt 0812.3456.7890 1.234,56 12,000.5 3.5.000".to_string()),
            Just("\t\n\r\u{b}\u{c}\u{0}\u{7f}  ".to_string()),
            Just("🔥💰✈️ – \u{a0}\u{200b}\u{feff}".to_string()),
            Just("W🔥A g🔥4ji w\u{a0}a b\u{301}c 1🔥000 2.🔥000".to_string()),
            Just("é ＲＭ３ 柬埔寨 ½ …".to_string()),
            "[a-z0-9 .\\-🔥\u{a0}\u{301}–]{0,16}",
            "[a-zA-Z0-9@$!.,\\-_*|+~ ]{0,16}",
            "[a-z2 ]{0,16}",
            "[\\x00-\\x7f]{0,24}",
            "\\PC{0,4}",
        ];
        prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
    }

    /// The fast path's output for `text`, if it takes it, written where another text's was.
    fn fast(n: &Normalizer, text: &str) -> Option<Normalized> {
        let mut out = Normalized::default();
        n.normalize_into("W A 🔥 g4jiii dua belas Rp 1.000,5 客服 yg", &mut out);
        n.normalize_ascii(text, &mut out).then_some(out)
    }

    fn same_both_ways(text: &str) {
        for n in NORMALIZERS.iter() {
            if let Some(fast) = fast(n, text) {
                let mut general = Normalized::default();
                n.normalize_units(text, &mut general);
                assert_eq!(fast.text, general.text, "text of {text:?}");
                assert_eq!(fast.spans, general.spans, "spans of {text:?}");
                assert_eq!(fast.word_starts, general.word_starts, "words of {text:?}");
                assert!(
                    fast.is_ascii() && general.is_ascii(),
                    "ASCII-ness of {text:?}"
                );
                assert_eq!(
                    (fast.original_is_ascii(), general.original_is_ascii()),
                    (text.is_ascii(), text.is_ascii()),
                    "ASCII-ness of the original {text:?}"
                );
            }
        }
    }

    #[test]
    fn gives_up_on_what_does_not_fold_to_ascii() {
        let [seed, _] = &*NORMALIZERS;
        assert!(fast(seed, "G4ji 12jt, hub W A 0812").is_some());
        assert!(fast(seed, "🔥 Gaji\u{a0}12jt 🔥").is_some());
        assert!(fast(seed, "客服 gaji 12jt").is_none());
    }

    #[test]
    fn reads_number_words_unless_more_than_one_space_parts_them() {
        let [seed, _] = &*NORMALIZERS;
        let text = |t: &str| fast(seed, t).expect("folds to ASCII").text;
        assert_eq!(text("Gaji dua belas juta"), "gaji 12 juta");
        assert_eq!(text("dua\tbelas"), "12");
        assert_eq!(text("dua  belas"), "2 belas");
        assert_eq!(text("dua 🔥 belas"), "2 belas");
    }

    #[test]
    fn the_table_of_bytes_that_may_stand_for_letters_is_leet() {
        for b in 0..=255u8 {
            let stands = b == b'-' || (b.is_ascii() && leet(char::from(b)).is_some());
            assert_eq!(MAY_STAND_FOR_A_LETTER[usize::from(b)], stands, "byte {b}");
            // `fold` looks again only at bytes in this range.
            assert!(!stands || (b'!'..=b'@').contains(&b), "byte {b}");
        }
    }

    #[test]
    fn seed_posts_same_both_ways() {
        for post in crate::robustness::seed_posts() {
            same_both_ways(&post);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn lower_case_run_reads_eight_bytes_as_one_at_a_time(
            pieces in prop::collection::vec(
                prop_oneof![Just("a".into()), Just("aa".into()), Just("b".into()), "[c-z]{1,3}", "[`{@A -]"],
                0..24,
            ),
        ) {
            let text = pieces.concat();
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() {
                prop_assert_eq!(
                    lower_case_run(bytes, from),
                    lower_case_run_bytewise(bytes, from),
                    "{:?} from {}", text, from
                );
            }
        }

        #[test]
        fn same_as_the_general_way(text in foldable_posty()) {
            same_both_ways(&text);
        }
    }
}
