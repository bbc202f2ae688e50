//! The analysts' pages: the rule set in use, a playground to try it on a text, its evaluation
//! on the labelled corpus, and candidate rule sets (checked, compared, diffed over the stored
//! posts, then activated).
//!
//! Everyone logged in may read the rule set and use the playground (officers want to know why a
//! text is flagged); only analysts and admins evaluate, check candidates and activate them. The
//! server checks the role on every request, and refusals are audited. A candidate is checked
//! again in full when activated: the activation form is never trusted to carry a checked text.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use patroli_classifier::{
    CATEGORIES, EvalReport, ExampleReport, Labeled, RuleError, Status, evaluate,
};
use patroli_index::{
    Activation, ActivationError, ActiveRuleSet, Origin, RuleDiff, RuleSet, StoreError,
    corpus_post_id, file_name,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::i18n::Messages;
use crate::pages::{Piece, VerdictView, marks, pieces, verdict_view};

/// The roles that tune the rules.
const TUNERS: &[&str] = &["analyst", "admin"];
/// Longest text the playground classifies.
const MAX_PLAYGROUND_BYTES: usize = 20 * 1024;
/// Characters of a playground text kept in the audit log (enough to know what was tried).
const AUDIT_TEXT_CHARS: usize = 200;
/// Longest rule file a candidate may paste.
const MAX_RULE_FILE_BYTES: usize = 256 * 1024;
/// Longest file name and version a candidate may give.
const MAX_NAME_LEN: usize = 64;
/// Misclassified texts listed per kind on the evaluation page.
const MISSES_SHOWN: usize = 20;
/// Changed posts listed per kind in a candidate's diff.
const CHANGES_SHOWN: usize = 10;

fn may_tune(user: &CurrentUser) -> bool {
    TUNERS.contains(&user.user.role.as_str())
}

async fn audit(
    state: &AppState,
    user: &CurrentUser,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> Result<(), AppError> {
    state
        .store
        .audit(
            &user.user.username,
            action,
            target,
            detail,
            user.remote.as_deref(),
        )
        .await?;
    Ok(())
}

/// Runs CPU-heavy classification off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("classification task: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The rule set in use

struct CategoryCount {
    category: &'static str,
    active: usize,
    experimental: usize,
    retired: usize,
}

struct IndicatorRow {
    id: String,
    category: String,
    weight: String,
    status: &'static str,
    description: String,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    version: String,
    threshold: String,
    levels: [String; 3],
    origin: String,
    counts: Vec<CategoryCount>,
    indicators: Vec<IndicatorRow>,
    files: Vec<String>,
    history: Vec<Activation>,
    can_tune: bool,
}

fn origin_text(t: &Messages, origin: &Origin) -> String {
    match origin {
        Origin::Files { from } => t.get("rules.origin_files").replace("{from}", from),
        Origin::Activated(a) => t
            .get("rules.origin_activated")
            .replace("{by}", &a.activated_by)
            .replace(
                "{at}",
                &a.activated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
            .replace("{file}", &a.changed_file)
            .replace("{previous}", &a.previous_version),
    }
}

/// The rule set in use: its settings, where it came from, its indicators and the history of
/// activations.
pub async fn rules(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    audit(&state, &user, "rules_view", None, None).await?;
    let t = user.locale.messages();
    let current = state.rules.current();
    let set = &current.rules;
    let c = &set.classifier;
    let status_key = |s: Status| match s {
        Status::Active => "rules.status_active",
        Status::Experimental => "rules.status_experimental",
        Status::Retired => "rules.status_retired",
    };
    let mut indicators: Vec<IndicatorRow> = c
        .indicators()
        .iter()
        .map(|i| IndicatorRow {
            id: i.id.clone(),
            category: i.category.clone(),
            weight: format!("{:+.2}", i.weight),
            status: t.get_owned(status_key(i.status)),
            description: i.description.clone(),
        })
        .chain(set.retired.iter().map(|r| IndicatorRow {
            id: r.id.clone(),
            category: r.category.clone(),
            weight: format!("{:+.2}", r.weight),
            status: t.get_owned(status_key(Status::Retired)),
            description: r.description.clone(),
        }))
        .collect();
    indicators.sort_by(|a, b| a.id.cmp(&b.id));
    let counts = CATEGORIES
        .iter()
        .map(|&category| {
            let of = |s: Status| {
                c.indicators()
                    .iter()
                    .filter(|i| i.category == category && i.status == s)
                    .count()
            };
            CategoryCount {
                category,
                active: of(Status::Active),
                experimental: of(Status::Experimental),
                retired: set
                    .retired
                    .iter()
                    .filter(|r| r.category == category)
                    .count(),
            }
        })
        .filter(|n| n.active + n.experimental + n.retired > 0)
        .collect();
    let levels = c.levels();
    let html = RulesPage {
        t,
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        version: set.version().to_string(),
        threshold: format!("{:.2}", c.flag_threshold()),
        levels: [levels.low, levels.medium, levels.high].map(|l| format!("{l:.2}")),
        origin: origin_text(t, &current.origin),
        counts,
        indicators,
        files: set.files.iter().map(|f| file_name(f).to_string()).collect(),
        history: state.store.rule_set_history().await?,
        can_tune: may_tune(&user),
    }
    .render()?;
    Ok(Html(html).into_response())
}

// ---------------------------------------------------------------------------------------------
// Playground

#[derive(Template)]
#[template(path = "rules_playground.html")]
struct PlaygroundPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    input: String,
    verdict: Option<VerdictView>,
    text: Vec<Piece>,
    can_tune: bool,
}

#[derive(Deserialize)]
pub struct PlaygroundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

fn playground_page(
    user: &CurrentUser,
    input: String,
    verdict: Option<VerdictView>,
    text: Vec<Piece>,
) -> Result<Response, AppError> {
    let html = PlaygroundPage {
        t: user.locale.messages(),
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        input,
        verdict,
        text,
        can_tune: may_tune(user),
    }
    .render()?;
    Ok(Html(html).into_response())
}

pub async fn playground_form(user: CurrentUser) -> Result<Response, AppError> {
    playground_page(&user, String::new(), None, Vec::new())
}

/// Classifies a pasted text with the rule set in use and shows why. Audited like a search.
pub async fn playground(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<PlaygroundForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    if form.text.len() > MAX_PLAYGROUND_BYTES {
        return Err(AppError::Invalid("rules.text_too_long"));
    }
    let classifier = state.rules.classifier();
    let input = form.text;
    let (input, verdict) = blocking(move || {
        let v = classifier.classify(&input);
        (input, v)
    })
    .await?;
    let excerpt: String = input.chars().take(AUDIT_TEXT_CHARS).collect();
    let detail = format!(
        "rule set {} text={excerpt:?} ({} bytes)",
        verdict.ruleset_version,
        input.len()
    );
    audit(&state, &user, "rules_playground", None, Some(&detail)).await?;
    let text = pieces(&input, &marks(&verdict));
    let view = verdict_view(user.locale.messages(), &verdict);
    playground_page(&user, input, Some(view), text)
}

// ---------------------------------------------------------------------------------------------
// Evaluation

struct MissView {
    id: String,
    label: String,
    /// The lead the text came from, when it is an officer's judgement.
    lead: Option<i64>,
    score: String,
    fired: String,
    text: Vec<Piece>,
}

struct IndicatorStatView {
    id: String,
    hits: usize,
    on_positive: usize,
    precision: String,
}

/// An evaluation as the pages show it.
struct EvalView {
    version: String,
    total: usize,
    precision: String,
    recall: String,
    f1: String,
    tp: usize,
    fp: usize,
    tn: usize,
    fn_: usize,
    by_label: Vec<(String, usize, usize)>,
    indicators: Vec<IndicatorStatView>,
    /// (title key, how many, the first few) for false positives, then false negatives.
    misses: [(&'static str, usize, Vec<MissView>); 2],
}

fn ratio(x: f64) -> String {
    format!("{x:.3}")
}

fn eval_view(r: &EvalReport) -> EvalView {
    let misses = |list: &[patroli_classifier::Miss]| {
        list.iter()
            .take(MISSES_SHOWN)
            .map(|m| MissView {
                id: m.id.clone(),
                label: m.label.clone(),
                lead: corpus_post_id(&m.id),
                score: format!("{:.2}", m.verdict.score),
                fired: m
                    .verdict
                    .indicators
                    .iter()
                    .map(|i| format!("{} {:+.2}", i.id, i.weight))
                    .collect::<Vec<_>>()
                    .join(", "),
                text: pieces(&m.text, &marks(&m.verdict)),
            })
            .collect()
    };
    let mut indicators: Vec<IndicatorStatView> = r
        .indicators
        .iter()
        .map(|(id, s)| IndicatorStatView {
            id: id.clone(),
            hits: s.hits,
            on_positive: s.on_positive,
            precision: format!("{:.2}", s.precision),
        })
        .collect();
    indicators.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.id.cmp(&b.id)));
    EvalView {
        version: r.ruleset_version.clone(),
        total: r.total,
        precision: ratio(r.precision),
        recall: ratio(r.recall),
        f1: ratio(r.f1),
        tp: r.confusion.true_positive,
        fp: r.confusion.false_positive,
        tn: r.confusion.true_negative,
        fn_: r.confusion.false_negative,
        by_label: r
            .by_label
            .iter()
            .map(|(l, (flagged, total))| (l.clone(), *flagged, *total))
            .collect(),
        indicators,
        misses: [
            (
                "rules.false_positives",
                r.false_positives.len(),
                misses(&r.false_positives),
            ),
            (
                "rules.false_negatives",
                r.false_negatives.len(),
                misses(&r.false_negatives),
            ),
        ],
    }
}

/// The labelled corpus: the bundled development corpus and the officers' judgements.
async fn corpus(state: &AppState) -> Result<Arc<Vec<Labeled>>, AppError> {
    let mut items = state.corpus.to_vec();
    items.extend(state.store.labelled_corpus().await?);
    Ok(Arc::new(items))
}

#[derive(Template)]
#[template(path = "rules_eval.html")]
struct EvalPage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    e: EvalView,
    dev: usize,
    officers: usize,
    shown: usize,
    can_tune: bool,
}

/// Precision, recall, F1, the confusion matrix, per-indicator precision and the errors of the
/// rule set in use on the labelled corpus.
pub async fn eval(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    user.require_role(&state, TUNERS, "rules_eval", None)
        .await?;
    let items = corpus(&state).await?;
    let classifier = state.rules.classifier();
    let report = {
        let items = items.clone();
        blocking(move || evaluate(&classifier, &items)).await?
    };
    audit(
        &state,
        &user,
        "rules_eval",
        None,
        Some(&format!(
            "rule set {} on {} texts",
            report.ruleset_version, report.total
        )),
    )
    .await?;
    let html = EvalPage {
        t: user.locale.messages(),
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        e: eval_view(&report),
        dev: state.corpus.len(),
        officers: items.len() - state.corpus.len(),
        shown: MISSES_SHOWN,
        can_tune: true,
    }
    .render()?;
    Ok(Html(html).into_response())
}

// ---------------------------------------------------------------------------------------------
// Candidates

#[derive(Deserialize, Default)]
pub struct CandidateForm {
    #[serde(default)]
    csrf: String,
    /// The rule file to replace or add, by bare name.
    #[serde(default)]
    file: String,
    /// The candidate's version, written into its `[ruleset]` table; empty keeps the files'.
    #[serde(default)]
    version: String,
    #[serde(default)]
    text: String,
    /// The version of the rule set in use when the candidate was checked.
    #[serde(default)]
    base: String,
}

impl CandidateForm {
    /// The form's file name and version, or the message key saying what to change.
    fn validate(&self) -> Result<(&str, Option<&str>), AppError> {
        let file = self.file.trim();
        let simple = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c);
        let stem_ok = file
            .strip_suffix(".toml")
            .is_some_and(|s| !s.is_empty() && s.chars().all(simple));
        if !stem_ok || file.len() > MAX_NAME_LEN {
            return Err(AppError::Invalid("rules.bad_file_name"));
        }
        if self.text.trim().is_empty() {
            return Err(AppError::Invalid("rules.empty_file"));
        }
        if self.text.len() > MAX_RULE_FILE_BYTES {
            return Err(AppError::Invalid("rules.file_too_long"));
        }
        let version = self.version.trim();
        let version_ok = version.len() <= MAX_NAME_LEN
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c));
        if !version_ok {
            return Err(AppError::Invalid("rules.bad_version"));
        }
        Ok((file, Some(version).filter(|v| !v.is_empty())))
    }
}

