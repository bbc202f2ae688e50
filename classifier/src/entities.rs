//! What a post gives away about who is behind it and what is promised: phone numbers (E.164),
//! WhatsApp and Telegram links, Telegram and Instagram handles, e-mail addresses, and salary
//! amounts with their currency and period. Officers link posts into recruiter networks by these.

use std::sync::LazyLock;

use regex::Regex;
use regex_automata::meta;
use regex_automata::util::captures::Captures;
use serde::{Deserialize, Serialize};

use crate::anchored::{anchored_at, each_match, is_word_boundary, starts_at};
use crate::normalize::{Normalized, is_han};
use crate::verdict::Span;

mod money;

/// What kind of identifier an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A phone number, in E.164.
    Phone,
    /// A `wa.me` or `api.whatsapp.com` link; the value is the number in E.164.
    Whatsapp,
    /// A `t.me` link or a handle introduced as Telegram; the value is the lower-case handle.
    Telegram,
    /// A handle introduced as Instagram; the value is the lower-case handle.
    Instagram,
    /// An e-mail address, lower case.
    Email,
}

/// An identifier found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    /// The normalised value (E.164, lower-case handle or address).
    pub value: String,
    pub span: Span,
}

/// A promised amount of pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Salary {
    pub amount: f64,
    /// ISO 4217: `IDR`, `MYR`, `USD`.
    pub currency: String,
    /// `hour`, `day`, `week`, `month` or `year`, when the text says.
    pub period: Option<String>,
    pub span: Span,
}

impl std::fmt::Display for Salary {
    /// `MYR 3500 / month`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.currency, self.amount)?;
        match &self.period {
            Some(p) => write!(f, " / {p}"),
            None => Ok(()),
        }
    }
}

const PHONE_PATTERN: &str =
    r"(?:\+\s?|\b)(?:62|60|0)[\s.\-]?\(?\d{1,4}\)?(?:[\s.\-]?\d{2,5}){1,4}\b";
/// Phone numbers, and the most bytes one can take: every match is bounded, so a search need not
/// look further (the regex still sees past that for its final `\b`).
static PHONE: LazyLock<(meta::Regex, usize)> = LazyLock::new(|| {
    let longest = regex_syntax::parse(PHONE_PATTERN)
        .expect("static regex")
        .properties()
        .maximum_len()
        .expect("phone numbers have a bounded length");
    (
        meta::Regex::new(PHONE_PATTERN).expect("static regex"),
        longest,
    )
});
static WHATSAPP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:wa\.me/|api\.whatsapp\.com/send/?\?phone=)\+?(\d{8,15})")
        .expect("static regex")
});
static TELEGRAM_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:t\.me|telegram\.me)/(?:s/)?([a-z0-9_]{4,32})\b").expect("static regex")
});
static HANDLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(ig|insta(?:gram)?|tele(?:gram)?|tg)\s*[:=]?\s*@([a-z0-9_.]{3,32})")
        .expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+\-]{1,64}@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63})*\.[a-z]{2,24}\b")
        .expect("static regex")
});
/// Amounts in the normalised text (numbers already canonical: `12000000`, `1.5`).
const MONEY_PATTERN: &str = concat!(
    r"(?:(?P<pre>\brp|\bidr|\brm|\bmyr|\bringgit|\busd|\bus|\$)\s*\$?\s*(?P<n1>\d+(?:\.\d+)?)(?:\s*(?P<m1>juta|jt|ribu|rb|k)\b)?",
    r"|\b(?P<n2>\d+(?:\.\d+)?)\s*(?P<m2>juta|jt|ribu|rb|k)?\s*(?P<post>usd|dolar|dollar|ringgit|rm|myr|rupiah)\b",
    r"|\b(?P<n3>\d+(?:\.\d+)?)\s*(?P<m3>juta|jt)\b)",
    r"(?P<period>\s*(?:/|per|se|tiap|setiap|a|an)\s*(?:bulan|bln|month|mo|hari|day|jam|hour|minggu|week|tahun|year|thn))?"
);
static MONEY: LazyLock<meta::Regex> =
    LazyLock::new(|| meta::Regex::new(MONEY_PATTERN).expect("static regex"));

/// The indices of `MONEY`'s named groups, looked up once: a look-up by name hashes the name.
struct MoneyGroups {
    pre: usize,
    post: usize,
    /// `n1`, `n2`, `n3`: the number of each alternative.
    number: [usize; 3],
    /// `m1`, `m2`, `m3`: its multiplier.
    multiplier: [usize; 3],
    period: usize,
}

