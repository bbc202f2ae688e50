//! `MONEY` read by hand on ASCII text.
//!
//! Salaries are looked for at every number of every post, and the regex fills its capture
//! groups with its backtracker, thousands of instructions a try. On ASCII text the grammar is
//! small enough to follow by hand, in the regex's own order: its alternatives left to right,
//! greedy repeats, and the one place where giving back matters (a multiplier taken before a
//! currency that does not follow) tried again without. Normalised text is ASCII nine times in
//! ten; other text keeps the regex, whose `\s`, `\d` and `\b` reach beyond ASCII. A property
//! test holds both ways to the regex's `captures_iter`.

use super::MoneyMatch;

/// A byte range of the text.
type Span = (usize, usize);

/// `pre` of `MONEY`, in its order; all but `$` start at a word boundary.
const PRE: &[&str] = &["rp", "idr", "rm", "myr", "ringgit", "usd", "us", "$"];
/// Multipliers (`m1`, `m2`), in their order; `m3` is the first two.
const MULTIPLIERS: &[&str] = &["juta", "jt", "ribu", "rb", "k"];
/// `post`, in its order.
const POST: &[&str] = &["usd", "dolar", "dollar", "ringgit", "rm", "myr", "rupiah"];
/// What introduces a period, in its order.
pub(super) const PER: &[&str] = &["/", "per", "se", "tiap", "setiap", "a", "an"];
/// Periods, in their order.
pub(super) const PERIODS: &[&str] = &[
    "bulan", "bln", "month", "mo", "hari", "day", "jam", "hour", "minggu", "week", "tahun", "year",
    "thn",
];

/// The match of `MONEY` anchored at byte `s` of ASCII text `t`, as the regex finds it.
pub(super) fn money_at(t: &[u8], s: usize) -> Option<MoneyMatch> {
    // The first alternative starts with a currency, the others with a number.
    let mut m = if t[s].is_ascii_digit() {
        amount(t, s)?
    } else {
        prefixed(t, s)?
    };
    m.period = period(t, m.whole.1);
    if let Some((_, end)) = m.period {
        m.whole.1 = end;
    }
    Some(m)
}

/// `pre \s* \$? \s* n1 (\s* m1 \b)?`
fn prefixed(t: &[u8], s: usize) -> Option<MoneyMatch> {
    PRE.iter().find_map(|pre| {
        let pre_end = s + pre.len();
        if !t[s..].starts_with(pre.as_bytes()) || (*pre != "$" && !boundary(t, s)) {
            return None;
        }
        let mut p = white(t, pre_end);
        if t.get(p) == Some(&b'$') {
            p = white(t, p + 1);
        }
        let number = (p, number_end(t, p)?);
        let at = white(t, number.1);
        let multiplier = MULTIPLIERS
            .iter()
            .find_map(|m| word_at(t, at, m))
            .map(|end| (at, end));
        Some(MoneyMatch {
            whole: (s, multiplier.map_or(number.1, |m| m.1)),
            number,
            multiplier,
            pre: Some((s, pre_end)),
            post: None,
            period: None,
        })
    })
}

/// `\b n2 \s* m2? \s* post \b` or else `\b n3 \s* (juta|jt) \b`: a number, then what both
/// need after it, a multiplier or a currency. The number and the white space after it are the
/// same for both.
fn amount(t: &[u8], s: usize) -> Option<MoneyMatch> {
    if !boundary(t, s) {
        return None;
    }
    let number = (s, number_end(t, s)?);
    let at = white(t, number.1);
    if !t
        .get(at)
        .is_some_and(|b| matches!(b, b'j' | b'r' | b'k' | b'u' | b'd' | b'm'))
    {
        return None;
    }
    suffixed(t, number, at).or_else(|| millions(t, number, at))
}

/// `m2? \s* post \b` at `at`, after `number`.
fn suffixed(t: &[u8], number: Span, at: usize) -> Option<MoneyMatch> {
    // A multiplier is taken if one is there, and given back if no currency follows it.
    let multiplied = MULTIPLIERS
        .iter()
        .filter(|m| t[at..].starts_with(m.as_bytes()))
        .map(|m| Some((at, at + m.len())));
    multiplied.chain([None]).find_map(|multiplier| {
        let p = white(t, multiplier.map_or(number.1, |(_, end)| end));
        let end = POST.iter().find_map(|c| word_at(t, p, c))?;
        Some(MoneyMatch {
            whole: (number.0, end),
            number,
            multiplier,
            pre: None,
            post: Some((p, end)),
            period: None,
        })
    })
}

/// `(juta|jt) \b` at `at`, after `number`.
fn millions(t: &[u8], number: Span, at: usize) -> Option<MoneyMatch> {
    let end = MULTIPLIERS[..2].iter().find_map(|m| word_at(t, at, m))?;
    Some(MoneyMatch {
        whole: (number.0, end),
        number,
        multiplier: Some((at, end)),
        pre: None,
        post: None,
        period: None,
    })
}

/// `(\s* per \s* period)?` from `at`: the group's span, white space before it included.
fn period(t: &[u8], at: usize) -> Option<Span> {
    let p = white(t, at);
    PER.iter()
        .filter(|per| t[p..].starts_with(per.as_bytes()))
        .find_map(|per| {
            let q = white(t, p + per.len());
            PERIODS
                .iter()
                .find(|period| t[q..].starts_with(period.as_bytes()))
                .map(|period| (at, q + period.len()))
        })
}

/// The end of `\d+(\.\d+)?` at `at`.
fn number_end(t: &[u8], at: usize) -> Option<usize> {
    let digits = |from: usize| from + t[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let end = digits(at);
    if end == at {
        return None;
    }
    if t.get(end) == Some(&b'.') && t.get(end + 1).is_some_and(u8::is_ascii_digit) {
        return Some(digits(end + 1));
    }
    Some(end)
}

/// The end of `word` at `at` when a word boundary follows it.
fn word_at(t: &[u8], at: usize, word: &str) -> Option<usize> {
    let end = at + word.len();
    (t[at..].starts_with(word.as_bytes()) && boundary(t, end)).then_some(end)
}

/// Past `\s*` at `at` (in ASCII: space, tab, line feed, vertical tab, form feed, return).
fn white(t: &[u8], at: usize) -> usize {
    at + t[at..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count()
}

/// `\b` at `at`: a word character, `[0-9A-Za-z_]`, on one side only.
fn boundary(t: &[u8], at: usize) -> bool {
    let word = |i: Option<usize>| {
        i.and_then(|i| t.get(i))
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    word(at.checked_sub(1)) != word(Some(at))
}