/// A candidate after parsing and validation.
enum Checked {
    /// The files do not parse or validate: the file, line and rule say where.
    Invalid(RuleError),
    Compiled {
        set: RuleSet,
        examples: ExampleReport,
    },
}

/// Builds the candidate from the rule set in use and the form, and runs its examples.
async fn check(
    state: &AppState,
    current: &ActiveRuleSet,
    form: &CandidateForm,
) -> Result<Checked, AppError> {
    let (file, version) = form.validate()?;
    let files = current.rules.candidate_files(file, &form.text, version);
    let rules = state.rules.clone();
    let compiled = blocking(move || {
        rules.compile(files).map(|set| {
            let examples = set.classifier.test_examples();
            (set, examples)
        })
    })
    .await?;
    Ok(match compiled {
        Ok((set, examples)) => Checked::Compiled { set, examples },
        Err(e) => Checked::Invalid(e),
    })
}

/// Why a checked candidate cannot be activated (a message key), if it cannot: it must
/// compile, its examples must pass, and its version must be new.
async fn refusal(state: &AppState, checked: &Checked) -> Result<Option<&'static str>, AppError> {
    let (set, examples) = match checked {
        Checked::Invalid(_) => return Ok(Some("rules.invalid")),
        Checked::Compiled { set, examples } => (set, examples),
    };
    if !examples.failures.is_empty() {
        return Ok(Some("rules.examples_fail"));
    }
    match state.rules.check_version(&state.store, set.version()).await {
        Ok(()) => Ok(None),
        Err(e) => activation_refusal(e).map(Some),
    }
}

