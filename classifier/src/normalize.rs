//! Text normalisation with a map back to the original bytes.
//!
//! Recruiters write to be read by people and missed by filters: `g4ji`, `m@laysia`, `W A`,
//! `gajiii`, emojis between words, `12jt`. The normaliser undoes that before matching and keeps,
//! for every normalised character, the byte range of the original text it came from, so a match
//! found in normalised text is reported as a span of what the recruiter actually wrote.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// One character of normalised text and the original byte range it stands for.
#[derive(Debug, Clone, Copy)]
struct Unit {
    ch: char,
    start: usize,
    end: usize,
}

/// Normalised text plus the byte map back to the original.
#[derive(Debug, Clone)]
pub struct Normalized {
    text: String,
    /// For every byte of `text`, the index of its unit.
    byte_unit: Vec<u32>,
    /// Original byte range of every unit.
    spans: Vec<(usize, usize)>,
    /// Byte offsets in `text` where words start (for `near` distances).
    word_starts: Vec<usize>,
}

impl Normalized {
    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Maps a byte range of the normalised text to a byte range of the original text. Both ends
    /// fall on character boundaries of the original.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if start >= end || end > self.text.len() {
            return (0, 0);
        }
        let first = self.byte_unit[start] as usize;
        let last = self.byte_unit[end - 1] as usize;
        (self.spans[first].0, self.spans[last].1)
    }

    /// The index of the word that contains (or follows) byte `pos` of the normalised text.
    pub fn word_index(&self, pos: usize) -> usize {
        match self.word_starts.binary_search(&pos) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

/// Expands chat slang and undoes obfuscation. Built once from the rule set's slang table.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    slang: HashMap<String, String>,
}

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
    matches!(c as u32,
        0x2E80..=0x2FFF | 0x3040..=0x30FF | 0x3100..=0x312F | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

impl Normalizer {
    /// A normaliser with the given slang table (keys are single lower-case tokens).
    pub fn new(slang: HashMap<String, String>) -> Self {
        let slang = slang
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
            .collect();
        Normalizer { slang }
    }

    /// Normalises `input`; see the module documentation for what that means.
    pub fn normalize(&self, input: &str) -> Normalized {
        let units = fold(input);
        let units = deobfuscate(units);
        let units = join_spaced_letters(units);
        let units = collapse_elongation(units);
        let units = self.expand_tokens(units);
        let units = squeeze_spaces(units);
        build(units)
    }

    /// Splits numbers glued to units (`12jt` → `12 jt`) and expands slang tokens.
    fn expand_tokens(&self, units: Vec<Unit>) -> Vec<Unit> {
        let mut out = Vec::with_capacity(units.len() + units.len() / 8);
        let mut i = 0;
        while i < units.len() {
            if !is_word_char(units[i].ch) || is_cjk(units[i].ch) {
                out.push(units[i]);
                i += 1;
                continue;
            }
            let mut j = i;
            while j < units.len() && is_word_char(units[j].ch) && !is_cjk(units[j].ch) {
                j += 1;
            }
            let token = &units[i..j];
            // A number glued to a word: `12jt`, `1,5jt`, `3500rm`.
            let digits = token.iter().take_while(|u| u.ch.is_ascii_digit()).count();
            if digits > 0
                && digits < token.len()
                && token[digits..].iter().all(|u| u.ch.is_alphabetic())
            {
                out.extend_from_slice(&token[..digits]);
                let gap = token[digits];
                out.push(Unit { ch: ' ', ..gap });
                self.push_word(&token[digits..], &mut out);
            } else {
                self.push_word(token, &mut out);
            }
            i = j;
        }
        out
    }

    fn push_word(&self, token: &[Unit], out: &mut Vec<Unit>) {
        let word: String = token.iter().map(|u| u.ch).collect();
        match self.slang.get(&word) {
            Some(expansion) => {
                let start = token[0].start;
                let end = token[token.len() - 1].end;
                out.extend(expansion.chars().map(|ch| Unit { ch, start, end }));
            }
            None => out.extend_from_slice(token),
        }
    }
}

/// NFKC, lower case, and decorative symbols (emojis, dingbats, box drawing) to spaces.
fn fold(input: &str) -> Vec<Unit> {
    let mut units = Vec::with_capacity(input.len());
    for (start, c) in input.char_indices() {
        let end = start + c.len_utf8();
        for n in std::iter::once(c).nfkc() {
            for ch in n.to_lowercase() {
                let ch = if ch.is_alphanumeric() || kept_punctuation(ch) {
                    ch
                } else {
                    ' '
                };
                units.push(Unit { ch, start, end });
            }
        }
    }
    units
}

/// Reads digits and symbols inside words as the letters they imitate.
fn deobfuscate(mut units: Vec<Unit>) -> Vec<Unit> {
    let letter = |u: Option<&Unit>| u.is_some_and(|u| u.ch.is_alphabetic() && !is_cjk(u.ch));
    for i in 1..units.len() {
        let Some(l) = leet(units[i].ch) else { continue };
        let prev_letter = letter(units.get(i - 1));
        let next = units.get(i + 1);
        let inside = prev_letter && letter(next);
        // At the end of a word, only after two letters: `kerj4`, not `rp1` or `mp3`-like codes.
        let at_end = prev_letter
            && i >= 2
            && letter(units.get(i - 2))
            && !next.is_some_and(|u| is_word_char(u.ch))
            && units[i].ch != '!';
        if inside || at_end {
            units[i].ch = l;
        }
    }
    units
}

/// Joins letters written one by one with separators: `W A` → `wa`, `j.a.p.r.i` → `japri`.
fn join_spaced_letters(units: Vec<Unit>) -> Vec<Unit> {
    let single_letter = |i: usize| -> bool {
        let u = &units[i];
        u.ch.is_alphabetic()
            && !is_cjk(u.ch)
            && (i == 0 || !is_word_char(units[i - 1].ch))
            && units.get(i + 1).is_none_or(|n| !is_word_char(n.ch))
    };
    let mut drop = vec![false; units.len()];
    let mut i = 0;
    while i < units.len() {
        if !single_letter(i) {
            i += 1;
            continue;
        }
        // Extend the run: letter (sep letter)*, exactly one separator between letters.
        let mut run = vec![i];
        let mut j = i;
        while j + 2 < units.len() && letter_separator(units[j + 1].ch) && single_letter(j + 2) {
            j += 2;
            run.push(j);
        }
        if run.len() >= 2 {
            for &k in &run[..run.len() - 1] {
                drop[k + 1] = true;
            }
        }
        i = j + 1;
    }
    units
        .into_iter()
        .zip(drop)
        .filter_map(|(u, d)| (!d).then_some(u))
        .collect()
}

/// Collapses a letter repeated three or more times: `gajiii` → `gaji`, `bisaaa` → `bisa`.
fn collapse_elongation(units: Vec<Unit>) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        let c = units[i].ch;
        let mut j = i + 1;
        while j < units.len() && units[j].ch == c {
            j += 1;
        }
        if c.is_alphabetic() && !is_cjk(c) && j - i >= 3 {
            out.push(Unit {
                ch: c,
                start: units[i].start,
                end: units[j - 1].end,
            });
        } else {
            out.extend_from_slice(&units[i..j]);
        }
        i = j;
    }
    out
}