static MONEY_GROUPS: LazyLock<MoneyGroups> = LazyLock::new(|| {
    let index = |name: &str| {
        MONEY
            .group_info()
            .to_index(regex_automata::PatternID::ZERO, name)
            .expect("a group of MONEY_PATTERN")
    };
    MoneyGroups {
        pre: index("pre"),
        post: index("post"),
        number: ["n1", "n2", "n3"].map(index),
        multiplier: ["m1", "m2", "m3"].map(index),
        period: index("period"),
    }
});

/// Currencies written before the amount in `MONEY` (its `pre` group, `$` aside).
const CURRENCY_PREFIXES: &[&str] = &["rp", "idr", "rm", "myr", "ringgit", "usd", "us"];

/// Bytes that can begin a `MONEY` match: `$`, ASCII digits, the first letters of
/// [`CURRENCY_PREFIXES`], and the first byte of every character outside ASCII.
const MONEY_FIRST: [bool; 256] = {
    let mut table = [false; 256];
    table[b'$' as usize] = true;
    let mut b = b'0';
    while b <= b'9' {
        table[b as usize] = true;
        b += 1;
    }
    let mut p = 0;
    while p < CURRENCY_PREFIXES.len() {
        table[CURRENCY_PREFIXES[p].as_bytes()[0] as usize] = true;
        p += 1;
    }
    let mut b = 0xC0;
    while b <= 0xFF {
        table[b] = true;
        b += 1;
    }
    table
};

/// The ASCII word characters, `[0-9A-Za-z_]`: no word starts right after one.
const ASCII_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
        b += 1;
    }
    table
};

/// Where a `MONEY` match can start: at `$`, or where a word starts with a currency of
/// [`CURRENCY_PREFIXES`] or with a digit (`char::is_numeric` takes in every `\d`). Each
/// alternative of `MONEY` starts so; `amounts_found_where_they_can_start` holds this against the
/// regex.
fn money_starts(t: &str) -> impl Iterator<Item = usize> {
    // Most bytes cannot start an amount: they are ruled out by a table look-up first.
    starts_at(t.as_bytes(), &MONEY_FIRST, |i| money_can_start(t, i))
}

/// [`money_starts`] in ASCII text whose words (runs of ASCII letters and digits) start at
/// `words`, ascending: every start but `$` starts such a word, so only those and the `$` signs
/// (found with memchr) are looked at, not every byte.
fn ascii_money_starts<'a>(t: &'a str, words: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
    let mut dollars = memchr::memchr_iter(b'$', t.as_bytes()).peekable();
    let first = |i: usize| MONEY_FIRST[usize::from(t.as_bytes()[i])];
    let mut words = words
        .iter()
        .copied()
        .filter(move |&i| first(i) && money_can_start(t, i))
        .peekable();
    std::iter::from_fn(move || match (dollars.peek(), words.peek()) {
        (Some(d), Some(w)) if w < d => words.next(),
        (Some(_), _) => dollars.next(),
        (None, _) => words.next(),
    })
}

/// Whether a `MONEY` match can start at byte `i` of `t`.
fn money_can_start(t: &str, i: usize) -> bool {
    let bytes = t.as_bytes();
    // No word starts right after an ASCII word character.
    let after_ascii_word = i > 0 && ASCII_WORD[usize::from(bytes[i - 1])];
    match bytes[i] {
        b'$' => true,
        _ if after_ascii_word => false,
        b'0'..=b'9' => is_word_boundary(bytes, i),
        b'r' | b'i' | b'm' | b'u' => {
            is_word_boundary(bytes, i)
                && CURRENCY_PREFIXES
                    .iter()
                    .any(|p| bytes[i..].starts_with(p.as_bytes()))
        }
        // The first byte of a character outside ASCII: most are Chinese, letters, told by
        // their block before Unicode's tables are searched.
        0xC0.. => {
            t[i..]
                .chars()
                .next()
                .is_some_and(|c| !is_han(c) && c.is_numeric())
                && is_word_boundary(bytes, i)
        }
        _ => false,
    }
}

/// A match of `MONEY`: the byte ranges of the whole and of its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MoneyMatch {
    whole: (usize, usize),
    /// `n1`, `n2` or `n3`.
    number: (usize, usize),
    /// `m1`, `m2` or `m3`.
    multiplier: Option<(usize, usize)>,
    pre: Option<(usize, usize)>,
    post: Option<(usize, usize)>,
    period: Option<(usize, usize)>,
}