/// The message key for an activation the rules refuse; store failures stay errors.
fn activation_refusal(e: ActivationError) -> Result<&'static str, AppError> {
    match e {
        ActivationError::SameVersion(_) => Ok("rules.same_version"),
        // A conflict is the same version activated by another process in the meantime.
        ActivationError::VersionUsed { .. } | ActivationError::Store(StoreError::Conflict(_)) => {
            Ok("rules.version_used")
        }
        ActivationError::Store(e) => Err(e.into()),
    }
}

struct RuleErrorView {
    file: String,
    line: String,
    rule: String,
    message: String,
}

struct ExampleFailureView {
    indicator: String,
    location: String,
    text: String,
    expected_match: bool,
}

/// One metric of the active rule set beside the candidate's.
struct MetricRow {
    name: &'static str,
    active: String,
    candidate: String,
}

/// An indicator whose hits or precision on the corpus differ between the two sets.
struct IndicatorChange {
    id: String,
    active: String,
    candidate: String,
}

struct ChangeView {
    id: i64,
    title: String,
    old: String,
    new: String,
    added: String,
    removed: String,
}

struct DiffView {
    posts: usize,
    newly_flagged: usize,
    no_longer_flagged: usize,
    level_changed: usize,
    /// (old level, new level, posts) for the levels that move.
    moves: Vec<(&'static str, &'static str, usize)>,
    /// (title, changes) per kind of change, the first few each.
    examples: Vec<(&'static str, Vec<ChangeView>)>,
}

/// What the candidate page shows below the form once a candidate was checked.
struct Report {
    version: String,
    error: Option<RuleErrorView>,
    examples_checked: usize,
    example_failures: Vec<ExampleFailureView>,
    metrics: Vec<MetricRow>,
    indicator_changes: Vec<IndicatorChange>,
    corpus_size: usize,
    diff: Option<DiffView>,
    /// Why it cannot be activated, in the user's language.
    refusal: Option<String>,
    /// Something to know before activating it, in the user's language.
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "rules_candidate.html")]
struct CandidatePage<'a> {
    t: &'a Messages,
    user: Option<&'a str>,
    is_admin: bool,
    csrf: &'a str,
    files: Vec<String>,
    active_version: String,
    file: String,
    version: String,
    text: String,
    report: Option<Report>,
    can_tune: bool,
}

