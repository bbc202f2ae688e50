//! Anchored matching of the analysts' patterns by backtracking over a small program, for the
//! searches the engine runs where a pattern's literal prefix occurred.
//!
//! Those searches are short (a match is a few words), but each of the ~250 patterns has its own
//! lazy DFA whose states the search walks byte by byte; a post tries ~7 different patterns, so
//! nearly every step was a cache miss into one of those tables (0.3–1 µs a search against ~25 ns
//! when one pattern is searched in a loop). A backtracker reads only the text and a program of a
//! few dozen instructions, both small enough to stay in the cache.
//!
//! It finds the match the regex crate finds: a backtracking search that tries alternatives in
//! priority order (greedy repetitions first take one more, lazy ones one fewer, alternations
//! their first branch) stops at the leftmost-first match, which is how that crate defines its
//! matches. Patterns it cannot run the same way (byte classes, unbounded repetitions of what may
//! match nothing, programs too large) are not compiled, and a search that takes too many steps
//! gives up: the engine then uses the regex. A property test holds every seed pattern to the
//! regex at every position of generated posts.

use regex_automata::util::look::{Look, LookMatcher};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::anchored::{ByteSet, is_word_boundary};

/// One step of a program.
#[derive(Debug, Clone, Copy)]
enum Inst {
    /// The bytes `bytes[start..start + len]` of the program.
    Literal {
        start: u32,
        len: u32,
    },
    /// One character of class `classes[id]`.
    Class(u32),
    /// From `min` to `max` characters of class `class`, as many as can be first when `greedy`,
    /// as few when not: one step for what took a split and a character per character.
    Run {
        class: u32,
        min: u32,
        max: u32,
        greedy: bool,
    },
    /// One of the literals `alts[start..start + count]`, in that order: an alternation of
    /// literals in one step.
    Alt {
        start: u32,
        count: u32,
    },
    Look(Look),
    /// Go on at the first; if that fails, at the second.
    Split(u32, u32),
    Jump(u32),
    Match,
}

/// A set of characters: a bitmap for ASCII, ranges for the rest.
#[derive(Debug, Clone)]
struct CharSet {
    ascii: [u64; 2],
    ranges: Vec<(char, char)>,
}