impl MoneyMatch {
    /// The match the regex's captures hold, if any.
    fn of(caps: &Captures) -> Option<MoneyMatch> {
        let groups = &*MONEY_GROUPS;
        let group = |index: usize| caps.get_group(index).map(|s| (s.start, s.end));
        let first = |indices: [usize; 3]| indices.into_iter().find_map(group);
        let whole = caps.get_match()?;
        Some(MoneyMatch {
            whole: (whole.start(), whole.end()),
            number: first(groups.number)?,
            multiplier: first(groups.multiplier),
            pre: group(groups.pre),
            post: group(groups.post),
            period: group(groups.period),
        })
    }
}

/// Calls `f` with each match of `MONEY` in `t`, the matches `captures_iter` would give,
/// searching only where one can start (see [`crate::anchored`]): read by hand on ASCII text
/// (`ascii`: `t` is; `money.rs`), with the regex on other text. `words`: where the words of `t`
/// start, as a normalised text counts them (used on ASCII text only).
fn each_money_match(t: &str, ascii: bool, words: &[usize], mut f: impl FnMut(&MoneyMatch)) {
    let mut found = |m: Option<MoneyMatch>| {
        let m = m?;
        f(&m);
        Some(m.whole.1)
    };
    if ascii {
        each_match(ascii_money_starts(t, words), |s| {
            found(money::money_at(t.as_bytes(), s))
        });
        return;
    }
    let mut caps = MONEY.create_captures();
    each_match(money_starts(t), |s| {
        MONEY.search_captures(&anchored_at(t, s), &mut caps);
        found(MoneyMatch::of(&caps))
    });
}

/// Calls `f` with the span of each match of `PHONE` in `text`, the matches `find_iter` would
/// give, searching only where one can start (see [`crate::anchored`]): at a `+`, or at a `0` or
/// `6` that starts a word. Each search reads at most the longest match: on text outside ASCII,
/// where the regex leaves its automaton for the backtracker, that bounds the backtracker's work.
fn each_phone_match(text: &str, mut f: impl FnMut(usize, usize)) {
    let (phone, longest) = &*PHONE;
    let bytes = text.as_bytes();
    // What can follow the first byte of a match: after `+`, a space or the country code; after
    // `6`, the rest of `62` or `60`; after `0`, a separator, `(` or a digit. Bytes outside ASCII
    // (Unicode spaces and digits) are left to the regex.
    let next_fits = |i: usize, fits: fn(u8) -> bool| {
        bytes.get(i + 1).is_some_and(|&n| !n.is_ascii() || fits(n))
    };
    let can_start = move |i: usize| match bytes[i] {
        b'+' => next_fits(i, |n| {
            n.is_ascii_whitespace() || n == 0x0b || n == b'6' || n == b'0'
        }),
        b'6' => next_fits(i, |n| n == b'2' || n == b'0') && is_word_boundary(bytes, i),
        _ => {
            next_fits(i, |n| {
                n.is_ascii_digit()
                    || n.is_ascii_whitespace()
                    || matches!(n, 0x0b | b'.' | b'-' | b'(')
            }) && is_word_boundary(bytes, i)
        }
    };
    // The bytes a match starts with, found with SIMD: most of a text is skipped in blocks.
    let starts = memchr::memchr3_iter(b'+', b'0', b'6', bytes).filter(|&i| can_start(i));
    each_match(starts, |s| {
        let input = anchored_at(text, s).range(s..text.len().min(s + longest));
        let end = phone.search(&input)?.end();
        f(s, end);
        Some(end)
    });
}

fn span(text: &str, start: usize, end: usize) -> Span {
    Span {
        start,
        end,
        text: text[start..end].to_string(),
    }
}

/// Normalises a phone number as written to E.164, when it is a valid Indonesian or Malaysian
/// number: `0812-3456-7890` → `+6281234567890`, `011 2345 6789` → `+601123456789`.
pub fn phone_e164(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let (country, national) = if let Some(rest) = digits.strip_prefix("62") {
        (&NUMBERING.indonesia, rest)
    } else if let Some(rest) = digits.strip_prefix("60") {
        (&NUMBERING.malaysia, rest)
    } else if let Some(rest) = digits.strip_prefix('0') {
        // Malaysian mobiles start 01…; Indonesian numbers never do.
        let country = if rest.starts_with('1') {
            &NUMBERING.malaysia
        } else {
            &NUMBERING.indonesia
        };
        (country, rest)
    } else {
        return None;
    };
    // No national number starts with 0: `00` dials abroad.
    let national_digits = (7..=13).contains(&national.len()) && !national.starts_with('0');
    (national_digits && country.is_valid(national)).then(|| format!("+{}{national}", country.code))
}

/// The numbering plans of the two countries whose numbers are extracted.
struct Numbering {
    indonesia: NumberingPlan,
    malaysia: NumberingPlan,
}