/// The candidate page; `current` is the rule set the report (if any) compared with, and the
/// activation form names it as its base.
fn candidate_page(
    current: &ActiveRuleSet,
    user: &CurrentUser,
    form: &CandidateForm,
    report: Option<Report>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let html = CandidatePage {
        t: user.locale.messages(),
        user: Some(&user.user.username),
        is_admin: user.user.role == "admin",
        csrf: &user.csrf_token,
        files: current
            .rules
            .files
            .iter()
            .map(|f| file_name(f).to_string())
            .collect(),
        active_version: current.rules.version().to_string(),
        file: form.file.trim().to_string(),
        version: form.version.trim().to_string(),
        text: form.text.clone(),
        report,
        can_tune: true,
    }
    .render()?;
    Ok((status, Html(html)).into_response())
}

fn level_label(t: &Messages, level: patroli_classifier::Level) -> String {
    t.get(&format!("level.{}", level.as_str())).to_string()
}

fn diff_view(t: &Messages, d: &RuleDiff) -> DiffView {
    let level_key = |l: &str| {
        patroli_classifier::Level::parse(l).map_or("none", patroli_classifier::Level::as_str)
    };
    let moves = d
        .level_moves
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |(to, n)| (from, to, *n)))
        .filter(|(from, to, _)| from != to)
        .map(|(from, to, n)| (level_key(from), level_key(to), n))
        .collect();
    let changes = |list: &[patroli_index::Change]| {
        list.iter()
            .take(CHANGES_SHOWN)
            .map(|c| ChangeView {
                id: c.id,
                title: c.title.clone(),
                old: format!("{:.2} {}", c.old_score, level_label(t, c.old_level)),
                new: format!("{:.2} {}", c.new_score, level_label(t, c.new_level)),
                added: c.added.join(", "),
                removed: c.removed.join(", "),
            })
            .collect()
    };
    DiffView {
        posts: d.posts,
        newly_flagged: d.newly_flagged.len(),
        no_longer_flagged: d.no_longer_flagged.len(),
        level_changed: d.level_changed.len(),
        moves,
        examples: vec![
            ("rules.newly_flagged", changes(&d.newly_flagged)),
            ("rules.no_longer_flagged", changes(&d.no_longer_flagged)),
            ("rules.level_changed", changes(&d.level_changed)),
        ],
    }
}

