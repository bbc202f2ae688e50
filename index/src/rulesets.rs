//! Rule sets as the running system uses them: a compiled pack with the files it came from
//! ([`RuleSet`]); the sets analysts activated from the dashboard, stored append-only with every
//! file (the newest is the active one); and [`ActiveRules`], the one handle the pipeline and the
//! dashboard share, so an activation takes effect at once in the process that made it and is
//! loaded again at the next start.
//!
//! The officers' judgements on leads also live here as a labelled corpus, the other half of what
//! a rule set is measured on.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use patroli_classifier::{
    Classifier, Gazetteer, Labeled, LanguageDetection, Retired, RuleError, RulePack, RuleSource,
    with_version,
};
use serde::Serialize;

use crate::db::with_pool;
use crate::error::StoreError;
use crate::store::Store;

/// A rule pack compiled with a gazetteer, and the files it was compiled from.
pub struct RuleSet {
    pub classifier: Arc<Classifier>,
    /// The rule files, in the order they were parsed (by name).
    pub files: Vec<RuleSource>,
    /// Indicators kept in the files for history but not loaded.
    pub retired: Vec<Retired>,
}

/// The bare name of a rule file (`route.toml`): files loaded from a folder are named by their
/// path, stored files by their name alone, and candidates replace a file by its bare name.
pub fn file_name(source: &RuleSource) -> &str {
    source
        .name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&source.name)
}

impl RuleSet {
    /// Parses, validates and compiles `files`.
    pub fn compile(
        files: Vec<RuleSource>,
        gazetteer: &Gazetteer,
        detection: LanguageDetection,
    ) -> Result<RuleSet, RuleError> {
        let mut pack = RulePack::parse(&files)?;
        let retired = std::mem::take(&mut pack.retired);
        Ok(RuleSet {
            classifier: Arc::new(Classifier::new(pack, gazetteer.clone(), detection)?),
            files,
            retired,
        })
    }

    pub fn version(&self) -> &str {
        self.classifier.version()
    }

    /// The file named `name` (bare name).
    pub fn file(&self, name: &str) -> Option<&RuleSource> {
        self.files.iter().find(|f| file_name(f) == name)
    }

    /// The files of a candidate: these files under their bare names, with `name` replaced by
    /// (or, if new, added as) `text`, sorted by name as a rules folder is read; then `version`,
    /// when given, written into the `[ruleset]` table, so changing one indicator file does not
    /// also need a pasted `ruleset.toml`.
    pub fn candidate_files(
        &self,
        name: &str,
        text: &str,
        version: Option<&str>,
    ) -> Vec<RuleSource> {
        let mut files: Vec<RuleSource> = self
            .files
            .iter()
            .filter(|f| file_name(f) != name)
            .map(|f| RuleSource::new(file_name(f), f.text.clone()))
            .chain(std::iter::once(RuleSource::new(name, text)))
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        match version {
            Some(v) => with_version(&files, v),
            None => files,
        }
    }
}

/// One activation of a rule set, as the history lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activation {
    pub id: i64,
    pub version: String,
    pub previous_version: String,
    /// The rule file the analyst replaced or added.
    pub changed_file: String,
    pub activated_by: String,
    pub activated_at: DateTime<Utc>,
}

/// Where the rule set in use came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// The rule files given at start; `from` names them (the built-in pack or a `--rules` folder).
    Files { from: String },
    /// Activated by an analyst, and stored.
    Activated(Activation),
}

/// The rule set in use and where it came from.
pub struct ActiveRuleSet {
    pub rules: RuleSet,
    pub origin: Origin,
}

/// What [`ActiveRules::load_stored`] found in the store.
#[derive(Debug)]
pub enum Stored {
    /// No rule set was ever activated: the files given at start stay in use.
    NoneActivated,
    /// The newest activated rule set is now in use.
    Loaded(Activation),
    /// The newest activated rule set does not compile any more (e.g. a newer patroli validates
    /// more strictly, or the gazetteer changed): the files given at start stay in use.
    Unloadable {
        activation: Activation,
        error: RuleError,
    },
}