static NUMBERING: LazyLock<Numbering> = LazyLock::new(|| Numbering {
    indonesia: NumberingPlan::of("ID"),
    malaysia: NumberingPlan::of("MY"),
});

/// Which national numbers of a country are valid, by the `phonenumber` crate's metadata: a
/// valid number fits the general pattern and one of the patterns of a kind of number (mobile,
/// fixed line, toll free…), each with its lengths; that is the crate's `is_valid`. The crate's
/// `parse` and `is_valid` take about 15,000 instructions a number, because every pattern they
/// use is fetched from a cache shared behind a lock (and compiled again when the cache dropped
/// it); with the patterns compiled here once it is a few hundred. `plans_agree_with_the_crate`
/// holds the two against each other.
struct NumberingPlan {
    /// The country calling code.
    code: u16,
    general: NumberPattern,
    kinds: Vec<NumberPattern>,
}

struct NumberPattern {
    /// The lengths a number may have; empty: any.
    lengths: Vec<u16>,
    /// Matches at the start of a number that fits.
    regex: Regex,
}

impl NumberPattern {
    fn of(descriptor: &phonenumber::metadata::Descriptor) -> NumberPattern {
        let pattern = descriptor.national_number().as_str();
        // The metadata's patterns are laid out with white space, as the crate compiles them.
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})"))
            .ignore_whitespace(true)
            .build()
            .expect("the crate's patterns compile");
        NumberPattern {
            lengths: descriptor.possible_length().to_vec(),
            regex,
        }
    }

    fn fits(&self, national: &str) -> bool {
        let length = u16::try_from(national.len()).unwrap_or(u16::MAX);
        (self.lengths.is_empty() || self.lengths.contains(&length)) && self.regex.is_match(national)
    }
}

impl NumberingPlan {
    fn of(region: &str) -> NumberingPlan {
        let meta = phonenumber::metadata::DATABASE
            .by_id(region)
            .expect("the crate has the region's metadata");
        let d = meta.descriptors();
        // The common kinds first: most numbers in posts are mobiles, and `is_valid` stops at the
        // first kind that fits.
        let kinds = [
            d.mobile(),
            d.fixed_line(),
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        NumberingPlan {
            code: meta.country_code(),
            general: NumberPattern::of(d.general()),
            kinds: kinds.into_iter().flatten().map(NumberPattern::of).collect(),
        }
    }

    /// Whether `national` (the number without country code or trunk `0`) is a valid number.
    fn is_valid(&self, national: &str) -> bool {
        self.general.fits(national) && self.kinds.iter().any(|k| k.fits(national))
    }
}

/// Whether a `/` in `text` follows `.me` or `.com`, in any case: where every link `WHATSAPP`
/// and `TELEGRAM_LINK` match has one (none of these letters has a case outside ASCII).
fn has_link_slash(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'/', bytes).any(|i| {
        let before = &bytes[..i];
        [&b".me"[..], b".com"].iter().any(|host| {
            before.len() >= host.len() && before[i - host.len()..].eq_ignore_ascii_case(host)
        })
    })
}

/// Whether the `@`s of `text` can be in an e-mail address (an address character before it, and
/// after it a domain: address characters with a `.` and a letter in them; `m@laysia` has none)
/// and in a handle (a handle character after it, and before it, past white space, `:` or `=`,
/// the last letter of `ig`, `insta`, `instagram`, `tele`, `telegram` or `tg`). A byte outside
/// ASCII counts as yes: white space may be Unicode, and some letters outside ASCII match ASCII
/// ones when case is ignored (`ſ`, `K`).
fn at_signs(text: &str) -> (bool, bool) {
    let bytes = text.as_bytes();
    let is = |b: Option<u8>, also: &[u8]| {
        b.is_some_and(|b| !b.is_ascii() || b.is_ascii_alphanumeric() || also.contains(&b))
    };
    let (mut emails, mut handles) = (false, false);
    for i in memchr::memchr_iter(b'@', bytes) {
        let (before, after) = (
            i.checked_sub(1).map(|k| bytes[k]),
            bytes.get(i + 1).copied(),
        );
        emails |= is(before, b"._%+-") && is(after, b"-") && {
            let domain = &bytes[i + 1..];
            let end = domain
                .iter()
                .position(|&b| !is(Some(b), b"-."))
                .unwrap_or(domain.len());
            (0..end).any(|k| domain[k] == b'.' && is(domain.get(k + 1).copied(), b""))
        };
        let word_end = bytes[..i]
            .iter()
            .rposition(|&b| !(b.is_ascii_whitespace() || matches!(b, 0x0b | b':' | b'=')));
        handles |= is(after, b"_.")
            && word_end.is_some_and(|k| {
                !bytes[k].is_ascii()
                    || matches!(bytes[k].to_ascii_lowercase(), b'g' | b'a' | b'm' | b'e')
            });
    }
    (emails, handles)
}