/// Side by side: the metrics of both rule sets on the corpus, and the indicators that do
/// differently.
fn compare(a: &EvalReport, b: &EvalReport) -> (Vec<MetricRow>, Vec<IndicatorChange>) {
    let count = |n: usize| n.to_string();
    let metrics = vec![
        MetricRow {
            name: "rules.precision",
            active: ratio(a.precision),
            candidate: ratio(b.precision),
        },
        MetricRow {
            name: "rules.recall",
            active: ratio(a.recall),
            candidate: ratio(b.recall),
        },
        MetricRow {
            name: "rules.f1",
            active: ratio(a.f1),
            candidate: ratio(b.f1),
        },
        MetricRow {
            name: "rules.tp",
            active: count(a.confusion.true_positive),
            candidate: count(b.confusion.true_positive),
        },
        MetricRow {
            name: "rules.fp",
            active: count(a.confusion.false_positive),
            candidate: count(b.confusion.false_positive),
        },
        MetricRow {
            name: "rules.tn",
            active: count(a.confusion.true_negative),
            candidate: count(b.confusion.true_negative),
        },
        MetricRow {
            name: "rules.fn",
            active: count(a.confusion.false_negative),
            candidate: count(b.confusion.false_negative),
        },
    ];
    let stats = |r: &EvalReport, id: &str| {
        r.indicators.get(id).map_or_else(
            || "–".to_string(),
            |s| format!("{} ({:.2})", s.hits, s.precision),
        )
    };
    let mut ids: Vec<&String> = a.indicators.keys().chain(b.indicators.keys()).collect();
    ids.sort();
    ids.dedup();
    let changes = ids
        .into_iter()
        .map(|id| IndicatorChange {
            id: id.clone(),
            active: stats(a, id),
            candidate: stats(b, id),
        })
        .filter(|c| c.active != c.candidate)
        .collect();
    (metrics, changes)
}

