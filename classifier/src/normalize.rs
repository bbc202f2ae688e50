//! Text normalisation with a map back to the original bytes.
//!
//! Recruiters write to be read by people and missed by filters: `g4ji`, `m@laysia`, `W A`,
//! `gajiii`, emojis between words, `12jt`. The normaliser undoes that before matching and keeps,
//! for every normalised character, the byte range of the original text it came from, so a match
//! found in normalised text is reported as a span of what the recruiter actually wrote.

use std::collections::{HashMap, HashSet};

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
    /// Tokens read as written: never de-obfuscated or split (`p3mi`, `bp3mi`, `mp3`).
    keep: HashSet<String>,
    /// Characters in the longest slang or keep token: longer tokens are not looked up.
    longest_key: usize,
}

/// Currency and unit prefixes split from a number glued after them (`rm3500` → `rm 3500`).
const UNIT_PREFIXES: &[&str] = &[
    "rp", "rm", "usd", "us", "idr", "myr", "sgd", "ntd", "nt", "hkd", "thb",
];

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

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

impl Normalizer {
    /// A normaliser with the given slang table (keys are single lower-case tokens) and tokens to
    /// keep as written.
    pub fn new(slang: HashMap<String, String>, keep: impl IntoIterator<Item = String>) -> Self {
        let slang: HashMap<String, String> = slang
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
            .collect();
        let keep: HashSet<String> = keep.into_iter().map(|k| k.to_lowercase()).collect();
        let longest_key = slang
            .keys()
            .chain(&keep)
            .map(|k: &String| k.chars().count())
            .max()
            .unwrap_or(0);
        Normalizer {
            slang,
            keep,
            longest_key,
        }
    }

    /// Normalises `input`; see the module documentation for what that means.
    pub fn normalize(&self, input: &str) -> Normalized {
        let units = fold(input);
        let protected = self.protected(&units);
        let units = deobfuscate(units, &protected);
        let units = join_spaced_letters(units);
        let units = collapse_elongation(units);
        let units = self.expand_tokens(units);
        let units = number_separators(units);
        let units = number_words(units);
        let units = squeeze_spaces(units);
        build(units)
    }

    /// Marks the units of tokens in the keep list.
    fn protected(&self, units: &[Unit]) -> Vec<bool> {
        let mut out = vec![false; units.len()];
        if self.keep.is_empty() {
            return out;
        }
        let mut word = String::new();
        for (s, e) in tokens(units) {
            if e - s > self.longest_key {
                continue;
            }
            word.clear();
            word.extend(units[s..e].iter().map(|u| u.ch));
            if self.keep.contains(&word) {
                out[s..e].iter_mut().for_each(|p| *p = true);
            }
        }
        out
    }

