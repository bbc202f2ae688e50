//! `patroli`: the command line. One subcommand per job; the crates do the work.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use patroli::pipeline::Pipeline;
use patroli::sampleweb::SampleWeb;
use patroli::{analyst, explain, scheduler, seeds};
use patroli_classifier::{Classifier, LanguageDetection};
use patroli_crawler::Source;
use patroli_dashboard::{AppState, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, SourceSummary};
use patroli_index::{ActiveRules, SearchIndex, SearchRequest, Store, Stored};
use serde::Deserialize;

/// Folder of the search index inside the data directory.
const INDEX_DIR: &str = "index";

/// The allocator (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "patroli",
    version,
    about = "Cyber patrol for online recruitment into illegal overseas work (TPPO), aimed at West Kalimantan"
)]
struct Cli {
    /// Where the store (SQLite, unless --database-url) and the search index live.
    #[arg(long, global = true, default_value = "data", env = "PATROLI_DATA_DIR")]
    data_dir: PathBuf,
    /// A shared PostgreSQL store instead of the SQLite file in --data-dir, for several crawl
    /// workers and dashboard nodes: postgres://user:password@host/database. Each node keeps its
    /// own search index in --data-dir.
    #[arg(long, global = true, env = "PATROLI_DATABASE_URL")]
    database_url: Option<String>,
    /// Seconds a worker's lease on a source's run lasts unless renewed: how long a run whose
    /// worker died waits before another worker takes it over.
    #[arg(long, global = true, default_value_t = patroli::workers::DEFAULT_LEASE.as_secs(), env = "PATROLI_LEASE_SECS")]
    lease_secs: u64,
    /// Folder of rule files (*.toml); the built-in pack when omitted.
    #[arg(long, global = true)]
    rules: Option<PathBuf>,
    /// Gazetteer file; the built-in one when omitted.
    #[arg(long, global = true)]
    gazetteer: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sample web, crawl it, classify, index, and serve the dashboard.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Serve the bundled sample web alone (for trying sources and for benchmarks).
    SampleWeb {
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Extra job ads on the board, copies of the sample posts.
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Crawl configured sources, or one site, once.
    Crawl(CrawlArgs),
    /// Classify texts: JSON Lines in and out, or one plain text explained.
    Classify {
        /// JSON Lines file with {"id", "text"} per line ("-" or omitted: standard input).
        #[arg(long)]
        jsonl: Option<PathBuf>,
    },
    /// Search the index.
    Search {
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only flagged posts.
        #[arg(long)]
        flagged: bool,
        /// Only posts aimed at Kalbar.
        #[arg(long)]
        kalbar: bool,
        /// Only posts of this level: high, medium, low, none.
        #[arg(long, value_parser = ["high", "medium", "low", "none"])]
        level: Option<String>,
        /// Only posts from this source id.
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        filters: SearchFilters,
        /// Order: relevance, score or recent.
        #[arg(long, default_value = "relevance", value_parser = ["relevance", "score", "recent"])]
        sort: String,
        /// Skip this many results (paging).
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// One JSON object per result line.
        #[arg(long)]
        json: bool,
    },
    /// The daemon: every source with a schedule crawled on it, and the dashboard, in one process.
    Run {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Sources file.
        #[arg(long, default_value = "seeds/sources.toml")]
        sources: PathBuf,
        /// Mark cookies Secure (set when a TLS proxy is in front).
        #[arg(long)]
        secure_cookies: bool,
    },
    /// Recruiter networks: posts linked by shared phone numbers, chat links, handles or e-mails.
    Networks {
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Serve the dashboard (without scheduled crawling: see `run`).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Sources file, to list the sources and their schedules on the operator page (without
        /// it the page lists the sources the store has seen).
        #[arg(long)]
        sources: Option<PathBuf>,
        /// Mark cookies Secure (set when a TLS proxy is in front).
        #[arg(long)]
        secure_cookies: bool,
        /// Facet counts of recent searches kept in memory, per index segment (a few kilobytes
        /// each); 0 counts every search's facets again.
        #[arg(long, default_value_t = patroli_index::FACET_CACHE_ENTRIES)]
        facet_cache: usize,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Evidence bundles.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Manage the search index.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Work with the rule pack.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Apply the active rule set (the last one activated in the dashboard, else --rules or the
    /// built-in pack) to every stored post.
    Reclassify,
    /// Write a consistent copy of the store (posts, evidence, verdicts, users, audit log) to a
    /// new file while patroli keeps running. The search index needs no backup: it is rebuilt
    /// from the store.
    Backup {
        /// The new file (restore: put it in a data folder as patroli.db).
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks that print their figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Ingest synthetic posts into the store and the index and into SQLite FTS5, then time
    /// representative queries on both (the index benchmark of BENCHMARKS.md).
    Search {
        /// Posts to generate.
        #[arg(long, default_value_t = 1_000_000)]
        posts: usize,
        /// Working folder (emptied first unless --reuse): the store, the index and the FTS5
        /// database.
        #[arg(long, default_value = "target/bench-search")]
        dir: PathBuf,
        /// Times each query runs on each engine.
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        /// Seed of the post generator (the same seed gives the same posts).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Only time the queries, on the store, index and FTS5 database an earlier run left in
        /// --dir (to compare search changes without ingesting again).
        #[arg(long)]
        reuse: bool,
    },
    /// The store on SQLite and on PostgreSQL, side by side on the same synthetic posts: ingest,
    /// indexing from the store, lead-page reads and lead changes.
    Backends {
        /// Posts to generate.
        #[arg(long, default_value_t = 100_000)]
        posts: usize,
        /// An empty PostgreSQL database: postgres://user:password@host/database.
        #[arg(long)]
        postgres: String,
        /// Working folder (emptied first): the SQLite store and both search indexes.
        #[arg(long, default_value = "target/bench-backends")]
        dir: PathBuf,
        /// Lead pages read, and lead changes made, on each backend.
        #[arg(long, default_value_t = 2_000)]
        reads: usize,
        /// Seed of the post generator.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

/// Search filters beyond level, source and Kalbar.
#[derive(Args)]
struct SearchFilters {
    /// Only posts naming this destination country, e.g. Malaysia.
    #[arg(long)]
    destination: Option<String>,
    /// Only posts naming a place in this Kalbar regency or city, e.g. Sambas.
    #[arg(long)]
    place: Option<String>,
    /// Only posts in this language bucket.
    #[arg(long, value_parser = patroli_index::LANGUAGES)]
    language: Option<String>,
    /// Only posts on which this indicator fired, e.g. route.jalan_tikus.
    #[arg(long)]
    indicator: Option<String>,
    /// Only leads in this state: new, in_review, escalated, closed.
    #[arg(long, value_parser = ["new", "in_review", "escalated", "closed"])]
    lead: Option<String>,
    /// Only posts dated on or after this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day)]
    from: Option<chrono::NaiveDate>,
    /// Only posts dated on or before this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day)]
    to: Option<chrono::NaiveDate>,
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    patroli_index::parse_date(s).map_err(|e| e.to_string())
}

#[derive(Args)]
struct CrawlArgs {
    /// Run once now (scheduled runs come with `patroli run`).
    #[arg(long, required = true)]
    once: bool,
    /// Sources file.
    #[arg(long, default_value = "seeds/sources.toml", conflicts_with = "url")]
    sources: PathBuf,
    /// Only this source of the sources file.
    #[arg(long, conflicts_with = "url")]
    source: Option<String>,
    /// Crawl one site ad hoc, staying on its host, at most one request per second.
    #[arg(long)]
    url: Option<url::Url>,
    /// With --url: pages to fetch at most.
    #[arg(long, default_value_t = 50, requires = "url")]
    max_pages: usize,
    /// With --url: allow loopback and private addresses (refused otherwise).
    #[arg(long, requires = "url")]
    allow_private: bool,
    /// Store nothing: print the posts found as JSON Lines (to try a new source).
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from standard input (the only way, so it never shows in `ps`).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Create an API token for a machine client acting as this user (printed once); or list
    /// the user's tokens, or revoke one.
    Token {
        name: String,
        /// What the token is for, e.g. the client system's name.
        #[arg(long, default_value = "", conflicts_with_all = ["revoke", "list"])]
        label: String,
        /// Revoke the token with this id (see --list); it stops working at once.
        #[arg(long, conflicts_with = "list")]
        revoke: Option<i64>,
        /// List the user's tokens: id, label, created, last used, revoked.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    Officer,
    Analyst,
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Write the evidence bundle of posts to a ZIP file.
    Export {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a bundle against its manifest and say exactly what, if anything, does not match.
    Verify { file: PathBuf },
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Recreate the search index from the store.
    Rebuild,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Run every example in the rule files.
    Test,
    /// Explain the verdict on a text (argument or standard input).
    Explain { text: Option<String> },
    /// Compare two rule folders over the stored posts: which posts change flag or level.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Examples shown per kind of change.
        #[arg(long, default_value_t = 10)]
        examples: usize,
        #[arg(long)]
        json: bool,
    },
    /// Write the officers' judgements (escalated or case opened: illegal_recruitment; false
    /// positive: not_illegal) as a labelled corpus for `rules eval`.
    Corpus {
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure the rule set on a labelled corpus (JSON Lines {"id","text","label"}).
    Eval {
        #[arg(long)]
        labeled: PathBuf,
        /// The whole report as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tantivy=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Ctx {
    data_dir: PathBuf,
    database_url: Option<String>,
    lease: Duration,
    rules: Option<PathBuf>,
    gazetteer: Option<PathBuf>,
}

impl Ctx {
    /// The rule files' classifier, for the commands that judge texts without the store.
    fn classifier(&self) -> anyhow::Result<Arc<Classifier>> {
        seeds::classifier(
            self.rules.as_deref(),
            self.gazetteer.as_deref(),
            LanguageDetection::On,
        )
    }

    /// The store, and the rule set the store-backed jobs use: the one analysts last activated
    /// in the dashboard, so a restart never silently undoes an activation; the rule files
    /// (--rules or the built-in pack) until one is activated. The files are compiled first, so
    /// a broken --rules folder fails before the store is touched.
    async fn store_and_rules(&self) -> anyhow::Result<(Store, ActiveRules)> {
        let rules = seeds::active_rules(
            self.rules.as_deref(),
            self.gazetteer.as_deref(),
            LanguageDetection::On,
        )?;
        let store = self.store().await?;
        match rules.load_stored(&store).await? {
            Stored::NoneActivated => {}
            Stored::Loaded(a) => {
                tracing::info!(version = %a.version, by = %a.activated_by, at = %a.activated_at, "using the rule set activated in the dashboard");
                if let Some(dir) = &self.rules {
                    tracing::warn!(rules = %dir.display(), version = %a.version, "--rules is not used: a rule set activated in the dashboard is in the store");
                }
            }
            Stored::Unloadable { activation, error } => {
                tracing::error!(version = %activation.version, by = %activation.activated_by, %error, "the rule set activated in the dashboard no longer loads; using the rule files until an analyst activates a corrected one");
            }
        }
        Ok((store, rules))
    }

    async fn store(&self) -> anyhow::Result<Store> {
        let Some(url) = &self.database_url else {
            return Ok(Store::open(&self.data_dir).await?);
        };
        // A database server still starting (or restarting) is waited for, with backoff, for
        // about a minute; anything else fails at once.
        let mut wait = Duration::from_millis(500);
        loop {
            match Store::connect(url).await {
                Err(e) if e.is_unavailable() && wait < Duration::from_secs(30) => {
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "the database cannot be reached yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                result => return Ok(result?),
            }
        }
    }

    fn index(&self) -> anyhow::Result<Arc<SearchIndex>> {
        self.open_index(patroli_index::FACET_CACHE_ENTRIES)
    }

    /// The search index, keeping `facet_cache` per-segment facet counts.
    fn open_index(&self, facet_cache: usize) -> anyhow::Result<Arc<SearchIndex>> {
        let analysis = seeds::analysis(self.rules.as_deref())?;
        Ok(Arc::new(
            SearchIndex::open(&self.data_dir.join(INDEX_DIR), &analysis)?
                .with_facet_cache(facet_cache),
        ))
    }

    async fn pipeline(&self) -> anyhow::Result<Pipeline> {
        let (store, rules) = self.store_and_rules().await?;
        Ok(Pipeline {
            rules,
            store,
            index: self.index()?,
            fetch: Default::default(),
            lease: self.lease,
            progress: None,
        })
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let ctx = Ctx {
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        lease: Duration::from_secs(cli.lease_secs.max(1)),
        rules: cli.rules,
        gazetteer: cli.gazetteer,
    };
    match cli.command {
        Command::Demo { addr } => demo(&ctx, addr).await?,
        Command::SampleWeb { addr, jobs } => {
            let web = SampleWeb::start_with(addr, jobs).await?;
            println!("sample web: {}", web.base_url());
            std::io::stdout().flush()?;
            tokio::signal::ctrl_c().await?;
        }
        Command::Crawl(args) => crawl(&ctx, args).await?,
        Command::Classify { jsonl } => return classify(&ctx, jsonl.as_deref()),
        Command::Search {
            query,
            limit,
            flagged,
            kalbar,
            level,
            source,
            filters,
            sort,
            offset,
            json,
        } => {
            let request = SearchRequest {
                query,
                limit,
                offset,
                flagged_only: flagged,
                kalbar_only: kalbar,
                level,
                source,
                destination: filters.destination,
                place: filters.place,
                language: filters.language,
                indicator: filters.indicator,
                lead_status: filters
                    .lead
                    .as_deref()
                    .and_then(patroli_index::LeadStatus::parse),
                from: filters.from,
                to: filters.to,
                sort: patroli_index::Sort::parse(&sort).unwrap_or_default(),
            };
            search(&ctx, &request, json).await?
        }
        Command::Serve {
            addr,
            sources,
            secure_cookies,
            facet_cache,
        } => {
            let (store, rules) = ctx.store_and_rules().await?;
            let index = ctx.open_index(facet_cache)?;
            let mut state = dashboard(store, index, rules, secure_cookies)?;
            if let Some(file) = sources {
                state = state.with_sources(source_summaries(&seeds::sources_file(&file)?));
            }
            serve(state, addr, None).await?;
        }
        Command::Run {
            addr,
            sources,
            secure_cookies,
        } => {
            let sources = seeds::sources_file(&sources)?;
            let pipeline = ctx.pipeline().await?;
            let (requests, requested) = tokio::sync::mpsc::channel(scheduler::REQUEST_QUEUE);
            // One rule-set handle for both: an activation in the dashboard applies to the next
            // scheduled crawl.
            let state = dashboard(
                pipeline.store.clone(),
                pipeline.index.clone(),
                pipeline.rules.clone(),
                secure_cookies,
            )?
            .with_sources(source_summaries(&sources))
            .with_scheduler(requests);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let scheduler = tokio::spawn(scheduler::run(pipeline, sources, requested, async {
                let _ = stopped.await;
            }));
            let served = serve(state, addr, Some("scheduled crawling is on".into())).await;
            let _ = stop.send(());
            scheduler.await??;
            served?;
        }
        Command::User(UserCommand::Add { name, role, .. }) => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.chars().count()) {
                bail!("the password must have {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters");
            }
            let hash = patroli_dashboard::hash_password(password)
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            let store = ctx.store().await?;
            store.add_user(&name, role.as_str(), &hash).await?;
            store
                .audit("cli", "user_add", Some(&name), Some(role.as_str()), None)
                .await?;
            println!("user {name} added with role {}", role.as_str());
        }
        Command::User(UserCommand::Token {
            name,
            label,
            revoke,
            list,
        }) => user_token(&ctx, &name, &label, revoke, list).await?,
        Command::Backup { out } => {
            ctx.store().await?.backup_to(&out).await?;
            println!(
                "backed up the store to {} ({} bytes); restore it as DATA_DIR/{}",
                out.display(),
                std::fs::metadata(&out)?.len(),
                patroli_index::DB_FILE
            );
        }
        Command::Networks { limit, json } => {
            let store = ctx.store().await?;
            let networks = store.largest_networks(limit).await?;
            store.audit("cli", "networks", None, None, None).await?;
            let mut out = std::io::stdout().lock();
            for n in &networks {
                if json {
                    serde_json::to_writer(&mut out, n)?;
                    writeln!(out)?;
                    continue;
                }
                let ids: Vec<String> = n
                    .identifiers
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                writeln!(
                    out,
                    "{} posts {:?}, seen {} to {}\n  shared: {}",
                    n.posts.len(),
                    n.posts,
                    n.first_seen.format("%Y-%m-%d"),
                    n.last_seen.format("%Y-%m-%d"),
                    ids.join(", ")
                )?;
            }
            if networks.is_empty() && !json {
                writeln!(out, "no two posts share a contact")?;
            }
        }
        Command::Evidence(EvidenceCommand::Export { ids, out }) => {
            let store = ctx.store().await?;
            let zip = patroli_index::evidence::bundle(&store, &ids, "cli").await?;
            std::fs::write(&out, &zip)
                .with_context(|| format!("cannot write {}", out.display()))?;
            store
                .audit(
                    "cli",
                    "export_evidence",
                    Some(&format!("{ids:?}")),
                    Some(&out.display().to_string()),
                    None,
                )
                .await?;
            println!("wrote {} ({} bytes)", out.display(), zip.len());
        }
        Command::Evidence(EvidenceCommand::Verify { file }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let v = patroli_index::evidence::verify(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for (what, list) in [
                ("changed since export (SHA-256 differs)", &v.mismatched),
                ("listed in the manifest but missing", &v.missing),
                ("present but not in the manifest", &v.unlisted),
                (
                    "snapshot hash differs between post and file list",
                    &v.inconsistent,
                ),
            ] {
                for name in list {
                    println!("{what}: {name}");
                }
            }
            if v.intact() {
                println!(
                    "intact: {} files match their SHA-256 in the manifest",
                    v.files_checked
                );
            } else {
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
        Command::Bench(BenchCommand::Search {
            posts,
            dir,
            rounds,
            seed,
            reuse,
        }) => {
            patroli::bench::run(patroli::bench::Options {
                posts,
                dir,
                rounds,
                seed,
                reuse,
            })
            .await?
        }
        Command::Bench(BenchCommand::Backends {
            posts,
            postgres,
            dir,
            reads,
            seed,
        }) => {
            patroli::bench::backends(patroli::bench::BackendOptions {
                posts,
                dir,
                postgres,
                reads,
                seed,
            })
            .await?
        }
        Command::Index(IndexCommand::Rebuild) => {
            let store = ctx.store().await?;
            let n = ctx.index()?.rebuild(&store).await?;
            println!("rebuilt the search index from the store: {n} posts");
        }
        Command::Rules(RulesCommand::Test) => return rules_test(&ctx),
        Command::Rules(RulesCommand::Corpus { out }) => {
            let store = ctx.store().await?;
            let mut lines = String::new();
            let labelled = store.labelled_corpus().await?;
            for item in &labelled {
                lines.push_str(
                    &serde_json::json!({ "id": item.id, "text": item.text, "label": item.label })
                        .to_string(),
                );
                lines.push('\n');
            }
            std::fs::write(&out, lines)
                .with_context(|| format!("cannot write {}", out.display()))?;
            store
                .audit(
                    "cli",
                    "corpus_export",
                    None,
                    Some(&out.display().to_string()),
                    None,
                )
                .await?;
            println!(
                "wrote {} labelled posts to {}",
                labelled.len(),
                out.display()
            );
        }
        Command::Rules(RulesCommand::Diff {
            old,
            new,
            examples,
            json,
        }) => {
            let store = ctx.store().await?;
            let load = |dir: &Path| {
                seeds::classifier(Some(dir), ctx.gazetteer.as_deref(), LanguageDetection::On)
            };
            let d = patroli_index::diff(&store, load(&old)?, load(&new)?).await?;
            print_diff(&d, examples, json)?;
        }
        Command::Reclassify => {
            let pipeline = ctx.pipeline().await?;
            let classifier = pipeline.rules.classifier();
            let n = analyst::reclassify(&pipeline.store, &pipeline.index, &classifier).await?;
            let version = classifier.version();
            pipeline
                .store
                .audit(
                    "cli",
                    "reclassify",
                    None,
                    Some(&format!("rule set {version}, {n} posts")),
                    None,
                )
                .await?;
            println!("reclassified {n} posts with rule set {version}");
        }
        Command::Rules(RulesCommand::Eval { labeled, json }) => rules_eval(&ctx, &labeled, json)?,
        Command::Rules(RulesCommand::Explain { text }) => {
            let text = match text {
                Some(t) => t,
                None => read_stdin()?,
            };
            print!(
                "{}",
                explain::render(
                    &text,
                    &ctx.classifier()?.classify(&text),
                    std::io::stdout().is_terminal()
                )
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read standard input as UTF-8 text")?;
    Ok(s)
}

/// What the operator page shows of each configured source.
fn source_summaries(sources: &[Source]) -> Vec<SourceSummary> {
    sources
        .iter()
        .map(|s| SourceSummary {
            id: s.id.clone(),
            kind: s.kind.as_str().to_string(),
            schedule: s.schedule.clone(),
        })
        .collect()
}

/// The dashboard's state, with the bundled development corpus for evaluations.
fn dashboard(
    store: Store,
    index: Arc<SearchIndex>,
    rules: ActiveRules,
    secure_cookies: bool,
) -> anyhow::Result<AppState> {
    let corpus = seeds::labelled("(built in) seeds/corpus/dev.jsonl", seeds::DEV_CORPUS)?;
    Ok(AppState::new(store, index, rules, secure_cookies).with_corpus(corpus))
}

async fn serve(state: AppState, addr: SocketAddr, banner: Option<String>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is another program using it? Pass --addr 127.0.0.1:0 for any free port"))?;
    let bound = listener.local_addr()?;
    println!("dashboard: http://{bound}/login");
    if let Some(b) = banner {
        println!("{b}");
    }
    let behind = state.store.change_seq().await? - state.index.watermark();
    if behind > 0 {
        println!("search index: catching up with the store in the background ({behind} changes)");
    }
    println!("press Ctrl-C to stop");
    std::io::stdout().flush()?;
    // The feeder keeps this node's index in step with the store (this process's crawls nudge
    // it; changes from elsewhere are polled).
    let (stop_feeder, feeder_stopped) = tokio::sync::oneshot::channel::<()>();
    let feeder = tokio::spawn(patroli_index::feed(
        state.index.clone(),
        state.store.clone(),
        async {
            let _ = feeder_stopped.await;
        },
    ));
    let follower = tokio::spawn(follow_activations(state.rules.clone(), state.store.clone()));
    let served = patroli_dashboard::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    follower.abort();
    let _ = stop_feeder.send(());
    feeder.await?;
    served?;
    println!("stopped");
    Ok(())
}

/// How often a long-running process looks for rule sets activated by another process.
const ACTIVATION_POLL: Duration = Duration::from_secs(5);

/// Keeps this process on the rule set analysts last activated, wherever they activated it
/// (another dashboard node on the same store): the next batch classified here, and the rule
/// pages, use it within seconds.
async fn follow_activations(rules: ActiveRules, store: Store) {
    loop {
        tokio::time::sleep(ACTIVATION_POLL).await;
        match rules.follow_store(&store).await {
            Ok(Some(a)) => {
                tracing::info!(version = %a.version, by = %a.activated_by, "switched to the rule set activated elsewhere")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look for rule sets activated elsewhere"),
        }
    }
}

/// `patroli user token`: a new token printed once (the store keeps only its hash), the user's
/// tokens listed, or one revoked. Each is audited with the CLI as actor.
async fn user_token(
    ctx: &Ctx,
    name: &str,
    label: &str,
    revoke: Option<i64>,
    list: bool,
) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    if list {
        let tokens = store.api_tokens(name).await?;
        store
            .audit("cli", "api_token_list", Some(name), None, None)
            .await?;
        let when = |d: Option<chrono::DateTime<chrono::Utc>>| {
            d.map_or("-".to_string(), |d| {
                d.format("%Y-%m-%d %H:%M UTC").to_string()
            })
        };
        for t in &tokens {
            println!(
                "{}\t{}\tcreated {}\tlast used {}\t{}",
                t.id,
                t.label,
                when(Some(t.created_at)),
                when(t.last_used_at),
                t.revoked_at.map_or("live".to_string(), |_| format!(
                    "revoked {}",
                    when(t.revoked_at)
                ))
            );
        }
        if tokens.is_empty() {
            println!("{name} has no API tokens");
        }
        return Ok(());
    }
    if let Some(id) = revoke {
        store.revoke_api_token(name, id).await?;
        store
            .audit(
                "cli",
                "api_token_revoke",
                Some(name),
                Some(&format!("token {id}")),
                None,
            )
            .await?;
        println!("API token {id} of {name} revoked");
        return Ok(());
    }
    let token = patroli_dashboard::new_api_token();
    let id = store.create_api_token(name, &token, label).await?;
    store
        .audit(
            "cli",
            "api_token_create",
            Some(name),
            Some(&format!("token {id} {label:?}")),
            None,
        )
        .await?;
    eprintln!(
        "API token {id} for {name}: it acts with {name}'s role; it is shown only now, so store it \
         in the client's secret store (send it as `Authorization: Bearer <token>`)"
    );
    println!("{token}");
    Ok(())
}

async fn demo(ctx: &Ctx, addr: SocketAddr) -> anyhow::Result<()> {
    let web = SampleWeb::start().await?;
    println!("sample web: {}", web.base_url());
    let pipeline = ctx.pipeline().await?;
    let sources = seeds::demo_sources(&web.base_url())?;
    let summaries = source_summaries(&sources);
    let report = pipeline.crawl(sources).await?;
    let flagged = pipeline.index.search(&SearchRequest {
        flagged_only: true,
        limit: 1,
        ..Default::default()
    })?;
    println!(
        "crawled: {} new posts, {} seen again, {} URLs skipped as robots.txt asks, {} failed URLs; {} posts flagged for review",
        report.posts_new(),
        report.posts_seen(),
        report.robots_skipped(),
        report.errors(),
        flagged.total
    );
    let password = patroli_dashboard::random_token()[..20].to_string();
    let hash = patroli_dashboard::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    match pipeline.store.add_user("demo", "officer", &hash).await {
        Ok(_) => {}
        Err(patroli_index::StoreError::Conflict(_)) => {
            pipeline.store.set_password("demo", &hash).await?
        }
        Err(e) => return Err(e.into()),
    }
    let state = dashboard(
        pipeline.store.clone(),
        pipeline.index.clone(),
        pipeline.rules.clone(),
        false,
    )?
    .with_sources(summaries);
    serve(
        state,
        addr,
        Some(format!(
            "demo login: user `demo`, password `{password}` (new each run)"
        )),
    )
    .await
}

async fn crawl(ctx: &Ctx, args: CrawlArgs) -> anyhow::Result<()> {
    let sources = match &args.url {
        Some(url) => vec![adhoc_source(url, args.max_pages, args.allow_private)?],
        None => {
            let mut sources = seeds::sources_file(&args.sources)?;
            if let Some(id) = &args.source {
                sources.retain(|s| &s.id == id);
                if sources.is_empty() {
                    bail!("{} has no source `{id}`", args.sources.display());
                }
            }
            sources
        }
    };
    if args.dry_run {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let summaries = patroli::pipeline::collect_only(sources, Default::default(), |p| {
            serde_json::to_writer(&mut out, p)?;
            out.write_all(b"\n")
        })
        .await?;
        out.flush()?;
        for s in summaries {
            eprintln!(
                "{}: {} pages, {} posts, errors {:?}",
                s.source_id, s.pages, s.posts, s.errors
            );
        }
        return Ok(());
    }
    let mut pipeline = ctx.pipeline().await?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    if let Some(bar) = bar.clone() {
        pipeline.progress = Some(Arc::new(move |p: &patroli::pipeline::Progress| {
            bar.set_message(format!(
                "{} of {} pages, {} posts",
                p.pages, p.queued, p.posts
            ));
        }));
    }
    let report = pipeline.crawl(sources).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for r in &report.runs {
        println!(
            "{}: {} pages, {} new posts, {} seen again, errors {:?}, {}",
            r.source_id, r.pages, r.posts_new, r.posts_seen, r.errors, r.status
        );
        for (url, what) in &r.failures {
            println!("  {url}: {what}");
        }
    }
    Ok(())
}

/// An ad-hoc generic source for `crawl --once --url`: its host only, one request per second.
fn adhoc_source(url: &url::Url, max_pages: usize, allow_private: bool) -> anyhow::Result<Source> {
    let host = url
        .host_str()
        .with_context(|| format!("{url} has no host"))?;
    let toml = format!(
        "[[source]]\nid = \"adhoc\"\nkind = \"generic\"\nstart_urls = [{url:?}]\nallowed_hosts = [{host:?}]\nrate_per_minute = 60\nburst = 1\nmax_pages = {max_pages}\nmax_depth = 3\nallow_private = {allow_private}\nlegal_basis = \"Ad-hoc crawl started by an operator from the command line\"\n",
        url = url.as_str(),
    );
    let mut sources = patroli_crawler::parse_sources("--url", &toml)?;
    Ok(sources.remove(0))
}

#[derive(Deserialize)]
struct ClassifyLine {
    id: serde_json::Value,
    text: String,
}

fn classify(ctx: &Ctx, jsonl: Option<&Path>) -> anyhow::Result<std::process::ExitCode> {
    let classifier = ctx.classifier()?;
    let input: Box<dyn BufRead> = match jsonl {
        Some(p) if p != Path::new("-") => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        Some(_) => Box::new(std::io::stdin().lock()),
        None => {
            let text = read_stdin()?;
            print!(
                "{}",
                explain::render(
                    &text,
                    &classifier.classify(&text),
                    std::io::stdout().is_terminal()
                )
            );
            return Ok(std::process::ExitCode::SUCCESS);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut bad = 0usize;
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: cannot read", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let item: ClassifyLine = match serde_json::from_str(&line) {
            Ok(i) => i,
            Err(e) => {
                eprintln!(
                    "line {}: skipped: {e}; each line must be a JSON object with \"id\" and \"text\"",
                    n + 1
                );
                bad += 1;
                continue;
            }
        };
        let v = classifier.classify(&item.text);
        let mut obj = serde_json::to_value(&v)?;
        obj["id"] = item.id;
        serde_json::to_writer(&mut out, &obj)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if bad > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

async fn search(ctx: &Ctx, request: &SearchRequest, json: bool) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let index = ctx.index()?;
    let results = index.search(request)?;
    let query = &request.query;
    let flagged = request.flagged_only;
    store
        .audit(
            "cli",
            "search",
            None,
            Some(&format!("q={query:?} flagged={flagged}")),
            None,
        )
        .await?;
    let mut out = std::io::stdout().lock();
    if json {
        for h in &results.hits {
            writeln!(out, "{}", serde_json::to_string(h)?)?;
        }
    } else {
        if let Some(c) = &results.corrected {
            writeln!(out, "nothing matched {query:?}; showing results for {c:?}")?;
        }
        writeln!(out, "{} results", results.total)?;
        let f = &results.facets;
        for (name, counts) in [
            ("levels", &f.levels),
            ("destinations", &f.destinations),
            ("Kalbar places", &f.places),
            ("lead status", &f.lead_statuses),
            ("indicators", &f.indicators),
        ] {
            let counts: Vec<String> = counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            if !counts.is_empty() {
                writeln!(out, "  {name}: {}", counts.join(", "))?;
            }
        }
        for h in &results.hits {
            let date = h
                .date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "\n#{} [{} {:.2}] [{}] {} {}\n  {}\n  {}",
                h.id,
                h.level,
                h.score,
                h.lead_status,
                date,
                h.title,
                h.url,
                h.snippet.text.replace('\n', " ")
            )?;
        }
    }
    Ok(())
}

fn rules_test(ctx: &Ctx) -> anyhow::Result<std::process::ExitCode> {
    let classifier = ctx.classifier()?;
    let report = classifier.test_examples();
    for f in &report.failures {
        println!(
            "FAIL {} ({}): should {}match: {:?}",
            f.indicator,
            f.location,
            if f.expected_match { "" } else { "not " },
            f.text
        );
    }
    if !report.without_examples.is_empty() {
        println!(
            "indicators missing match or no_match examples: {}",
            report.without_examples.join(", ")
        );
    }
    let passed = report.checked - report.failures.len();
    println!(
        "rules: {} indicators, rule set {}; examples: {passed} passed, {} failed",
        classifier.indicators().len(),
        classifier.version(),
        report.failures.len()
    );
    Ok(if report.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

fn rules_eval(ctx: &Ctx, path: &Path, json: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let items = seeds::labelled(&path.display().to_string(), &text)?;
    let classifier = ctx.classifier()?;
    let report = patroli_classifier::evaluate(&classifier, &items);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let c = report.confusion;
    writeln!(
        out,
        "rule set {} on {} ({} texts)",
        report.ruleset_version,
        path.display(),
        report.total
    )?;
    writeln!(
        out,
        "precision {:.3}  recall {:.3}  F1 {:.3}",
        report.precision, report.recall, report.f1
    )?;
    writeln!(
        out,
        "confusion: TP {}  FP {}  TN {}  FN {}",
        c.true_positive, c.false_positive, c.true_negative, c.false_negative
    )?;
    writeln!(out, "\nflagged per label:")?;
    for (label, (flagged, total)) in &report.by_label {
        writeln!(out, "  {label:<22} {flagged:>4} / {total}")?;
    }
    let mut inds: Vec<_> = report.indicators.iter().collect();
    inds.sort_by(|a, b| b.1.hits.cmp(&a.1.hits).then(a.0.cmp(b.0)));
    writeln!(
        out,
        "\nindicators (hits, of which on positives, precision):"
    )?;
    for (id, s) in inds {
        writeln!(
            out,
            "  {id:<40} {:>4} {:>4}  {:.2}",
            s.hits, s.on_positive, s.precision
        )?;
    }
    for (title, misses) in [
        ("false positives", &report.false_positives),
        ("false negatives", &report.false_negatives),
    ] {
        writeln!(out, "\n{title} ({}):", misses.len())?;
        for m in misses {
            let fired: Vec<String> = m
                .verdict
                .indicators
                .iter()
                .map(|i| format!("{}{:+.2}", i.id, i.weight))
                .collect();
            let preview: String = m
                .text
                .chars()
                .take(140)
                .collect::<String>()
                .replace('\n', " ");
            writeln!(
                out,
                "  {} [{}] score {:.2}: {}\n      {}",
                m.id,
                m.label,
                m.verdict.score,
                fired.join(" "),
                preview
            )?;
        }
    }
    Ok(())
}

fn print_diff(d: &patroli_index::RuleDiff, examples: usize, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, d)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "rule set {} → {} over {} stored posts",
        d.old_version, d.new_version, d.posts
    )?;
    writeln!(
        out,
        "newly flagged {}, no longer flagged {}, level changed (flag unchanged) {}",
        d.newly_flagged.len(),
        d.no_longer_flagged.len(),
        d.level_changed.len()
    )?;
    writeln!(out, "\nlevels (old → new: count):")?;
    for (from, tos) in &d.level_moves {
        for (to, n) in tos {
            writeln!(out, "  {from:>6} → {to:<6} {n}")?;
        }
    }
    for (name, list) in [
        ("newly flagged", &d.newly_flagged),
        ("no longer flagged", &d.no_longer_flagged),
        ("level changed", &d.level_changed),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{name} (first {}):", examples.min(list.len()))?;
        for c in list.iter().take(examples) {
            writeln!(
                out,
                "  #{} {:.2} {} → {:.2} {}  {}\n      +[{}] -[{}]",
                c.id,
                c.old_score,
                c.old_level.as_str(),
                c.new_score,
                c.new_level.as_str(),
                c.title,
                c.added.join(" "),
                c.removed.join(" ")
            )?;
        }
    }
    Ok(())
}