/// The full report on a candidate: examples, the evaluation beside the active set's, the diff
/// over the stored posts, and why it cannot be activated (`refusal`, a message key), if so.
async fn report(
    state: &AppState,
    current: &ActiveRuleSet,
    checked: Checked,
    refusal: Option<&'static str>,
    t: &Messages,
) -> Result<Report, AppError> {
    let (set, examples) = match checked {
        Checked::Invalid(e) => {
            return Ok(Report {
                version: String::new(),
                error: Some(RuleErrorView {
                    file: e.location.file,
                    line: e.location.line.map(|l| l.to_string()).unwrap_or_default(),
                    rule: e.location.rule.unwrap_or_default(),
                    message: e.message,
                }),
                examples_checked: 0,
                example_failures: Vec::new(),
                metrics: Vec::new(),
                indicator_changes: Vec::new(),
                corpus_size: 0,
                diff: None,
                refusal: refusal.map(|k| t.get(k).to_string()),
                notice: None,
            });
        }
        Checked::Compiled { set, examples } => (set, examples),
    };
    let items = corpus(state).await?;
    let (active, candidate) = (current.rules.classifier.clone(), set.classifier.clone());
    let (a, b) = {
        let (active, candidate, items) = (active.clone(), candidate.clone(), items.clone());
        blocking(move || (evaluate(&active, &items), evaluate(&candidate, &items))).await?
    };
    let (metrics, indicator_changes) = compare(&a, &b);
    let diff = patroli_index::diff(&state.store, active, candidate).await?;
    let version = set.version().to_string();
    Ok(Report {
        error: None,
        examples_checked: examples.checked,
        example_failures: examples
            .failures
            .into_iter()
            .map(|f| ExampleFailureView {
                indicator: f.indicator,
                location: f.location.to_string(),
                text: f.text,
                expected_match: f.expected_match,
            })
            .collect(),
        metrics,
        indicator_changes,
        corpus_size: items.len(),
        diff: Some(diff_view(t, &diff)),
        refusal: refusal.map(|k| t.get(k).to_string()),
        notice: None,
        version,
    })
}

#[derive(Deserialize)]
pub struct CandidateQuery {
    #[serde(default)]
    file: String,
}

/// The candidate form; `?file=NAME` starts from that file of the rule set in use.
pub async fn candidate_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<CandidateQuery>,
) -> Result<Response, AppError> {
    user.require_role(&state, TUNERS, "rules_candidate", None)
        .await?;
    let text = state
        .rules
        .current()
        .rules
        .file(&q.file)
        .map(|f| f.text.clone())
        .unwrap_or_default();
    let form = CandidateForm {
        file: q.file,
        text,
        ..CandidateForm::default()
    };
    candidate_page(&state.rules.current(), &user, &form, None, StatusCode::OK)
}