/// Why a candidate cannot be activated.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error(
        "the candidate has version {0}, the active rule set's version; give the candidate a new version"
    )]
    SameVersion(String),
    #[error(
        "version {version} was already activated on {at}; verdicts record the version, so give the candidate a new one"
    )]
    VersionUsed { version: String, at: DateTime<Utc> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rule set in use, shared by the pipeline and the dashboard; cheap to clone. Readers take
/// the current [`ActiveRuleSet`] (an `Arc`) and keep it for as long as they classify, so an
/// activation never changes the rules under a batch half-way.
#[derive(Clone)]
pub struct ActiveRules {
    current: Arc<RwLock<Arc<ActiveRuleSet>>>,
    gazetteer: Arc<Gazetteer>,
    detection: LanguageDetection,
    /// Held while activating, so two analysts activating at once cannot both pass the version
    /// check against the same active set.
    activating: Arc<tokio::sync::Mutex<()>>,
    /// The stored activation that did not compile here, so it is not compiled again on every
    /// look at the store (0: none).
    unloadable: Arc<AtomicI64>,
}

impl ActiveRules {
    /// Starts with the rule files given at start; `from` says where they are.
    pub fn from_files(
        files: Vec<RuleSource>,
        from: impl Into<String>,
        gazetteer: Gazetteer,
        detection: LanguageDetection,
    ) -> Result<ActiveRules, RuleError> {
        let rules = RuleSet::compile(files, &gazetteer, detection)?;
        Ok(ActiveRules {
            current: Arc::new(RwLock::new(Arc::new(ActiveRuleSet {
                rules,
                origin: Origin::Files { from: from.into() },
            }))),
            gazetteer: Arc::new(gazetteer),
            detection,
            activating: Arc::default(),
            unloadable: Arc::default(),
        })
    }

    /// The rule set in use now.
    pub fn current(&self) -> Arc<ActiveRuleSet> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The classifier in use now.
    pub fn classifier(&self) -> Arc<Classifier> {
        self.current().rules.classifier.clone()
    }

    fn replace(&self, set: ActiveRuleSet) -> Arc<ActiveRuleSet> {
        let set = Arc::new(set);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = set.clone();
        set
    }

    /// Compiles `files` with the gazetteer and settings of the rule set in use.
    pub fn compile(&self, files: Vec<RuleSource>) -> Result<RuleSet, RuleError> {
        RuleSet::compile(files, &self.gazetteer, self.detection)
    }

    /// Switches to the newest rule set activated in the store, if there is one and it compiles.
    pub async fn load_stored(&self, store: &Store) -> Result<Stored, StoreError> {
        let Some((activation, files)) = store.latest_rule_set().await? else {
            return Ok(Stored::NoneActivated);
        };
        match self.compile(files) {
            Ok(rules) => {
                self.replace(ActiveRuleSet {
                    rules,
                    origin: Origin::Activated(activation.clone()),
                });
                Ok(Stored::Loaded(activation))
            }
            Err(error) => Ok(Stored::Unloadable { activation, error }),
        }
    }

    /// Follows activations made by other processes sharing the store (another dashboard node,
    /// a crawl worker's dashboard): switches to the newest stored rule set when it is not the one
    /// in use. Returns the activation switched to, if any; one that does not compile here is
    /// logged once and left alone.
    pub async fn follow_store(&self, store: &Store) -> Result<Option<Activation>, StoreError> {
        let _one_at_a_time = self.activating.lock().await;
        let Some(latest) = store.latest_rule_set_id().await? else {
            return Ok(None);
        };
        let in_use = match &self.current().origin {
            Origin::Activated(a) => a.id,
            Origin::Files { .. } => 0,
        };
        if latest == in_use || latest == self.unloadable.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match self.load_stored(store).await? {
            Stored::Loaded(activation) => Ok(Some(activation)),
            Stored::Unloadable { activation, error } => {
                self.unloadable.store(activation.id, Ordering::Relaxed);
                tracing::error!(version = %activation.version, %error, "a rule set activated elsewhere does not load here; keeping the rules in use");
                Ok(None)
            }
            Stored::NoneActivated => Ok(None),
        }
    }

    /// Whether a candidate with `version` may be activated: it must differ from the active
    /// version and from every version activated before (verdicts record the version, so one
    /// version must always mean one set of rules).
    pub async fn check_version(&self, store: &Store, version: &str) -> Result<(), ActivationError> {
        if self.current().rules.version() == version {
            return Err(ActivationError::SameVersion(version.to_string()));
        }
        match store.rule_set_by_version(version).await? {
            Some(earlier) => Err(ActivationError::VersionUsed {
                version: version.to_string(),
                at: earlier.activated_at,
            }),
            None => Ok(()),
        }
    }

    /// Stores `candidate` with every file as the new active rule set, then puts it in use.
    /// `changed_file` is the file the analyst replaced or added; `by` who activated it.
    pub async fn activate(
        &self,
        store: &Store,
        candidate: RuleSet,
        changed_file: &str,
        by: &str,
    ) -> Result<Arc<ActiveRuleSet>, ActivationError> {
        let _one_at_a_time = self.activating.lock().await;
        self.check_version(store, candidate.version()).await?;
        let activation = store
            .save_rule_set(
                candidate.version(),
                self.current().rules.version(),
                changed_file,
                by,
                &candidate.files,
            )
            .await?;
        Ok(self.replace(ActiveRuleSet {
            rules: candidate,
            origin: Origin::Activated(activation),
        }))
    }
}

/// Corpus ids of officers' judgements are `lead-<post id>`.
const LEAD_ID_PREFIX: &str = "lead-";

/// The post a labelled item came from, when it is an officer's judgement on a lead.
pub fn corpus_post_id(id: &str) -> Option<i64> {
    id.strip_prefix(LEAD_ID_PREFIX)?.parse().ok()
}

const ACTIVATION_COLUMNS: &str =
    "id, version, previous_version, changed_file, activated_by, activated_at";

impl Store {
    /// Stores a rule set with every file as the newest activation, in one transaction.
    pub async fn save_rule_set(
        &self,
        version: &str,
        previous_version: &str,
        changed_file: &str,
        by: &str,
        files: &[RuleSource],
    ) -> Result<Activation, StoreError> {
        with_pool!(&self.pool, |pool| {
            let mut tx = pool.begin().await?;
            let activation: Activation = sqlx::query_as(&format!(
            "INSERT INTO rule_sets (version, previous_version, changed_file, activated_by, activated_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {ACTIVATION_COLUMNS}"
        ))
        .bind(version)
        .bind(previous_version)
        .bind(changed_file)
        .bind(by)
        .bind(Utc::now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("rule set version {version} was already activated"))
            }
            e => e.into(),
        })?;
            for f in files {
                sqlx::query(
                    "INSERT INTO rule_set_files (rule_set_id, name, text) VALUES ($1, $2, $3)",
                )
                .bind(activation.id)
                .bind(file_name(f))
                .bind(&f.text)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(activation)
        })
    }

    /// The id of the newest activation, if any (cheap: for following activations).
    pub async fn latest_rule_set_id(&self) -> Result<Option<i64>, StoreError> {
        with_pool!(&self.pool, |pool| Ok(sqlx::query_scalar(
            "SELECT MAX(id) FROM rule_sets"
        )
        .fetch_one(pool)
        .await?))
    }

    /// The newest activated rule set and its files (named by bare file name), if any.
    pub async fn latest_rule_set(
        &self,
    ) -> Result<Option<(Activation, Vec<RuleSource>)>, StoreError> {
        with_pool!(&self.pool, |pool| {
            let Some(activation): Option<Activation> = sqlx::query_as(&format!(
                "SELECT {ACTIVATION_COLUMNS} FROM rule_sets ORDER BY id DESC LIMIT 1"
            ))
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            let files: Vec<(String, String)> = sqlx::query_as(
                "SELECT name, text FROM rule_set_files WHERE rule_set_id = $1 ORDER BY name",
            )
            .bind(activation.id)
            .fetch_all(pool)
            .await?;
            let files = files
                .into_iter()
                .map(|(name, text)| RuleSource::new(name, text))
                .collect();
            Ok(Some((activation, files)))
        })
    }

    /// The activation of `version`, if it was ever activated.
    pub async fn rule_set_by_version(
        &self,
        version: &str,
    ) -> Result<Option<Activation>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(&format!(
                "SELECT {ACTIVATION_COLUMNS} FROM rule_sets WHERE version = $1"
            ))
            .bind(version)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every activation, newest first.
    pub async fn rule_set_history(&self) -> Result<Vec<Activation>, StoreError> {
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query_as(&format!(
                "SELECT {ACTIVATION_COLUMNS} FROM rule_sets ORDER BY id DESC"
            ))
            .fetch_all(pool)
            .await?)
        })
    }

    /// The officers' judgements ([`Store::labelled_posts`]) as labelled items with ids
    /// `lead-<post id>`, for `patroli rules corpus` and the dashboard's evaluation.
    pub async fn labelled_corpus(&self) -> Result<Vec<Labeled>, StoreError> {
        Ok(self
            .labelled_posts()
            .await?
            .into_iter()
            .map(|(id, text, label)| Labeled {
                id: format!("{LEAD_ID_PREFIX}{id}"),
                text,
                label: label.to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULESET: &str = "[ruleset]\nversion = \"v1\"  # recorded on verdicts\nflag_threshold = 0.5\n[ruleset.levels]\nlow = 0.2\nmedium = 0.5\nhigh = 0.75\n";

    fn route(weight: f64) -> String {
        format!(
            "[[indicator]]\nid = \"route.tikus\"\ncategory = \"route\"\nstatus = \"active\"\nweight = {weight}\ndescription = \"Jalan tikus\"\nkeywords = [\"jalan tikus\"]\n\n[[indicator]]\nid = \"route.lama\"\ncategory = \"route\"\nstatus = \"retired\"\nweight = 0.1\ndescription = \"Old\"\nkeywords = [\"x\"]\n"
        )
    }

    /// The pack as a `--rules` folder hands it over: files named by their paths.
    fn started() -> ActiveRules {
        ActiveRules::from_files(
            vec![
                RuleSource::new("/srv/rules/route.toml", route(0.3)),
                RuleSource::new("/srv/rules/ruleset.toml", RULESET),
            ],
            "/srv/rules",
            Gazetteer::default(),
            LanguageDetection::Off,
        )
        .unwrap()
    }

    use crate::testing::store;

    const TEXT: &str = "Berangkat lewat jalan tikus";

    #[test]
    fn candidates_replace_a_file_by_name_and_carry_their_version() {
        let rules = started();
        let current = rules.current();
        assert_eq!(current.rules.retired[0].id, "route.lama");
        let files = current
            .rules
            .candidate_files("route.toml", &route(0.6), Some("v2"));
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["route.toml", "ruleset.toml"]);
        assert!(
            files[1]
                .text
                .contains("version = \"v2\"  # recorded on verdicts")
        );
        let candidate = rules.compile(files).unwrap();
        assert_eq!(candidate.version(), "v2");
        assert!(candidate.classifier.classify(TEXT).flagged);
        assert!(!rules.classifier().classify(TEXT).flagged, "not active yet");

        let added = current.rules.candidate_files("zz.toml", "x = 1", None);
        assert_eq!(added.len(), 3);
        let e = rules.compile(added).err().unwrap();
        assert_eq!(e.location.file, "zz.toml");
    }

    #[tokio::test]
    async fn another_process_follows_an_activation() {
        let (_d, store) = store().await;
        let (here, there) = (started(), started());
        assert_eq!(
            there.follow_store(&store).await.unwrap().map(|a| a.id),
            None
        );
        let files = here
            .current()
            .rules
            .candidate_files("route.toml", &route(0.6), Some("v2"));
        here.activate(&store, here.compile(files).unwrap(), "route.toml", "ani")
            .await
            .unwrap();
        assert!(
            !there.classifier().classify(TEXT).flagged,
            "not followed yet"
        );
        let followed = there.follow_store(&store).await.unwrap().unwrap();
        assert_eq!(followed.version, "v2");
        assert_eq!(there.current().rules.version(), "v2");
        assert!(there.classifier().classify(TEXT).flagged);
        // Once followed, nothing more to do; nor for the process that activated.
        assert!(there.follow_store(&store).await.unwrap().is_none());
        assert!(here.follow_store(&store).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_activation_is_stored_used_at_once_and_loaded_at_the_next_start() {
        let (_d, store) = store().await;
        let rules = started();
        let before = rules.current();
        let files = before
            .rules
            .candidate_files("route.toml", &route(0.6), Some("v2"));
        let shared = rules.clone();
        let active = rules
            .activate(&store, rules.compile(files).unwrap(), "route.toml", "ani")
            .await
            .unwrap();
        let Origin::Activated(a) = &active.origin else {
            panic!("stored as an activation")
        };
        assert_eq!(
            (
                a.version.as_str(),
                a.previous_version.as_str(),
                a.changed_file.as_str()
            ),
            ("v2", "v1", "route.toml")
        );
        assert_eq!(
            &*shared.classifier().classify(TEXT).ruleset_version,
            "v2",
            "every clone of the handle sees the activation"
        );
        assert!(shared.classifier().classify(TEXT).flagged);
        assert_eq!(
            before.rules.version(),
            "v1",
            "readers keep the set they took"
        );

        // The next start: the files say v1, the store says v2.
        let restarted = started();
        let Stored::Loaded(a) = restarted.load_stored(&store).await.unwrap() else {
            panic!("the activated rule set loads")
        };
        assert_eq!(a.activated_by, "ani");
        let now = restarted.current();
        assert_eq!(now.rules.version(), "v2");
        assert!(now.rules.file("route.toml").unwrap().text.contains("0.6"));
        assert!(restarted.classifier().classify(TEXT).flagged);

        let history = store.rule_set_history().await.unwrap();
        assert_eq!(history.len(), 1);
        for sql in [
            "UPDATE rule_sets SET version = 'x'",
            "DELETE FROM rule_set_files",
        ] {
            let e = store.execute_raw(sql).await.unwrap_err();
            assert!(e.to_string().contains("history"), "{e}");
        }
    }

    #[tokio::test]
    async fn versions_are_never_reused() {
        let (_d, store) = store().await;
        let rules = started();
        let activate = |version: &'static str| {
            let rules = rules.clone();
            let store = store.clone();
            async move {
                let files =
                    rules
                        .current()
                        .rules
                        .candidate_files("route.toml", &route(0.6), Some(version));
                rules
                    .activate(&store, rules.compile(files).unwrap(), "route.toml", "ani")
                    .await
            }
        };
        assert!(matches!(
            activate("v1").await,
            Err(ActivationError::SameVersion(v)) if v == "v1"
        ));
        activate("v2").await.unwrap();
        activate("v3").await.unwrap();
        assert!(matches!(
            activate("v2").await,
            Err(ActivationError::VersionUsed { version, .. }) if version == "v2"
        ));
        assert_eq!(rules.current().rules.version(), "v3");
        let versions: Vec<String> = store
            .rule_set_history()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, ["v3", "v2"]);
    }

    #[tokio::test]
    async fn a_stored_set_that_no_longer_compiles_leaves_the_files_in_use() {
        let (_d, store) = store().await;
        store
            .save_rule_set(
                "v9",
                "v1",
                "route.toml",
                "ani",
                &[RuleSource::new("ruleset.toml", "[ruleset]\nversion = 1")],
            )
            .await
            .unwrap();
        let rules = started();
        assert!(matches!(
            rules.load_stored(&store).await.unwrap(),
            Stored::Unloadable { activation, .. } if activation.version == "v9"
        ));
        assert_eq!(rules.current().rules.version(), "v1");
        assert!(matches!(rules.current().origin, Origin::Files { .. }));
    }

    #[test]
    fn corpus_ids_name_their_lead() {
        assert_eq!(corpus_post_id("lead-12"), Some(12));
        assert_eq!(corpus_post_id("dev-0012"), None);
    }
}