/// One space between words, none at the ends.
fn squeeze_spaces(units: Vec<Unit>) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    for u in units {
        if u.ch.is_whitespace() {
            if out.last().is_some_and(|p| p.ch != ' ') {
                out.push(Unit { ch: ' ', ..u });
            }
        } else {
            out.push(u);
        }
    }
    if out.last().is_some_and(|u| u.ch == ' ') {
        out.pop();
    }
    out
}

fn build(units: Vec<Unit>) -> Normalized {
    let mut text = String::with_capacity(units.len());
    let mut byte_unit = Vec::with_capacity(units.len());
    let mut spans = Vec::with_capacity(units.len());
    let mut word_starts = Vec::new();
    let mut prev_word = false;
    for (i, u) in units.iter().enumerate() {
        let word = is_word_char(u.ch);
        if word && (!prev_word || is_cjk(u.ch)) {
            word_starts.push(text.len());
        }
        prev_word = word;
        text.push(u.ch);
        byte_unit.extend(std::iter::repeat_n(i as u32, u.ch.len_utf8()));
        spans.push((u.start, u.end));
    }
    Normalized {
        text,
        byte_unit,
        spans,
        word_starts,
    }
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
        Normalizer::new(slang)
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(
            normalizer().normalize(input).text(),
            expected,
            "input: {input:?}"
        );
    }

    #[test]
    fn folds_case_width_and_emojis() {
        check("GAJI Besar🔥🔥 ＲＭ３０００", "gaji besar rm3000");
        check("💰Kerja✈️Malaysia", "kerja malaysia");
    }

    #[test]
    fn undoes_obfuscation() {
        check("g4ji b3sar di m@laysia", "gaji besar di malaysia");
        check("hub W A 0812", "hub wa 0812");
        check("j.a.p.r.i aja", "japri aja");
        check("gajiii gedeee", "gaji gede");
        check("kerj4 sekarang", "kerja sekarang");
    }

    #[test]
    fn leaves_numbers_and_codes_alone() {
        check("0812-3456-7890", "0812-3456-7890");
        check("usd1000 rm3500", "usd1000 rm3500");
        check("Rp 12.000.000", "rp 12.000.000");
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
        let n = normalizer().normalize("satu dua  tiga");
        assert_eq!(n.word_index(0), 0);
        assert_eq!(n.word_index(n.text().find("tiga").unwrap()), 2);
    }
}