impl CharSet {
    fn contains(&self, c: char) -> bool {
        let u = c as u32;
        if u < 128 {
            return self.ascii[(u >> 6) as usize] & (1 << (u & 63)) != 0;
        }
        self.ranges
            .binary_search_by(|&(lo, hi)| {
                if hi < c {
                    std::cmp::Ordering::Less
                } else if lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

/// A pattern compiled for anchored backtracking.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    insts: Vec<Inst>,
    /// Per instruction, the bytes a match can go on with from there (everything where it may
    /// go on without reading one): a split only tries a way the next byte can take.
    first: Vec<ByteSet>,
    bytes: Vec<u8>,
    /// The literals of `Alt`s: ranges of `bytes`.
    alts: Vec<(u32, u32)>,
    classes: Vec<CharSet>,
}

/// Most instructions a program may have: bounded repetitions are written out, and a pattern
/// that grows past this is left to the regex.
const MAX_INSTS: usize = 4096;

/// Most steps one search may take before it gives up (and the regex answers instead). On the
/// development posts and their variants (53,000 searches) a search takes 24 steps at the
/// median and 329 at most; a text made to blow the backtracking up costs this many steps per
/// search and then the regex's linear time.
const MAX_STEPS: usize = 2_000;

/// Why a search gave up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GaveUp;

impl Program {
    /// Compiles `pattern`, or `None` if it uses what the backtracker does not run.
    pub(crate) fn new(pattern: &str) -> Option<Program> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let mut program = Program {
            insts: Vec::new(),
            first: Vec::new(),
            bytes: Vec::new(),
            alts: Vec::new(),
            classes: Vec::new(),
        };
        program.compile(&hir)?;
        program.push(Inst::Match)?;
        program.first = program.first_bytes();
        Some(program)
    }

    /// The bytes each instruction can go on with, to a fixed point (loops refer back).
    fn first_bytes(&self) -> Vec<ByteSet> {
        let mut first = vec![ByteSet::default(); self.insts.len()];
        loop {
            let mut changed = false;
            for pc in (0..self.insts.len()).rev() {
                let set = match self.insts[pc] {
                    Inst::Match => ByteSet::ALL,
                    Inst::Look(_) => first[pc + 1],
                    // Never empty: the parser makes an empty literal `HirKind::Empty`.
                    Inst::Literal { start, .. } => {
                        let mut set = ByteSet::default();
                        set.insert(self.bytes[start as usize]);
                        set
                    }
                    Inst::Class(id) => self.class_first(id),
                    Inst::Run { class, min: 0, .. } => self.class_first(class).union(first[pc + 1]),
                    Inst::Run { class, .. } => self.class_first(class),
                    Inst::Alt { start, count } => {
                        let mut set = ByteSet::default();
                        for &(lit, _) in &self.alts[start as usize..(start + count) as usize] {
                            set.insert(self.bytes[lit as usize]);
                        }
                        set
                    }
                    Inst::Split(a, b) => first[a as usize].union(first[b as usize]),
                    Inst::Jump(to) => first[to as usize],
                };
                if set != first[pc] {
                    first[pc] = set;
                    changed = true;
                }
            }
            if !changed {
                return first;
            }
        }
    }

    /// The bytes a character of class `id` can start with.
    fn class_first(&self, id: u32) -> ByteSet {
        let class = &self.classes[id as usize];
        let mut set = ByteSet::default();
        for b in 0..128u8 {
            if class.contains(char::from(b)) {
                set.insert(b);
            }
        }
        if !class.ranges.is_empty() {
            // Any lead byte of a longer UTF-8 sequence.
            for b in 0xc0..=0xffu8 {
                set.insert(b);
            }
        }
        set
    }

    fn push(&mut self, inst: Inst) -> Option<u32> {
        if self.insts.len() >= MAX_INSTS {
            return None;
        }
        self.insts.push(inst);
        u32::try_from(self.insts.len() - 1).ok()
    }

    fn next(&self) -> u32 {
        self.insts.len() as u32
    }

    /// Points the split or jump at `at` to `to` (the split's second way).
    fn patch(&mut self, at: u32, to: u32) {
        match &mut self.insts[at as usize] {
            Inst::Split(_, second) => *second = to,
            Inst::Jump(target) => *target = to,
            _ => unreachable!("only splits and jumps are patched"),
        }
    }

    /// Adds class `hir` (a Unicode class) to the program's classes.
    fn class(&mut self, class: &regex_syntax::hir::ClassUnicode) -> Option<u32> {
        let mut set = CharSet {
            ascii: [0; 2],
            ranges: Vec::new(),
        };
        for r in class.ranges() {
            for c in (r.start() as u32)..=(r.end() as u32).min(127) {
                set.ascii[(c >> 6) as usize] |= 1 << (c & 63);
            }
            if r.end() as u32 >= 128 {
                set.ranges.push((r.start().max('\u{80}'), r.end()));
            }
        }
        self.classes.push(set);
        u32::try_from(self.classes.len() - 1).ok()
    }

    fn compile(&mut self, hir: &Hir) -> Option<()> {
        match hir.kind() {
            HirKind::Empty => {}
            HirKind::Literal(lit) => {
                let start = u32::try_from(self.bytes.len()).ok()?;
                self.bytes.extend_from_slice(&lit.0);
                let len = u32::try_from(lit.0.len()).ok()?;
                self.push(Inst::Literal { start, len })?;
            }
            HirKind::Class(Class::Unicode(class)) => {
                let id = self.class(class)?;
                self.push(Inst::Class(id))?;
            }
            HirKind::Class(Class::Bytes(_)) => return None,
            HirKind::Look(look) => {
                self.push(Inst::Look(Look::from_repr(look.as_repr())?))?;
            }
            HirKind::Capture(capture) => self.compile(&capture.sub)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    self.compile(part)?;
                }
            }
            HirKind::Alternation(branches)
                if branches
                    .iter()
                    .all(|b| matches!(b.kind(), HirKind::Literal(_))) =>
            {
                let start = u32::try_from(self.alts.len()).ok()?;
                for branch in branches {
                    let HirKind::Literal(lit) = branch.kind() else {
                        unreachable!("only literals");
                    };
                    let at = u32::try_from(self.bytes.len()).ok()?;
                    self.bytes.extend_from_slice(&lit.0);
                    self.alts.push((at, u32::try_from(lit.0.len()).ok()?));
                }
                let count = u32::try_from(branches.len()).ok()?;
                self.push(Inst::Alt { start, count })?;
            }
            HirKind::Alternation(branches) => {
                // Split(branch, next split) for every branch but the last; each branch jumps to
                // the end.
                let mut jumps = Vec::new();
                for (n, branch) in branches.iter().enumerate() {
                    let split = (n + 1 < branches.len())
                        .then(|| self.push(Inst::Split(0, 0)))
                        .flatten();
                    if let Some(split) = split {
                        let first = self.next();
                        self.insts[split as usize] = Inst::Split(first, 0);
                    }
                    self.compile(branch)?;
                    jumps.push(self.push(Inst::Jump(0))?);
                    if let Some(split) = split {
                        let next = self.next();
                        self.patch(split, next);
                    }
                }
                let end = self.next();
                for jump in jumps {
                    self.patch(jump, end);
                }
            }
            HirKind::Repetition(rep) => {
                if let HirKind::Class(Class::Unicode(class)) = rep.sub.kind() {
                    let class = self.class(class)?;
                    self.push(Inst::Run {
                        class,
                        min: rep.min,
                        max: rep.max.unwrap_or(u32::MAX),
                        greedy: rep.greedy,
                    })?;
                    return Some(());
                }
                for _ in 0..rep.min {
                    self.compile(&rep.sub)?;
                }
                match rep.max {
                    Some(max) => {
                        // Each optional copy: Split(copy, end), so that once one is skipped so
                        // are the rest.
                        let mut splits = Vec::new();
                        for _ in rep.min..max {
                            let split = self.push(Inst::Split(0, 0))?;
                            splits.push(split);
                            self.compile(&rep.sub)?;
                        }
                        let end = self.next();
                        for split in splits {
                            self.order(split, split + 1, end, rep.greedy);
                        }
                    }
                    None => {
                        // A loop over what may match nothing would need the regex crate's rules
                        // for empty iterations.
                        if rep.sub.properties().minimum_len().is_none_or(|n| n == 0) {
                            return None;
                        }
                        let split = self.push(Inst::Split(0, 0))?;
                        self.compile(&rep.sub)?;
                        self.push(Inst::Jump(split))?;
                        let end = self.next();
                        self.order(split, split + 1, end, rep.greedy);
                    }
                }
            }
        }
        Some(())
    }

