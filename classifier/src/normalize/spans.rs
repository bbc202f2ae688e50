//! The map from each byte of a normalised text to the original byte range it stands for, kept
//! as runs rather than one range per byte.
//!
//! Most normalised text is original text copied byte for byte, so most bytes map to the range
//! one past their predecessor's: a run of such bytes is stored as its first range and a length.
//! A slang expansion or a character folded to several bytes maps every byte it wrote to the same
//! range: a run of those is stored the same way. A post of plain ASCII text is then one run
//! instead of a 16-byte entry per byte, which the normaliser wrote and allocated for every post.
//!
//! Every way of adding bytes is the same as pushing their ranges one by one, and pushing always
//! extends the last run when it can: equal byte maps are equal values.

/// A byte range of the original text.
pub(super) type Span = (usize, usize);

/// How the bytes of a run map to the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A run of one byte: it can still become either of the others.
    Single,
    /// Byte `k` of the run maps to the run's range moved `k` bytes on.
    Next,
    /// Every byte of the run maps to the run's range.
    Same,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// The index of its first byte.
    at: usize,
    /// Where its first byte comes from.
    span: Span,
    step: Step,
}

/// For each byte of a text, the original byte range it comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Spans {
    runs: Vec<Run>,
    /// How many bytes are mapped.
    len: usize,
}

impl Spans {
    /// An empty map with room for a post's runs: most have fewer than sixteen.
    pub(super) fn new() -> Spans {
        Spans {
            runs: Vec::with_capacity(16),
            len: 0,
        }
    }

    /// Maps no byte, keeping the room it has.
    pub(super) fn clear(&mut self) {
        self.runs.clear();
        self.len = 0;
    }

    /// The range byte `i` (< `len`) comes from.
    pub(super) fn get(&self, i: usize) -> Span {
        debug_assert!(i < self.len);
        let run = self.runs[self.runs.partition_point(|r| r.at <= i) - 1];
        match run.step {
            Step::Next => (run.span.0 + (i - run.at), run.span.1 + (i - run.at)),
            Step::Single | Step::Same => run.span,
        }
    }

    /// Maps one more byte to `span`.
    #[inline]
    pub(super) fn push(&mut self, span: Span) {
        if !self.goes_on(span, Step::Next) && !self.goes_on(span, Step::Same) {
            self.start_run(span);
        }
        self.len += 1;
    }

    /// Maps `n` more bytes, byte `k` of them to `span` moved `k` bytes on: bytes copied from the
    /// original, or from a stretch of it, as they were.
    #[inline]
    pub(super) fn push_copied(&mut self, span: Span, n: usize) {
        self.push_many(span, n, Step::Next);
    }

    /// Maps `n` more bytes, all to `span`.
    #[inline]
    pub(super) fn push_same(&mut self, span: Span, n: usize) {
        self.push_many(span, n, Step::Same);
    }

    /// Whether the next byte mapped to `span` extends the last run with `step` (a run of one
    /// byte takes the step then).
    #[inline]
    fn goes_on(&mut self, span: Span, step: Step) -> bool {
        let len = self.len;
        let Some(last) = self.runs.last_mut() else {
            return false;
        };
        let fits = match step {
            Step::Next => {
                let k = len - last.at;
                span == (last.span.0 + k, last.span.1 + k)
            }
            Step::Same | Step::Single => span == last.span,
        };
        if fits && (last.step == step || last.step == Step::Single) {
            last.step = step;
            return true;
        }
        false
    }

    fn start_run(&mut self, span: Span) {
        self.runs.push(Run {
            at: self.len,
            span,
            step: Step::Single,
        });
    }

    /// Pushes `n` ranges from `span` on as `step` says: at once when they go on with the last
    /// run (most words do), else one by one until the last run has that step, then the rest at
    /// once.
    #[inline]
    fn push_many(&mut self, span: Span, n: usize, step: Step) {
        if n > 0 && self.goes_on(span, step) {
            self.len += n;
        } else {
            self.push_each(span, n, step);
        }
    }

    #[cold]
    fn push_each(&mut self, span: Span, n: usize, step: Step) {
        let shift = |k: usize| match step {
            Step::Next => (span.0 + k, span.1 + k),
            Step::Single | Step::Same => span,
        };
        for k in 0..n {
            if self.goes_on(shift(k), step) {
                self.len += n - k;
                return;
            }
            self.push(shift(k));
        }
    }

