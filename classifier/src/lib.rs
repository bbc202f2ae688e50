//! The classifier owns the recruitment-risk rule engine: it turns a post's text into a
//! [`Verdict`] — a score in [0, 1], a level, a flag, and the indicators that fired with the spans
//! of the original text that made them fire — so an officer can see *why* a post was flagged.
//!
//! Main types: [`RulePack`] (the analysts' TOML files, parsed and validated, see
//! `seeds/rules/README.md`), [`Gazetteer`] (Kalbar places and destinations), [`Classifier`] (the
//! compiled engine) and [`Verdict`].
//!
//! The classifier is pure: it never reads files, touches the network or the store, and has no
//! async code. Its callers hand it the rule files' text as [`RuleSource`]s.

mod anchored;
mod backtrack;
mod edit;
mod engine;
mod entities;
mod eval;
mod gazetteer;
pub mod normalize;
mod rules;
mod verdict;

pub use edit::with_version;
pub use engine::{Classifier, ExampleFailure, ExampleReport, LanguageDetection};
pub use entities::{Entity, EntityKind, Salary, phone_e164};
pub use eval::{Confusion, EvalReport, IndicatorStats, Labeled, Miss, POSITIVE_LABEL, evaluate};
pub use gazetteer::{Destination, Gazetteer, Place};
pub use rules::{
    CATEGORIES, Examples, Indicator, Lang, Levels, Location, Near, Retired, RuleError, RulePack,
    RuleSource, Status,
};
pub use verdict::{DestinationMatch, FiredIndicator, Level, PlaceMatch, Span, Verdict};

#[cfg(test)]
mod robustness;