    /// Makes the split at `at` try `more` first when greedy, `done` first when lazy.
    fn order(&mut self, at: u32, more: u32, done: u32, greedy: bool) {
        self.insts[at as usize] = if greedy {
            Inst::Split(more, done)
        } else {
            Inst::Split(done, more)
        };
    }

    /// Whether a match can start with `byte` (a match may also start at the end of a text).
    pub(crate) fn may_start_with(&self, byte: u8) -> bool {
        self.first[0].contains(byte)
    }

    /// The end of the match the regex would find in `t` anchored at `start` (the text before
    /// `start` counts for look-behind), `Ok(None)` if there is none, or `Err` if the search took
    /// too many steps.
    pub(crate) fn match_at(
        &self,
        t: &str,
        start: usize,
        stack: &mut Vec<(u32, usize)>,
    ) -> Result<Option<usize>, GaveUp> {
        let hay = t.as_bytes();
        let looks = LookMatcher::new();
        // Whether a match can go on from instruction `pc` at `at`: at the end of the text every
        // way is tried (looks may still match).
        let may = |pc: u32, at: usize| {
            hay.get(at)
                .is_none_or(|&b| self.first[pc as usize].contains(b))
        };
        let char_at = |at: usize| match hay.get(at) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            Some(_) => t[at..].chars().next(),
            None => None,
        };
        stack.clear();
        stack.push((0, start));
        let mut steps = 0;
        while let Some((mut pc, mut at)) = stack.pop() {
            'thread: loop {
                steps += 1;
                if steps > MAX_STEPS {
                    return Err(GaveUp);
                }
                match self.insts[pc as usize] {
                    Inst::Match => return Ok(Some(at)),
                    Inst::Literal { start, len } => {
                        let lit = &self.bytes[start as usize..(start + len) as usize];
                        if !hay[at..].starts_with(lit) {
                            break;
                        }
                        at += lit.len();
                        pc += 1;
                    }
                    Inst::Class(id) => {
                        let Some(c) =
                            char_at(at).filter(|&c| self.classes[id as usize].contains(c))
                        else {
                            break;
                        };
                        at += c.len_utf8();
                        pc += 1;
                    }
                    Inst::Run {
                        class,
                        min,
                        max,
                        greedy,
                    } => {
                        let class = &self.classes[class as usize];
                        let next = |at: usize| char_at(at).filter(|&c| class.contains(c));
                        for _ in 0..min {
                            let Some(c) = next(at) else {
                                break 'thread;
                            };
                            at += c.len_utf8();
                        }
                        // Every end from `min` characters on is a way to go on from, longest
                        // first when greedy, shortest first when not: the stack gets the others
                        // so that they come off in that order.
                        let cont = pc + 1;
                        let base = stack.len();
                        let mut count = min;
                        loop {
                            let more = if count < max { next(at) } else { None };
                            let Some(c) = more else { break };
                            if may(cont, at) {
                                stack.push((cont, at));
                            }
                            at += c.len_utf8();
                            count += 1;
                        }
                        steps += count as usize;
                        if may(cont, at) {
                            stack.push((cont, at));
                        }
                        if !greedy {
                            stack[base..].reverse();
                        }
                        if stack.len() == base {
                            break;
                        }
                        (pc, at) = stack.pop().expect("a way was pushed");
                    }
                    Inst::Alt { start, count } => {
                        let cont = pc + 1;
                        let base = stack.len();
                        let rest = &hay[at..];
                        let alts = &self.alts[start as usize..(start + count) as usize];
                        // In reverse, so that the first literal that matches comes off first.
                        for &(lit, len) in alts.iter().rev() {
                            let lit = &self.bytes[lit as usize..(lit + len) as usize];
                            if rest.first() == lit.first()
                                && rest.starts_with(lit)
                                && may(cont, at + lit.len())
                            {
                                stack.push((cont, at + lit.len()));
                            }
                        }
                        steps += count as usize;
                        if stack.len() == base {
                            break;
                        }
                        (pc, at) = stack.pop().expect("a way was pushed");
                    }
                    Inst::Look(look) => {
                        let holds = match look {
                            // Told without the Unicode tables between ASCII characters.
                            Look::WordUnicode => is_word_boundary(hay, at),
                            Look::WordUnicodeNegate => !is_word_boundary(hay, at),
                            _ => looks.matches(look, hay, at),
                        };
                        if !holds {
                            break;
                        }
                        pc += 1;
                    }
                    Inst::Split(first, second) => match (may(first, at), may(second, at)) {
                        (true, true) => {
                            stack.push((second, at));
                            pc = first;
                        }
                        (true, false) => pc = first,
                        (false, true) => pc = second,
                        (false, false) => break,
                    },
                    Inst::Jump(to) => pc = to,
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_automata::meta::Regex;

    use crate::anchored::anchored_at;

    /// Every seed pattern, and patterns that try the corners: laziness, alternation order,
    /// nested optional groups, look-around, non-ASCII classes and literals.
    fn patterns() -> Vec<String> {
        let mut all: Vec<String> = crate::robustness::seed_rules()
            .indicators
            .iter()
            .flat_map(|i| i.patterns.clone())
            .collect();
        all.extend(
            [
                r"a(b|bc)d?",
                r"x[^\n]{0,5}?y",
                r"(ab|a)(bc|c)?",
                r"\b(\S+\s+){0,2}z\b",
                r"^q|q$",
                r"\Bp",
                r"(?i)caf\u{e9}\s*\d+",
                r"客服.{0,3}(金边|西港)",
                r"(a|ab)*c",
                r"\d+?5",
            ]
            .map(String::from),
        );
        all
    }

    /// Posts made of the patterns' own words and of the text around them.
    fn posty() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("gaji rm 2300 sebulan ".to_string()),
            Just("kerja di malaysia pakai paspor ".to_string()),
            Just("tidak perlu paspor, bisa dibantu ".to_string()),
            Just("umur 16 tahun boleh ".to_string()),
            Just("0812 3456 7890 ".to_string()),
            Just("+60 12-345 6789 ".to_string()),
            Just("pas lintas batas ".to_string()),
            Just("客服 月薪1500美金 西港 ".to_string()),
            Just("café 12 ".to_string()),
            Just("abcd xyz z q p ".to_string()),
            Just("  \n".to_string()),
            Just("\u{a0}".to_string()),
            Just(", . - / ".to_string()),
            "[a-z0-9 .,/\\-]{0,12}",
            "\\PC{0,3}",
        ];
        prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
    }

