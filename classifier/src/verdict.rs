//! The classifier's output: plain data, serialisable, shared with the store and the dashboard.
//!
//! Names that come from the rule pack or the gazetteer (indicator ids, categories and
//! descriptions, place and destination names, the rule set's version) are shared `Arc<str>`s:
//! every verdict names them, and copying them into each verdict was a third of the
//! classifier's allocations (~20 a post). They serialise as plain strings.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::entities::{Entity, Salary};
use crate::rules::Lang;

/// Risk level derived from the score by the rule set's cut-offs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "none" => Level::None,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            _ => return None,
        })
    }
}

/// A byte range of the original text and the text it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// An indicator that fired, with where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredIndicator {
    pub id: Arc<str>,
    pub category: Arc<str>,
    pub weight: f64,
    /// True when this indicator's weight is part of the score (active, and the strongest of its
    /// category in its direction).
    pub counted: bool,
    pub experimental: bool,
    pub description: Arc<str>,
    pub matches: Vec<Span>,
}

/// A Kalbar place named in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceMatch {
    pub name: Arc<str>,
    pub kind: Arc<str>,
    pub regency: Arc<str>,
    pub span: Span,
}

/// A destination abroad named in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationMatch {
    pub name: Arc<str>,
    pub country: Arc<str>,
    pub span: Span,
}

/// Why a text scored what it scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// In [0, 1]: the sum of per-category contributions, clamped.
    pub score: f64,
    pub level: Level,
    pub flagged: bool,
    pub lang: Lang,
    /// The text names a Kalbar place or speaks to a Kalbar audience.
    pub kalbar: bool,
    pub indicators: Vec<FiredIndicator>,
    pub places: Vec<PlaceMatch>,
    pub destinations: Vec<DestinationMatch>,
    /// Phone numbers, chat links, handles and e-mail addresses in the text.
    pub entities: Vec<Entity>,
    /// Promised pay.
    pub salaries: Vec<Salary>,
    pub ruleset_version: Arc<str>,
}

impl Verdict {
    /// Ids of the indicators that fired, in order.
    pub fn indicator_ids(&self) -> impl Iterator<Item = &str> {
        self.indicators.iter().map(|i| &*i.id)
    }
}