    /// Splits numbers glued to units (`12jt` → `12 jt`, `rm3500` → `rm 3500`), expands
    /// reduplication (`laki2` → `laki laki`) and slang tokens.
    fn expand_tokens(&self, units: Vec<Unit>) -> Vec<Unit> {
        let mut out = Vec::with_capacity(units.len() + units.len() / 8);
        let mut word = String::new();
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
            word.clear();
            if token.len() <= self.longest_key {
                word.extend(token.iter().map(|u| u.ch));
            }
            let digits = token.iter().take_while(|u| u.ch.is_ascii_digit()).count();
            let letters = token.iter().take_while(|u| u.ch.is_alphabetic()).count();
            if self.keep.contains(&word) {
                out.extend_from_slice(token);
            } else if digits > 0
                && digits < token.len()
                && token[digits..].iter().all(|u| u.ch.is_alphabetic())
            {
                // A number glued to a word: `12jt`, `30wpm`.
                out.extend_from_slice(&token[..digits]);
                out.push(Unit {
                    ch: ' ',
                    ..token[digits]
                });
                self.push_word(&token[digits..], &mut out);
            } else if letters > 0
                && letters < token.len()
                && token[letters..].iter().all(|u| u.ch.is_ascii_digit())
                && UNIT_PREFIXES.contains(
                    &token[..letters]
                        .iter()
                        .map(|u| u.ch)
                        .collect::<String>()
                        .as_str(),
                )
            {
                // A currency glued before a number: `rm3500`, `usd1000`.
                out.extend_from_slice(&token[..letters]);
                out.push(Unit {
                    ch: ' ',
                    ..token[letters]
                });
                out.extend_from_slice(&token[letters..]);
            } else if letters >= 2 && letters + 1 == token.len() && token[letters].ch == '2' {
                // Reduplication shorthand: `laki2` → `laki laki`, `org2` → `orang orang`.
                let base = &token[..letters];
                self.push_word(base, &mut out);
                out.push(Unit {
                    ch: ' ',
                    ..token[letters]
                });
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
                self.push_word(token, &mut out);
            }
            i = j;
        }
        out
    }

    fn push_word(&self, token: &[Unit], out: &mut Vec<Unit>) {
        let mut buf = [0u8; 32];
        let expansion = if token.len() <= self.longest_key {
            let mut len = 0;
            for u in token {
                let n = u.ch.len_utf8();
                if len + n > buf.len() {
                    len = usize::MAX;
                    break;
                }
                u.ch.encode_utf8(&mut buf[len..]);
                len += n;
            }
            std::str::from_utf8(buf.get(..len).unwrap_or_default())
                .ok()
                .filter(|w| !w.is_empty())
                .and_then(|w| self.slang.get(w))
        } else {
            None
        };
        match expansion {
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
        if c.is_ascii() {
            let ch = if c.is_ascii_alphanumeric() || c.is_ascii_punctuation() {
                c.to_ascii_lowercase()
            } else {
                ' '
            };
            units.push(Unit { ch, start, end });
            continue;
        }
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

/// Reads digits and symbols inside words as the letters they imitate, and a hyphen between
/// letters as a space (`iming-iming`, `m-paspor`).
fn deobfuscate(mut units: Vec<Unit>, protected: &[bool]) -> Vec<Unit> {
    let letter = |u: Option<&Unit>| u.is_some_and(|u| u.ch.is_alphabetic() && !is_cjk(u.ch));
    for i in 1..units.len() {
        if protected[i] {
            continue;
        }
        if units[i].ch == '-' && letter(units.get(i - 1)) && letter(units.get(i + 1)) {
            units[i].ch = ' ';
            continue;
        }
        let Some(l) = leet(units[i].ch) else { continue };
        let inside = letter(units.get(i - 1)) && letter(units.get(i + 1));
        if inside {
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

/// Byte-free token boundaries: (start, end) unit indices of every run of word characters.
fn tokens(units: &[Unit]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if is_word_char(units[i].ch) && !is_cjk(units[i].ch) {
            let s = i;
            while i < units.len() && is_word_char(units[i].ch) && !is_cjk(units[i].ch) {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Thousands separators dropped and decimal commas made points: `12.000.000` → `12000000`,
/// `1,5` → `1.5`. Digit groups that fit neither shape (phone numbers) are left alone.
fn number_separators(units: Vec<Unit>) -> Vec<Unit> {
    let digit = |i: usize| units.get(i).is_some_and(|u| u.ch.is_ascii_digit());
    let sep = |i: usize| units.get(i).is_some_and(|u| u.ch == '.' || u.ch == ',');
    let mut drop = vec![false; units.len()];
    let mut decimal = vec![false; units.len()];
    let mut i = 0;
    while i < units.len() {
        if !digit(i) || (i > 0 && (digit(i - 1) || units[i - 1].ch.is_alphabetic())) {
            i += 1;
            continue;
        }
        let mut j = i;
        while digit(j) {
            j += 1;
        }
        let lead = j - i;
        // Thousands: 1-3 digits, then one or more groups of a separator and exactly 3 digits.
        let mut k = j;
        let mut groups = Vec::new();
        while sep(k) && (1..=3).all(|d| digit(k + d)) && !digit(k + 4) {
            groups.push(k);
            k += 4;
        }
        let same_sep = groups.windows(2).all(|w| units[w[0]].ch == units[w[1]].ch);
        if lead <= 3 && !groups.is_empty() && same_sep && !(sep(k) && digit(k + 1)) {
            groups.iter().for_each(|&g| drop[g] = true);
            i = k;
            continue;
        }
        // Decimal: digits, a separator, one or two digits, then no more digits.
        if sep(j) && digit(j + 1) && !digit(j + 3) && !(sep(j + 2) || sep(j + 3)) {
            decimal[j] = true;
            i = j + 1;
            continue;
        }
        i = j;
    }
    units
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !drop[*i])
        .map(|(i, u)| if decimal[i] { Unit { ch: '.', ..u } } else { u })
        .collect()
}

/// Value of an Indonesian/Malay number word below a thousand, and whether it multiplies.
fn number_word(w: &str) -> Option<NumberWord> {
    use NumberWord::{Digit, Times};
    Some(match w {
        "satu" | "se" => Digit(1),
        "dua" => Digit(2),
        "tiga" => Digit(3),
        "empat" => Digit(4),
        "lima" => Digit(5),
        "enam" => Digit(6),
        "tujuh" => Digit(7),
        "delapan" | "lapan" => Digit(8),
        "sembilan" => Digit(9),
        "sepuluh" => Digit(10),
        "sebelas" => Digit(11),
        "seratus" => Digit(100),
        "setengah" => Digit(0), // handled as 0.5 below
        "belas" => Times(0),    // n belas = n + 10
        "puluh" => Times(10),
        "ratus" => Times(100),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum NumberWord {
    Digit(u32),
    Times(u32),
}

/// Number words become digits: `dua belas juta` → `12 juta`, `seratus lima puluh` → `150`,
/// `setengah juta` → `0.5 juta`. Thousand and million words stay as the units patterns expect.
fn number_words(units: Vec<Unit>) -> Vec<Unit> {
    let toks = tokens(&units);
    // The longest number word, `sembilan` / `setengah`, has 8 letters; words are ASCII.
    let word = |t: (usize, usize)| -> String {
        let token = &units[t.0..t.1];
        if !(2..=8).contains(&token.len()) || !token.iter().all(|u| u.ch.is_ascii_lowercase()) {
            return String::new();
        }
        token.iter().map(|u| u.ch).collect()
    };
    let mut replace: Vec<(usize, usize, String)> = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let first = word(toks[k]);
        if first == "setengah" {
            replace.push((toks[k].0, toks[k].1, "0.5".into()));
            k += 1;
            continue;
        }
        if !matches!(number_word(&first), Some(NumberWord::Digit(_))) {
            k += 1;
            continue;
        }
        // Parse a run: (digit [belas|puluh|ratus])+, adding up groups.
        let (mut total, mut current, mut end) = (0u32, 0u32, k);
        let mut m = k;
        while m < toks.len() && toks[m].0 <= units.len() {
            // Words in a run are separated by exactly one space.
            if m > k && !(toks[m].0 == toks[m - 1].1 + 1 && units[toks[m - 1].1].ch == ' ') {
                break;
            }
            match number_word(&word(toks[m])) {
                Some(NumberWord::Digit(d)) if d > 0 => {
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
        replace.push((toks[k].0, toks[end].1, total.to_string()));
        k = end + 1;
    }
    if replace.is_empty() {
        return units;
    }
    let mut out = Vec::with_capacity(units.len());
    let mut pos = 0;
    for (s, e, digits) in replace {
        out.extend_from_slice(&units[pos..s]);
        let (start, end) = (units[s].start, units[e - 1].end);
        out.extend(digits.chars().map(|ch| Unit { ch, start, end }));
        pos = e;
    }
    out.extend_from_slice(&units[pos..]);
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