    fn compiled() -> &'static [(Regex, Option<Program>)] {
        static COMPILED: std::sync::LazyLock<Vec<(Regex, Option<Program>)>> =
            std::sync::LazyLock::new(|| {
                patterns()
                    .iter()
                    .map(|p| (Regex::new(p).expect("valid"), Program::new(p)))
                    .collect()
            });
        &COMPILED
    }

    #[test]
    fn the_seed_patterns_compile() {
        let rules = crate::robustness::seed_rules();
        let seed = rules
            .indicators
            .iter()
            .map(|i| i.patterns.len())
            .sum::<usize>();
        let missing: Vec<&str> = rules
            .indicators
            .iter()
            .flat_map(|i| i.patterns.iter())
            .filter(|p| Program::new(p).is_none())
            .map(String::as_str)
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {seed} not compiled: {missing:?}",
            missing.len()
        );
    }

    #[test]
    fn gives_up_on_what_it_cannot_run() {
        assert!(
            Program::new(r"(a*)*b").is_none(),
            "a loop over what may match nothing"
        );
        assert!(Program::new(r"(?-u)\xff").is_none(), "a byte class");
        assert!(Program::new(r"a{5000}").is_none(), "too large");
        let p = Program::new(r"(a|aa)*b").unwrap();
        let mut stack = Vec::new();
        assert_eq!(p.match_at(&"a".repeat(60), 0, &mut stack), Err(GaveUp));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn finds_what_the_regex_finds(text in posty()) {
            let mut stack = Vec::new();
            for (regex, program) in compiled() {
                let Some(program) = program else { continue };
                for start in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                    let expected = regex.search(&anchored_at(&text, start)).map(|m| m.end());
                    // A search that gives up is answered by the regex in the engine.
                    if let Ok(end) = program.match_at(&text, start, &mut stack) {
                        prop_assert_eq!(end, expected, "{:?} at {} of {:?}", regex, start, text);
                    }
                }
            }
        }
    }
}