/// Identifiers in `text`, in order of appearance, each value once per kind.
pub fn entities(text: &str) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    // Every WhatsApp and Telegram link has a `/` right after `.me` or `.com`: most posts have
    // none (they write `5jt/bulan`, `s/d`), and then neither regex needs to scan them.
    if has_link_slash(text) {
        for c in WHATSAPP.captures_iter(text) {
            let (whole, num) = (c.get(0).expect("match"), c.get(1).expect("group"));
            if let Some(e164) = phone_e164(num.as_str()) {
                taken.push((whole.start(), whole.end()));
                out.push(Entity {
                    kind: EntityKind::Whatsapp,
                    value: e164,
                    span: span(text, whole.start(), whole.end()),
                });
            }
        }
        for c in TELEGRAM_LINK.captures_iter(text) {
            let whole = c.get(0).expect("match");
            taken.push((whole.start(), whole.end()));
            out.push(Entity {
                kind: EntityKind::Telegram,
                value: c[1].to_lowercase(),
                span: span(text, whole.start(), whole.end()),
            });
        }
    }
    // Every e-mail address and every handle holds an `@`, with what each needs around it: most
    // posts have no `@`, most `@`s are one of the two, and then the other regex need not scan.
    let (emails, handles) = at_signs(text);
    if emails {
        for c in EMAIL.find_iter(text) {
            taken.push((c.start(), c.end()));
            out.push(Entity {
                kind: EntityKind::Email,
                value: c.as_str().to_lowercase(),
                span: span(text, c.start(), c.end()),
            });
        }
    }
    if handles {
        for c in HANDLE.captures_iter(text) {
            let whole = c.get(0).expect("match");
            let kind = if c[1].to_lowercase().starts_with('i') {
                EntityKind::Instagram
            } else {
                EntityKind::Telegram
            };
            taken.push((whole.start(), whole.end()));
            out.push(Entity {
                kind,
                value: c[2].trim_end_matches('.').to_lowercase(),
                span: span(text, whole.start(), whole.end()),
            });
        }
    }
    each_phone_match(text, |start, end| {
        if taken.iter().any(|&(s, e)| start < e && s < end) {
            return;
        }
        if let Some(e164) = phone_e164(&text[start..end]) {
            out.push(Entity {
                kind: EntityKind::Phone,
                value: e164,
                span: span(text, start, end),
            });
        }
    });
    out.sort_by_key(|e| e.span.start);
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| seen.insert((e.kind, e.value.clone())));
    out
}

/// Salary amounts in a normalised text, with spans in the original.
pub fn salaries(norm: &Normalized, original: &str) -> Vec<Salary> {
    let mut out = Vec::new();
    each_money_match(norm.text(), norm.is_ascii(), norm.word_starts(), |c| {
        out.extend(salary(c, norm, original));
    });
    out
}

/// The salary a match of `MONEY` promises, if it is one.
/// What a period of `MONEY` (its `period` group) is: each ends with its unit, one of
/// `money::PERIODS`, and what comes before it names none.
fn period_name(period: &str) -> &'static str {
    let ends = |units: &[&str]| units.iter().any(|u| period.ends_with(u));
    if ends(&["jam", "hour"]) {
        "hour"
    } else if ends(&["hari", "day"]) {
        "day"
    } else if ends(&["minggu", "week"]) {
        "week"
    } else if ends(&["tahun", "year", "thn"]) {
        "year"
    } else {
        "month"
    }
}