/// Checks a candidate and shows everything an analyst needs before activating it.
pub async fn candidate(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CandidateForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    user.require_role(&state, TUNERS, "rules_candidate", None)
        .await?;
    let current = state.rules.current();
    let checked = check(&state, &current, &form).await?;
    let refusal = refusal(&state, &checked).await?;
    let outcome = match &checked {
        Checked::Invalid(e) => format!("invalid: {e}"),
        Checked::Compiled { set, .. } => {
            format!("version {}: {}", set.version(), refusal.unwrap_or("ok"))
        }
    };
    audit(
        &state,
        &user,
        "rules_candidate",
        Some(form.file.trim()),
        Some(&outcome),
    )
    .await?;
    let status = match checked {
        Checked::Invalid(_) => StatusCode::BAD_REQUEST,
        Checked::Compiled { .. } => StatusCode::OK,
    };
    let report = report(&state, &current, checked, refusal, user.locale.messages()).await?;
    candidate_page(&current, &user, &form, Some(report), status)
}

/// Activates a candidate: checked again in full, stored with every file, put in use by the
/// dashboard and the pipeline at once, and written to the audit log. A refused candidate is
/// shown again with the reason.
pub async fn activate(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CandidateForm>,
) -> Result<Response, AppError> {
    user.check_csrf(&form.csrf)?;
    user.require_role(&state, TUNERS, "rules_activate", None)
        .await?;
    let current = state.rules.current();
    let checked = check(&state, &current, &form).await?;
    // What the analyst saw was compared with the rule set in use then; if another activation
    // came in between, that comparison no longer holds.
    let stale = (current.rules.version() != form.base).then_some("rules.stale");
    let refusal = refusal(&state, &checked).await?.or(stale);
    let file = form.file.trim();
    let (checked, refusal) = match (checked, refusal) {
        (Checked::Compiled { set, .. }, None) => {
            let version = set.version().to_string();
            match state
                .rules
                .activate(&state.store, set, file, &user.user.username)
                .await
            {
                Ok(_) => {
                    let detail = format!(
                        "{file} changed; replaces rule set {}",
                        current.rules.version()
                    );
                    audit(
                        &state,
                        &user,
                        "rules_activate",
                        Some(&version),
                        Some(&detail),
                    )
                    .await?;
                    return Ok(Redirect::to("/rules").into_response());
                }
                // Activated elsewhere in the meantime: check again to show why.
                Err(e) => (
                    check(&state, &current, &form).await?,
                    activation_refusal(e)?,
                ),
            }
        }
        (checked, refusal) => (checked, refusal.unwrap_or("rules.invalid")),
    };
    audit(
        &state,
        &user,
        "rules_activate_rejected",
        Some(file),
        Some(refusal),
    )
    .await?;
    let t = user.locale.messages();
    // A stale candidate is fine in itself: it is shown against the rule set now in use, with
    // the activation offered again.
    let (status, refusal, notice) = match refusal {
        "rules.stale" => (StatusCode::CONFLICT, None, Some(t.get(refusal).to_string())),
        _ => (StatusCode::BAD_REQUEST, Some(refusal), None),
    };
    let mut report = report(&state, &current, checked, refusal, t).await?;
    report.notice = notice;
    candidate_page(&current, &user, &form, Some(report), status)
}

#[cfg(test)]
mod tests {
    use crate::i18n::Locale;

    /// Message keys handed around as values here (refusals, metric names, section titles) are
    /// not looked up where they are written, so the catalogue test does not see them; this one
    /// does (template paths aside).
    #[test]
    fn every_rules_key_named_here_exists_in_both_catalogues() {
        let src = include_str!("analyst.rs");
        let needle = concat!("\"", "rules", ".");
        let keys: Vec<&str> = src
            .match_indices(needle)
            .map(|(i, _)| {
                let rest = &src[i + 1..];
                &rest[..rest.find('"').unwrap()]
            })
            .filter(|key| !key.ends_with(".html"))
            .collect();
        assert!(keys.len() > 20, "{keys:?}");
        for locale in [Locale::Id, Locale::En] {
            for key in &keys {
                assert_ne!(locale.messages().get(key), *key, "{key} in {locale:?}");
            }
        }
    }
}
