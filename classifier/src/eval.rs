//! Measuring a rule set on a labelled corpus: precision, recall, F1, the confusion matrix,
//! per-indicator hits and precision, and the errors with their verdicts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::Classifier;
use crate::verdict::Verdict;

/// The label of the positive class; every other label is negative.
pub const POSITIVE_LABEL: &str = "illegal_recruitment";

/// One labelled text.
#[derive(Debug, Clone, Deserialize)]
pub struct Labeled {
    pub id: String,
    pub text: String,
    pub label: String,
}

/// Counts of a binary confusion matrix (positive = flagged / labelled illegal recruitment).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Confusion {
    pub true_positive: usize,
    pub false_positive: usize,
    pub true_negative: usize,
    pub false_negative: usize,
}

impl Confusion {
    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// How one indicator did: on how many texts it fired, and how many of those were positive.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndicatorStats {
    pub hits: usize,
    pub on_positive: usize,
    pub precision: f64,
}

/// A misclassified text with its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub id: String,
    pub label: String,
    pub text: String,
    pub verdict: Verdict,
}

/// The result of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub ruleset_version: String,
    pub total: usize,
    pub confusion: Confusion,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Flagged counts per label: label → (flagged, total).
    pub by_label: BTreeMap<String, (usize, usize)>,
    pub indicators: BTreeMap<String, IndicatorStats>,
    pub false_positives: Vec<Miss>,
    pub false_negatives: Vec<Miss>,
}

/// Classifies every item and compares the flag with its label.
pub fn evaluate(classifier: &Classifier, items: &[Labeled]) -> EvalReport {
    let mut confusion = Confusion::default();
    let mut by_label: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut indicators: BTreeMap<String, IndicatorStats> = BTreeMap::new();
    let mut false_positives = Vec::new();
    let mut false_negatives = Vec::new();
    for item in items {
        let verdict = classifier.classify(&item.text);
        let positive = item.label == POSITIVE_LABEL;
        let entry = by_label.entry(item.label.clone()).or_default();
        entry.1 += 1;
        if verdict.flagged {
            entry.0 += 1;
        }
        for id in verdict.indicator_ids() {
            let s = indicators.entry(id.to_string()).or_default();
            s.hits += 1;
            s.on_positive += usize::from(positive);
        }
        let miss = || Miss {
            id: item.id.clone(),
            label: item.label.clone(),
            text: item.text.clone(),
            verdict: verdict.clone(),
        };
        match (positive, verdict.flagged) {
            (true, true) => confusion.true_positive += 1,
            (false, false) => confusion.true_negative += 1,
            (false, true) => {
                confusion.false_positive += 1;
                false_positives.push(miss());
            }
            (true, false) => {
                confusion.false_negative += 1;
                false_negatives.push(miss());
            }
        }
    }
    for s in indicators.values_mut() {
        s.precision = ratio(s.on_positive, s.hits);
    }
    EvalReport {
        ruleset_version: classifier.version().to_string(),
        total: items.len(),
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        confusion,
        by_label,
        indicators,
        false_positives,
        false_negatives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_their_definitions() {
        let c = Confusion {
            true_positive: 8,
            false_positive: 2,
            true_negative: 5,
            false_negative: 4,
        };
        assert!((c.precision() - 0.8).abs() < 1e-9);
        assert!((c.recall() - 8.0 / 12.0).abs() < 1e-9);
        assert!((c.f1() - 2.0 * 0.8 * (8.0 / 12.0) / (0.8 + 8.0 / 12.0)).abs() < 1e-9);
        assert_eq!(Confusion::default().f1(), 0.0);
    }
}