fn salary(m: &MoneyMatch, norm: &Normalized, original: &str) -> Option<Salary> {
    let t = norm.text();
    let text = |(s, e): (usize, usize)| &t[s..e];
    let n = text(m.number).parse::<f64>().ok()?;
    let multiplier = match m.multiplier.map(text) {
        Some("juta" | "jt") => 1_000_000.0,
        Some("ribu" | "rb" | "k") => 1_000.0,
        _ => 1.0,
    };
    let currency = match m.pre.or(m.post).map(text) {
        Some("rm" | "myr" | "ringgit") => "MYR",
        Some("usd" | "us" | "$" | "dolar" | "dollar") => "USD",
        _ => "IDR",
    };
    let amount = n * multiplier;
    // Bare small numbers with `juta` only are IDR; anything under 50 in a currency is a count.
    if amount < 50.0 {
        return None;
    }
    let period = m.period.map(|p| period_name(text(p)).to_string());
    let (s, e) = norm.original_span(m.whole.0, m.whole.1);
    Some(Salary {
        amount,
        currency: currency.to_string(),
        period,
        span: span(original, s, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Normalizer;

    fn values(text: &str) -> Vec<(EntityKind, String)> {
        entities(text)
            .into_iter()
            .map(|e| (e.kind, e.value))
            .collect()
    }

    #[test]
    fn phones_in_many_shapes_become_e164() {
        for (raw, e164) in [
            ("0812-5738-2041", "+6281257382041"),
            ("0812 5738 2041", "+6281257382041"),
            ("0812.5738.2041", "+6281257382041"),
            ("+62 812 5738 2041", "+6281257382041"),
            ("6281257382041", "+6281257382041"),
            ("011-2345 6789", "+601123456789"),
            ("+60 12-345 6789", "+60123456789"),
            ("60123456789", "+60123456789"),
            ("(0562) 631234", "+62562631234"),
        ] {
            assert_eq!(phone_e164(raw).as_deref(), Some(e164), "{raw}");
        }
        for raw in [
            "12000000",
            "2026",
            "0000",
            "0812",
            "0025100000",
            "62 0812 5738 2041",
        ] {
            assert_eq!(phone_e164(raw), None, "{raw}");
        }
    }

    /// The crate's own way: parse, then `is_valid`.
    fn crate_e164(digits: &str) -> Option<String> {
        let (country, national) = if let Some(rest) = digits.strip_prefix("62") {
            (phonenumber::country::Id::ID, rest)
        } else if let Some(rest) = digits.strip_prefix("60") {
            (phonenumber::country::Id::MY, rest)
        } else {
            let rest = digits.strip_prefix('0')?;
            let malaysian = rest.starts_with('1');
            let country = [phonenumber::country::Id::ID, phonenumber::country::Id::MY];
            (country[usize::from(malaysian)], rest)
        };
        if !(7..=13).contains(&national.len()) {
            return None;
        }
        let number = phonenumber::parse(Some(country), format!("0{national}")).ok()?;
        phonenumber::is_valid(&number)
            .then(|| format!("+{}{}", number.country().code(), number.national()))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn plans_agree_with_the_crate(
            prefix in proptest::sample::select(vec!["0", "62", "60", "08", "628", "601", "01", "05", "625", "6056", "0561"]),
            rest in "[0-9]{4,13}",
        ) {
            let digits = format!("{prefix}{rest}");
            // Written with the international prefix `00`, or `0` after the country code: the
            // crate reads some of these as numbers of the country (`0025100000` as
            // +6225100000); no national number starts with 0, and they are not taken.
            let national = digits.strip_prefix("62").or(digits.strip_prefix("60")).unwrap_or(&digits[1..]);
            proptest::prop_assume!(!national.starts_with('0') && !digits.starts_with("00"));
            proptest::prop_assert_eq!(phone_e164(&digits), crate_e164(&digits), "{}", digits);
        }
    }

    #[test]
    fn finds_links_handles_emails_and_phones_once_each() {
        let text = "Minat? wa.me/6285752190347 atau WA 0857-5219-0347. Daftar t.me/goldenstar_hrd, IG: @loker.kalbar, tele @agen_ptk, email HRD@maju.co.id. Hub 0812 5738 2041 / 0812-5738-2041";
        assert_eq!(
            values(text),
            [
                (EntityKind::Whatsapp, "+6285752190347".into()),
                (EntityKind::Phone, "+6285752190347".into()),
                (EntityKind::Telegram, "goldenstar_hrd".into()),
                (EntityKind::Instagram, "loker.kalbar".into()),
                (EntityKind::Telegram, "agen_ptk".into()),
                (EntityKind::Email, "hrd@maju.co.id".into()),
                (EntityKind::Phone, "+6281257382041".into()),
            ]
        );
        let e = &entities(text)[0];
        assert_eq!(&text[e.span.start..e.span.end], "wa.me/6285752190347");
    }

    #[test]
    fn salaries_with_currency_and_period() {
        let n = Normalizer::new(Default::default(), Vec::new());
        let check = |text: &str| -> Vec<(f64, String, Option<String>, String)> {
            salaries(&n.normalize(text), text)
                .into_iter()
                .map(|s| (s.amount, s.currency, s.period, s.span.text))
                .collect()
        };
        assert_eq!(
            check("Gaji Rp 9.500.000 per bulan"),
            [(
                9_500_000.0,
                "IDR".into(),
                Some("month".into()),
                "Rp 9.500.000 per bulan".into()
            )]
        );
        assert_eq!(
            check("gaji 12jt/bln"),
            [(
                12_000_000.0,
                "IDR".into(),
                Some("month".into()),
                "12jt/bln".into()
            )]
        );
        assert_eq!(
            check("RM3.500 sebulan"),
            [(
                3500.0,
                "MYR".into(),
                Some("month".into()),
                "RM3.500 sebulan".into()
            )]
        );
        assert_eq!(
            check("1.200 USD + bonus"),
            [(1200.0, "USD".into(), None, "1.200 USD".into())]
        );
        assert_eq!(
            check("$1500/month"),
            [(
                1500.0,
                "USD".into(),
                Some("month".into()),
                "$1500/month".into()
            )]
        );
        assert_eq!(
            check("RM 80 sehari"),
            [(
                80.0,
                "MYR".into(),
                Some("day".into()),
                "RM 80 sehari".into()
            )]
        );
        assert!(check("umur 18-35 thn, 2 orang").is_empty());
    }

    /// The anchored search for amounts finds what `captures_iter` over the whole text finds:
    /// `money_starts` misses no place where a match can start, and the reading by hand of
    /// ASCII text (`money.rs`) reads what the regex reads.
    fn same_money_matches(t: &str) {
        let expected: Vec<MoneyMatch> = Regex::new(MONEY_PATTERN)
            .expect("pattern compiles")
            .captures_iter(t)
            .map(|c| {
                let group = |name: &str| c.name(name).map(|m| (m.start(), m.end()));
                let first = |names: [&str; 3]| names.into_iter().find_map(group);
                let whole = c.get_match();
                MoneyMatch {
                    whole: (whole.start(), whole.end()),
                    number: first(["n1", "n2", "n3"]).expect("every alternative has a number"),
                    multiplier: first(["m1", "m2", "m3"]),
                    pre: group("pre"),
                    post: group("post"),
                    period: group("period"),
                }
            })
            .collect();
        let mut found = Vec::new();
        let words: Vec<usize> = ascii_word_starts(t.as_bytes()).collect();
        each_money_match(t, t.is_ascii(), &words, |m| found.push(*m));
        assert_eq!(found, expected, "{t:?}");
    }

    /// Where the runs of ASCII letters and digits of `t` start, as a normalised text counts its
    /// words.
    fn ascii_word_starts(t: &[u8]) -> impl Iterator<Item = usize> + '_ {
        let word = |i: usize| t[i].is_ascii_alphanumeric();
        (0..t.len()).filter(move |&i| word(i) && (i == 0 || !word(i - 1)))
    }

    /// Salaries take a normalised text's word starts for the places amounts can start: on ASCII
    /// text they are the runs of letters and digits `ascii_word_starts` finds.
    #[test]
    fn normalised_words_start_where_ascii_runs_do() {
        let n = Normalizer::new(
            crate::robustness::seed_rules().slang,
            crate::robustness::seed_rules().keep,
        );
        for post in crate::robustness::seed_posts() {
            let norm = n.normalize(&post);
            if norm.text().is_ascii() {
                let runs: Vec<usize> = ascii_word_starts(norm.text().as_bytes()).collect();
                assert_eq!(norm.word_starts(), runs, "{post:?}");
            }
        }
    }

    #[test]
    fn amounts_found_where_they_can_start() {
        for t in [
            "gaji rp 9500000 per bulan, rm3500 / bulan, $1500/month",
            "1.5 juta usd 2 ringgit sehari, us 300 a day, idr5 juta",
            "x12 juta 12x juta é12 juta 12 juta柬 _12 juta ١٢ juta",
            "$$12 rp$ 5 myr 80 rm 80 rmx 80",
            "12 rb usd 12 k rm 12kusd 12 jutaan 12 ribu rupiah 12 rb setiap bulan 7 an month",
            "usd5 us5 us $ 5 12 usdt 12 dollar 1.5.3 usd 12\x0bjuta 3 dolar a\tday rp1.5jt/mo",
        ] {
            same_money_matches(t);
        }
    }

    /// Every period `MONEY` can match is named by its unit: by what any part of it says, as
    /// the units' names take in no other unit's and no introducer does.
    #[test]
    fn periods_are_named_by_their_unit() {
        let mentions = |p: &str, names: &[&str]| names.iter().any(|n| p.contains(n));
        for per in money::PER {
            for unit in money::PERIODS {
                for space in ["", " ", "  "] {
                    let p = format!("{space}{per}{space}{unit}");
                    let expected = if mentions(&p, &["jam", "hour"]) {
                        "hour"
                    } else if mentions(&p, &["hari", "day"]) {
                        "day"
                    } else if mentions(&p, &["minggu", "week"]) {
                        "week"
                    } else if mentions(&p, &["tahun", "year", "thn"]) {
                        "year"
                    } else {
                        "month"
                    };
                    assert_eq!(period_name(&p), expected, "{p:?}");
                }
            }
        }
    }

    #[test]
    fn an_at_sign_for_an_a_is_no_email() {
        assert!(!at_signs("kerja di m@laysia 🔥 gaji besar").0);
        assert!(at_signs("m@laysia.my-id").0);
        assert!(at_signs("kirim ke hr.ptk@gmail.com ya").0);
        assert!(!at_signs("kirim ke hr.ptk@gmail. com").0);
    }

    /// The anchored, bounded search for phone numbers finds what `find_iter` over the whole
    /// text finds.
    fn same_phone_matches(t: &str) {
        let expected: Vec<(usize, usize)> = Regex::new(PHONE_PATTERN)
            .expect("pattern compiles")
            .find_iter(t)
            .map(|m| (m.start(), m.end()))
            .collect();
        let mut found = Vec::new();
        each_phone_match(t, |s, e| found.push((s, e)));
        assert_eq!(found, expected, "{t:?}");
    }

    #[test]
    fn phones_found_where_they_can_start() {
        for t in [
            "hub 0812-5738-2041 / +62 812 5738 2041 / 6281257382041 (0562) 631234",
            "x0812 5738 2041 a62812 é0812 5738 2041 0812 5738 2041é 柬0812 5738 2041",
            "++62 812 5738 2041 0 8 1 2 0812\u{3000}5738\u{3000}2041 ０８１２ 5738 2041",
            "0\u{1d7ce}\u{1d7cf}\u{1d7d0}\u{1d7d1}-\u{1d7ce}\u{1d7cf}\u{1d7d0}\u{1d7d1}\u{1d7ce}-12345-12345-12345 x",
        ] {
            same_phone_matches(t);
        }
    }

    /// Words that make amounts, and almost make them.
    const MONEY_WORDS: &str = "rp|idr|rm|myr|ringgit|usdt?|us|dolar|dollar|rupiah|[$]|juta|jutaan|jt|ribu|rb|k|per|se|tiap|setiap|an?|bulan|bln|month|mo|hari|day|jam|hour|minggu|week|tahun|year|thn|[/._x\\x0b]|[0-9]{1,4}|[0-9][.][0-9]";

    proptest::proptest! {
        #[test]
        fn phones_in_any_text(
            words in proptest::collection::vec(
                "[+]|62|60|0|[0-9]{1,5}|[(]|[)]|[.-]|\u{3000}|\u{1d7ce}|é|a|_|柬|٣",
                0..24,
            ),
            glue in "[ ]{0,2}",
        ) {
            same_phone_matches(&words.join(&glue));
        }

        #[test]
        fn amounts_in_any_text(
            words in proptest::collection::vec(
                proptest::prop_oneof![3 => MONEY_WORDS, 1 => "é|١٢|柬|\u{a0}"],
                0..16,
            ),
            glue in "[ ]{0,2}",
        ) {
            same_money_matches(&words.join(&glue));
        }

        #[test]
        fn links_are_never_skipped(
            words in proptest::collection::vec(
                "wa[.]me/|WA[.]Me/|t[.]me/|TELEGRAM[.]ME/s/|api[.]whatsapp[.]com/send/?[?]phone=|API[.]WHATSAPP[.]COM/send[?]phone=|[+]?628123456789|channel_name|5jt/bulan|s/d|wa|[.]|me|com|/| |\u{212a}|ſ",
                1..6,
            ),
        ) {
            let text = words.concat();
            let links = WHATSAPP.is_match(&text) || TELEGRAM_LINK.is_match(&text);
            proptest::prop_assert!(!links || has_link_slash(&text), "{}", text);
        }

        #[test]
        fn emails_and_handles_are_never_skipped(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "(ig|IG|insta|Instagram|tele|TG|telegram|kak|x)[ \t\u{b}:=\u{a0}]{0,3}@[a-z0-9_.ſ\u{212a}-]{0,5}",
                    "[a-z0-9._%+ſ -]{0,3}@[a-z0-9ſ\u{212a}-]{0,3}[.][a-z]{0,3}",
                    "[a-z @.:]{0,6}",
                ],
                1..4,
            ),
        ) {
            let text = parts.concat();
            let (emails, handles) = at_signs(&text);
            proptest::prop_assert!(emails || !EMAIL.is_match(&text), "{}", text);
            proptest::prop_assert!(handles || !HANDLE.is_match(&text), "{}", text);
        }

        #[test]
        fn amounts_in_ascii_text(
            words in proptest::collection::vec(MONEY_WORDS, 0..16),
            glue in "[ \t]{0,2}",
        ) {
            same_money_matches(&words.join(&glue));
        }
    }
}