    /// The map without the bytes at `dropped` (ascending, each < `len`).
    pub(super) fn without(&self, dropped: &[usize]) -> Spans {
        let mut kept = Spans::new();
        let mut from = 0;
        for &d in dropped.iter().chain(std::iter::once(&self.len)) {
            kept.extend_from(self, from, d);
            from = d + 1;
        }
        kept
    }

    /// Maps more bytes as bytes `from..to` of `other` are mapped.
    pub(super) fn extend_from(&mut self, other: &Spans, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let first = other.runs.partition_point(|r| r.at <= from) - 1;
        for (n, run) in other.runs[first..].iter().enumerate() {
            let end = other
                .runs
                .get(first + n + 1)
                .map_or(other.len, |r| r.at)
                .min(to);
            let start = run.at.max(from);
            if start >= end {
                break;
            }
            match run.step {
                Step::Next => {
                    let k = start - run.at;
                    self.push_copied((run.span.0 + k, run.span.1 + k), end - start);
                }
                Step::Single | Step::Same => self.push_same(run.span, end - start),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ways of adding bytes, with the ranges they stand for one by one.
    #[derive(Debug, Clone)]
    enum Op {
        Push(Span),
        Copied(Span, usize),
        Same(Span, usize),
    }

    impl Op {
        fn ranges(&self) -> Vec<Span> {
            match *self {
                Op::Push(s) => vec![s],
                Op::Copied(s, n) => (0..n).map(|k| (s.0 + k, s.1 + k)).collect(),
                Op::Same(s, n) => vec![s; n],
            }
        }
    }

    /// Small ranges, so that runs meet and go on from one another often.
    fn op() -> impl Strategy<Value = Op> {
        let span = (0..6usize, 1..3usize).prop_map(|(s, w)| (s, s + w));
        prop_oneof![
            span.clone().prop_map(Op::Push),
            (span.clone(), 0..5usize).prop_map(|(s, n)| Op::Copied(s, n)),
            (span, 0..5usize).prop_map(|(s, n)| Op::Same(s, n)),
        ]
    }

    fn one_by_one(ranges: &[Span]) -> Spans {
        let mut spans = Spans::default();
        for &r in ranges {
            spans.push(r);
        }
        spans
    }

    #[test]
    fn copied_text_is_one_run() {
        let mut spans = Spans::default();
        spans.push_copied((0, 1), 5);
        spans.push((5, 6));
        spans.push_copied((6, 7), 100);
        assert_eq!(spans.runs.len(), 1);
        assert_eq!(spans.len, 106);
        assert_eq!(spans.get(105), (105, 106));
        spans.push_same((10, 12), 4);
        assert_eq!(spans.runs.len(), 2);
        assert_eq!(spans.get(106), (10, 12));
        assert_eq!(spans.get(109), (10, 12));
    }

    proptest! {
        #[test]
        fn any_way_of_adding_is_pushing_one_by_one(ops in prop::collection::vec(op(), 0..12)) {
            let mut spans = Spans::default();
            let mut ranges = Vec::new();
            for op in &ops {
                match *op {
                    Op::Push(s) => spans.push(s),
                    Op::Copied(s, n) => spans.push_copied(s, n),
                    Op::Same(s, n) => spans.push_same(s, n),
                }
                ranges.extend(op.ranges());
            }
            prop_assert_eq!(&spans, &one_by_one(&ranges));
            prop_assert_eq!(spans.len, ranges.len());
            for (i, &r) in ranges.iter().enumerate() {
                prop_assert_eq!(spans.get(i), r);
            }
        }

        #[test]
        fn dropping_bytes_is_pushing_the_rest(
            ops in prop::collection::vec(op(), 0..12),
            drop in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let ranges: Vec<Span> = ops.iter().flat_map(Op::ranges).collect();
            if ranges.is_empty() {
                return Ok(());
            }
            let mut dropped: Vec<usize> = drop.iter().map(|i| i.index(ranges.len())).collect();
            dropped.sort_unstable();
            dropped.dedup();
            let kept: Vec<Span> = (0..ranges.len())
                .filter(|i| !dropped.contains(i))
                .map(|i| ranges[i])
                .collect();
            prop_assert_eq!(one_by_one(&ranges).without(&dropped), one_by_one(&kept));
        }
    }
}
