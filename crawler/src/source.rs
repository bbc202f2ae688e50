//! Sources as data: what to crawl, how, and how politely (`seeds/sources/*.toml`).

use std::str::FromStr;

use serde::Deserialize;
use url::Url;

/// One configured source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Stable identifier, recorded on every post and run.
    pub id: String,
    pub kind: SourceKind,
    pub start_urls: Vec<Url>,
    /// Hosts the crawler may fetch for this source; defaults to the hosts of `start_urls`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Cron expression (seconds first) for scheduled runs.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Requests per minute per host. The slowest rate configured for a host, or asked by its
    /// robots.txt Crawl-delay, wins.
    #[serde(default = "default_rate")]
    pub rate_per_minute: u32,
    /// Requests that may go out back to back before the rate applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Fetches of this source in flight at once (the per-host rate still applies).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Pages fetched per run at most (a bound on spider traps).
    #[serde(default = "default_max_pages")]
    pub max_pages: usize,
    /// Link depth from a start URL at most.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Overrides the crawler's User-Agent for this source.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Why collecting this source is lawful; shown on every lead from it.
    pub legal_basis: String,
    /// Lets this source reach loopback and private addresses (only for test and demo sites).
    #[serde(default)]
    pub allow_private: bool,
    /// CSS selectors for `html_listing` and `jobposting` sources.
    #[serde(default)]
    pub selectors: Selectors,
}

/// The kinds of source the crawler understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A listing page whose posts are read with CSS selectors, with a next-page link.
    HtmlListing,
    /// Listing pages linking to detail pages that carry schema.org `JobPosting` JSON-LD.
    Jobposting,
    /// An RSS 2.0 or Atom feed.
    Feed,
    /// A public Telegram channel preview (`t.me/s/<channel>`), paged with `?before=`.
    Telegram,
    /// An XML sitemap (or sitemap index); each listed page is read for `JobPosting` JSON-LD, else
    /// for its readable text.
    Sitemap,
    /// A whole site within its hosts: links are followed, and each page with enough readable
    /// text (or `JobPosting` JSON-LD) is a post.
    Generic,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HtmlListing => "html_listing",
            SourceKind::Jobposting => "jobposting",
            SourceKind::Feed => "feed",
            SourceKind::Telegram => "telegram",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Generic => "generic",
        }
    }
}

/// CSS selectors. For `html_listing`, `post` selects each post and the others are looked up
/// inside it; `next` selects the next-page link. For `jobposting`, `link` selects detail-page
/// links on listing pages and `next` the next listing page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    pub post: Option<String>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub link: Option<String>,
    pub next: Option<String>,
}

fn default_rate() -> u32 {
    30
}
fn default_burst() -> u32 {
    1
}
fn default_concurrency() -> usize {
    4
}
fn default_max_pages() -> usize {
    500
}
fn default_max_depth() -> usize {
    5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    #[serde(default)]
    source: Vec<toml::Spanned<Source>>,
}

/// A problem in a sources file, with where it is and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sources file {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct SourceError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Source {
    /// The hosts this source may fetch from.
    pub fn hosts(&self) -> Vec<String> {
        if self.allowed_hosts.is_empty() {
            let mut hosts: Vec<String> = self
                .start_urls
                .iter()
                .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
                .collect();
            hosts.sort();
            hosts.dedup();
            hosts
        } else {
            self.allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect()
        }
    }

    /// Whether `url` is inside this source's hosts.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        matches!(url.scheme(), "http" | "https") && self.hosts().iter().any(|h| h == host)
    }

    fn check(&self) -> Result<(), String> {
        let field =
            |name: &str, why: &str| Err(format!("source `{}`: field `{name}`: {why}", self.id));
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return field("id", "use letters, digits, '-' and '_' only");
        }
        if self.start_urls.is_empty() {
            return field("start_urls", "give at least one URL");
        }
        if let Some(u) = self.start_urls.iter().find(|u| !self.allows(u)) {
            return field(
                "start_urls",
                &format!("{u} is not http(s) on one of the allowed_hosts"),
            );
        }
        if let Some(expr) = &self.schedule
            && let Err(e) = cron::Schedule::from_str(expr)
        {
            return field(
                "schedule",
                &format!(
                    "{expr:?} is not a cron expression with seconds first (e.g. \"0 */30 * * * *\"): {e}"
                ),
            );
        }
        if self.rate_per_minute == 0 {
            return field("rate_per_minute", "must be at least 1");
        }
        if self.burst == 0 {
            return field("burst", "must be at least 1");
        }
        if !(1..=64).contains(&self.concurrency) {
            return field("concurrency", "must be between 1 and 64");
        }
        if self.max_pages == 0 {
            return field("max_pages", "must be at least 1");
        }
        if self.legal_basis.trim().is_empty() {
            return field(
                "legal_basis",
                "say why collecting this source is lawful; officers see it on every lead",
            );
        }
        if self.kind == SourceKind::HtmlListing
            && (self.selectors.post.is_none() || self.selectors.text.is_none())
        {
            return field(
                "selectors",
                "html_listing needs at least `post` and `text` selectors",
            );
        }
        for (name, sel) in [
            ("selectors.post", &self.selectors.post),
            ("selectors.title", &self.selectors.title),
            ("selectors.text", &self.selectors.text),
            ("selectors.date", &self.selectors.date),
            ("selectors.author", &self.selectors.author),
            ("selectors.link", &self.selectors.link),
            ("selectors.next", &self.selectors.next),
        ] {
            if let Some(s) = sel
                && let Err(e) = scraper::Selector::parse(s)
            {
                return field(name, &format!("invalid CSS selector {s:?}: {e}"));
            }
        }
        Ok(())
    }
}

/// Parses a sources file. `name` is how errors name the file.
pub fn parse_sources(name: &str, text: &str) -> Result<Vec<Source>, SourceError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let file: SourcesFile = toml::from_str(text).map_err(|e| SourceError {
        file: name.to_string(),
        line: e.span().map(|s| line_of(s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut seen = std::collections::HashSet::new();
    let mut sources = Vec::with_capacity(file.source.len());
    for spanned in file.source {
        let line = Some(line_of(spanned.span().start));
        let source = spanned.into_inner();
        let error = |message: String| SourceError {
            file: name.to_string(),
            line,
            message,
        };
        source.check().map_err(error)?;
        if !seen.insert(source.id.clone()) {
            return Err(error(format!("source id `{}` is used twice", source.id)));
        }
        sources.push(source);
    }
    if sources.is_empty() {
        return Err(SourceError {
            file: name.to_string(),
            line: None,
            message: "no [[source]] tables; see seeds/sources/README.md".into(),
        });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[source]]
id = "board"
kind = "jobposting"
start_urls = ["https://loker.example/lowongan"]
legal_basis = "Public job board"
"#;

    #[test]
    fn parses_with_defaults() {
        let s = parse_sources("s.toml", GOOD).unwrap();
        assert_eq!(s[0].hosts(), ["loker.example"]);
        assert_eq!(s[0].rate_per_minute, 30);
        assert!(s[0].allows(&Url::parse("https://loker.example/x").unwrap()));
        assert!(!s[0].allows(&Url::parse("https://evil.example/x").unwrap()));
        assert!(!s[0].allows(&Url::parse("file:///etc/passwd").unwrap()));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad = GOOD.replace("legal_basis = \"Public job board\"", "legal_basis = \"\"");
        let e = parse_sources("seeds/sources/x.toml", &bad).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.to_string()
                .contains("seeds/sources/x.toml, line 2: source `board`: field `legal_basis`"),
            "{e}"
        );
        let e = parse_sources("x.toml", &GOOD.replace("jobposting", "jobpost")).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("jobpost"), "{e}");
        let e = parse_sources("x.toml", &format!("{GOOD}\nrate_per_minute = 0\n")).unwrap_err();
        assert!(e.message.contains("rate_per_minute"), "{e}");
        let e = parse_sources("x.toml", &format!("{GOOD}{GOOD}")).unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
        let e = parse_sources(
            "x.toml",
            &format!("{GOOD}selectors = {{ link = \"a[\" }}\n"),
        )
        .unwrap_err();
        assert!(e.message.contains("selectors.link"), "{e}");
        let e = parse_sources("x.toml", &format!("{GOOD}schedule = \"every hour\"\n")).unwrap_err();
        assert!(e.message.contains("field `schedule`"), "{e}");
        assert!(parse_sources("x.toml", &format!("{GOOD}schedule = \"0 */30 * * * *\"\n")).is_ok());
    }
}
