//! Fetching one URL politely and safely: per-host rate limits, robots.txt, redirect checks,
//! body-size caps, refusal of private addresses, charset decoding.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use sha2::{Digest, Sha256};
use texting_robots::Robot;
use url::Url;

use crate::model::{Snapshot, Validators};

/// Bounds and retry behaviour of the fetcher. The defaults suit the public web; tests shorten
/// them.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Wait for a connection at most this long.
    pub connect_timeout: Duration,
    /// A whole request (headers and body) takes at most this long.
    pub request_timeout: Duration,
    /// Largest body read, after decompression; a larger one is cut off and reported.
    pub max_body_bytes: usize,
    /// Redirects followed at most for one URL.
    pub max_redirects: usize,
    /// Retries of a transient failure (timeout, connection error, 429, 5xx) before giving up.
    pub retries: u32,
    /// First backoff; doubled per retry, with random jitter of up to the same again.
    pub backoff: Duration,
    /// Longest `Retry-After` honoured; a server asking for longer gets the URL skipped.
    pub max_retry_after: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 8 * 1024 * 1024,
            max_redirects: 5,
            retries: 3,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(300),
        }
    }
}
/// URLs longer than this are not fetched (a common spider-trap shape).
pub const MAX_URL_LEN: usize = 2048;
/// The identifying User-Agent, with a contact URL.
pub const USER_AGENT: &str = concat!(
    "patroli/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/patroli/patroli; cyber-patrol crawler for public job ads)"
);
/// How long a host's robots.txt is trusted before it is fetched again.
pub const ROBOTS_TTL: Duration = Duration::from_secs(6 * 3600);

/// Why a URL was not fetched or could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error(
        "refused: {0} resolves to a private or loopback address; only sources with allow_private = true, or `crawl --once --url … --allow-private`, may reach it"
    )]
    PrivateAddress(String),
    #[error("refused: host {0} is outside the source's allowed hosts")]
    OffScope(String),
    #[error("robots.txt of {0} disallows this URL")]
    RobotsDisallowed(String),
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    UrlTooLong,
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect loop back to {0}")]
    RedirectLoop(String),
    #[error("redirect without a valid Location header")]
    BadRedirect,
    #[error("the body is larger than {0} bytes; the rest was not read")]
    BodyTooLarge(usize),
    #[error(
        "the server asks to wait {0} s (Retry-After), longer than this crawler waits; try the source later"
    )]
    RetryTooLate(u64),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("timed out")]
    Timeout,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// A short, stable name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::PrivateAddress(_) => "private_address",
            FetchError::OffScope(_) => "off_scope",
            FetchError::RobotsDisallowed(_) => "robots",
            FetchError::UrlTooLong => "url_too_long",
            FetchError::TooManyRedirects(_)
            | FetchError::RedirectLoop(_)
            | FetchError::BadRedirect => "redirect",
            FetchError::BodyTooLarge(_) => "body_too_large",
            FetchError::RetryTooLate(_) => "retry_after",
            FetchError::Status(_) => "http_status",
            FetchError::Timeout => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::Other(_) => "other",
        }
    }

    fn from_reqwest(e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_connect() {
            // The resolver's refusal of private addresses arrives here too.
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = source {
                if let Some(PrivateRefusal(host)) = s.downcast_ref::<PrivateRefusal>() {
                    return FetchError::PrivateAddress(host.clone());
                }
                source = s.source();
            }
            FetchError::Connect(e.to_string())
        } else {
            FetchError::Other(e.to_string())
        }
    }
}

/// True for addresses a public-web crawler has no business reaching.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || a == 0
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
    }
}

#[derive(Debug)]
struct PrivateRefusal(String);

impl std::fmt::Display for PrivateRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to a private address", self.0)
    }
}

impl std::error::Error for PrivateRefusal {}

/// Resolves names and refuses private answers, so DNS cannot point the crawler inwards.
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let lookup = host.clone();
            let addrs: Vec<SocketAddr> = tokio::task::spawn_blocking(move || {
                (lookup.as_str(), 0)
                    .to_socket_addrs()
                    .map(Iterator::collect)
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??;
            if addrs.is_empty() || addrs.iter().any(|a| is_private(a.ip())) {
                return Err(
                    Box::new(PrivateRefusal(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Per-host politeness settings.
#[derive(Debug, Clone, Copy)]
pub struct HostPolicy {
    pub rate_per_minute: u32,
    pub burst: u32,
}

/// A host's robots.txt and when it was fetched. Behind an async lock so that sources hitting
/// the same host at once fetch it once.
type RobotsSlot = Arc<tokio::sync::Mutex<Option<RobotsEntry>>>;

/// A host's parsed robots.txt, its bytes, and until when it is trusted.
struct RobotsEntry {
    robot: Arc<Robot>,
    /// The file as served, kept so the cache can be persisted; `None` for the stand-in used
    /// while the file cannot be read (not persisted).
    body: Option<Vec<u8>>,
    fetched_at: DateTime<Utc>,
    ttl: Duration,
}

/// How long the "disallow everything" stand-in for an unreadable robots.txt is kept.
const ROBOTS_RETRY: Duration = Duration::from_secs(10 * 60);

/// A host's robots.txt as cached, for persisting between runs.
#[derive(Debug, Clone)]
pub struct RobotsRecord {
    /// `host:port`.
    pub host: String,
    pub body: Vec<u8>,
    pub fetched_at: DateTime<Utc>,
}

struct HostState {
    limiter: Arc<DefaultDirectRateLimiter>,
    /// The time between two requests the host's limiter allows (its burst aside).
    interval: Duration,
    robots: RobotsSlot,
}

/// Politeness shared with other crawl processes, when several workers crawl from one store:
/// before each request, the fetcher reserves the host's next free slot (across all workers) and
/// waits for it, on top of its own limiter. The crawler holds no storage; the binary provides
/// this from the store.
pub trait SharedPoliteness: Send + Sync {
    /// Reserves the next request slot for `host` (`host:port`), at least `interval` after the
    /// slot reserved before it by any worker; resolves to how long to wait for it.
    fn reserve<'a>(
        &'a self,
        host: &'a str,
        interval: Duration,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Duration, String>> + Send + 'a>>;
}

/// A response's status and headers, with the response for reading its body.
type Answer = (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    reqwest::Response,
);

/// What a conditional fetch found.
#[derive(Debug)]
pub enum FetchOutcome {
    Page(Fetched),
    /// HTTP 304: unchanged since the validators sent.
    NotModified,
}

/// A fetched page, decoded.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub snapshot: Snapshot,
    /// The body decoded to text using the HTTP header, BOM or meta charset.
    pub text: String,
}

/// Shared by every source of a run: one limiter per host, one robots.txt cache per host.
pub struct Fetcher {
    public: reqwest::Client,
    private: reqwest::Client,
    user_agent: String,
    hosts: Mutex<HashMap<String, HostState>>,
    policies: HashMap<String, HostPolicy>,
    default_policy: HostPolicy,
    config: FetchConfig,
    shared: Option<Arc<dyn SharedPoliteness>>,
}

/// The time between two requests at `rate_per_minute`.
fn interval(rate_per_minute: u32) -> Duration {
    Duration::from_secs_f64(60.0 / f64::from(rate_per_minute.max(1)))
}

fn quota(rate_per_minute: u32, burst: u32) -> Quota {
    Quota::with_period(interval(rate_per_minute))
        .expect("period is positive")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("burst is positive"))
}

impl Fetcher {
    /// A fetcher with per-host policies (the slowest policy given for a host wins) and a default
    /// for hosts not listed.
    pub fn new(
        policies: HashMap<String, HostPolicy>,
        default_policy: HostPolicy,
        user_agent: Option<String>,
        config: FetchConfig,
    ) -> Result<Fetcher, FetchError> {
        let build = |guard: bool| {
            let mut b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .timeout(config.request_timeout)
                .gzip(true)
                .deflate(true);
            if guard {
                b = b.dns_resolver(Arc::new(PublicOnlyResolver));
            }
            b.build()
                .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))
        };
        Ok(Fetcher {
            public: build(true)?,
            private: build(false)?,
            user_agent: user_agent.unwrap_or_else(|| USER_AGENT.to_string()),
            hosts: Mutex::new(HashMap::new()),
            policies,
            default_policy,
            config,
            shared: None,
        })
    }

    /// This fetcher, also keeping to the per-host slots that `shared` hands out to every worker.
    pub fn with_shared_politeness(mut self, shared: Arc<dyn SharedPoliteness>) -> Fetcher {
        self.shared = Some(shared);
        self
    }

    fn host_key(url: &Url) -> String {
        format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        )
    }

    fn policy(&self, url: &Url) -> HostPolicy {
        url.host_str()
            .and_then(|h| self.policies.get(h))
            .copied()
            .unwrap_or(self.default_policy)
    }

    /// Runs `f` on the host's state, creating it with the host's policy when first seen.
    fn with_host<T>(&self, url: &Url, f: impl FnOnce(&mut HostState) -> T) -> T {
        let policy = self.policy(url);
        let mut hosts = self.hosts.lock().expect("host table lock");
        let state = hosts
            .entry(Self::host_key(url))
            .or_insert_with(|| HostState {
                limiter: Arc::new(RateLimiter::direct(quota(
                    policy.rate_per_minute,
                    policy.burst,
                ))),
                interval: interval(policy.rate_per_minute),
                robots: RobotsSlot::default(),
            });
        f(state)
    }

    /// Fetches a page that the caller has already checked is in scope: waits for the host's
    /// limiter, checks robots.txt, follows redirects only within `allowed`, and sends
    /// `validators` as `If-None-Match` / `If-Modified-Since` (an unchanged page comes back as
    /// `NotModified`).
    pub async fn fetch_conditional(
        &self,
        url: &Url,
        allow_private: bool,
        allowed: &(dyn Fn(&Url) -> bool + Sync),
        validators: Option<&Validators>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut current = url.clone();
        let mut seen = vec![current.clone()];
        for _ in 0..=self.config.max_redirects {
            if current.as_str().len() > MAX_URL_LEN {
                return Err(FetchError::UrlTooLong);
            }
            if !allowed(&current) {
                return Err(FetchError::OffScope(
                    current.host_str().unwrap_or("?").to_string(),
                ));
            }
            self.check_address(&current, allow_private)?;
            if !self.robots_allows(&current, allow_private).await? {
                return Err(FetchError::RobotsDisallowed(
                    current.host_str().unwrap_or("?").to_string(),
                ));
            }
            let (status, headers, response) = self
                .get_with_retries(&current, allow_private, validators)
                .await?;
            if status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(FetchOutcome::NotModified);
            }
            if status.is_redirection() {
                let next = headers
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .ok_or(FetchError::BadRedirect)?;
                if seen.contains(&next) {
                    return Err(FetchError::RedirectLoop(next.to_string()));
                }
                seen.push(next.clone());
                current = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let body = read_capped(response, self.config.max_body_bytes).await?;
            let text = decode(&headers, &body);
            let headers = headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let sha256 = hex::encode(Sha256::digest(&body));
            return Ok(FetchOutcome::Page(Fetched {
                snapshot: Snapshot {
                    requested_url: url.to_string(),
                    final_url: current.to_string(),
                    status: status.as_u16(),
                    headers,
                    body,
                    sha256,
                    fetched_at: Utc::now(),
                },
                text,
            }));
        }
        Err(FetchError::TooManyRedirects(self.config.max_redirects))
    }

    fn check_address(&self, url: &Url, allow_private: bool) -> Result<(), FetchError> {
        if allow_private {
            return Ok(());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(d))
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                return Err(FetchError::PrivateAddress(d.to_string()));
            }
            _ => None,
        };
        match literal {
            Some(ip) if is_private(ip) => Err(FetchError::PrivateAddress(ip.to_string())),
            _ => Ok(()),
        }
    }

    /// `get`, retrying transient failures with jittered exponential backoff; 429 and 503 wait
    /// as long as `Retry-After` asks (up to `max_retry_after`).
    async fn get_with_retries(
        &self,
        url: &Url,
        allow_private: bool,
        validators: Option<&Validators>,
    ) -> Result<Answer, FetchError> {
        let mut attempt = 0;
        loop {
            let result = self.get(url, allow_private, validators).await;
            let wait = match &result {
                Ok((status, headers, _)) if status.as_u16() == 429 || status.as_u16() == 503 => {
                    match retry_after(headers) {
                        Some(asked) if asked > self.config.max_retry_after => {
                            return Err(FetchError::RetryTooLate(asked.as_secs()));
                        }
                        Some(asked) => Some(asked),
                        None => Some(self.backoff(attempt)),
                    }
                }
                Ok((status, _, _)) if status.is_server_error() => Some(self.backoff(attempt)),
                Ok(_) => None,
                Err(FetchError::Timeout | FetchError::Connect(_)) => Some(self.backoff(attempt)),
                Err(_) => None,
            };
            match wait {
                Some(wait) if attempt < self.config.retries => {
                    tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.backoff.saturating_mul(1 << attempt.min(10));
        base + base.mul_f64(rand::random::<f64>())
    }

    async fn get(
        &self,
        url: &Url,
        allow_private: bool,
        validators: Option<&Validators>,
    ) -> Result<Answer, FetchError> {
        let (limiter, interval) = self.with_host(url, |h| (h.limiter.clone(), h.interval));
        let waited = std::time::Instant::now();
        limiter.until_ready().await;
        if let Some(shared) = &self.shared {
            let wait = shared
                .reserve(&Self::host_key(url), interval)
                .await
                .unwrap_or_else(|e| {
                    // Without the shared slots, one full interval keeps this worker polite.
                    tracing::warn!(host = %Self::host_key(url), error = %e, "cannot reserve a shared request slot; waiting one interval");
                    interval
                });
            tokio::time::sleep(wait).await;
        }
        crate::metrics::POLITENESS_WAIT_MS
            .with_label_values(&[url.host_str().unwrap_or_default()])
            .inc_by(waited.elapsed().as_millis() as u64);
        let client = if allow_private {
            &self.private
        } else {
            &self.public
        };
        let mut request = client
            .get(url.clone())
            .header(reqwest::header::USER_AGENT, &self.user_agent);
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let response = request.send().await.map_err(FetchError::from_reqwest)?;
        Ok((response.status(), response.headers().clone(), response))
    }

    /// Whether robots.txt lets us fetch `url`; fetches and caches it (and applies Crawl-delay to
    /// the host's limiter) when needed. A missing robots.txt (4xx) allows everything; one that
    /// cannot be read (5xx, network error) disallows everything until it can.
    async fn robots_allows(&self, url: &Url, allow_private: bool) -> Result<bool, FetchError> {
        let slot = self.with_host(url, |h| h.robots.clone());
        let mut cached = slot.lock().await;
        let fresh = |e: &&RobotsEntry| {
            (Utc::now() - e.fetched_at)
                .to_std()
                .is_ok_and(|age| age < e.ttl)
        };
        let robot = match cached.as_ref().filter(fresh) {
            Some(entry) => entry.robot.clone(),
            None => {
                let (body, ttl) = match self.fetch_robots(url, allow_private).await? {
                    Some(body) => (Some(body), ROBOTS_TTL),
                    None => (None, ROBOTS_RETRY),
                };
                let text: &[u8] = body.as_deref().unwrap_or(b"User-agent: *\nDisallow: /\n");
                let robot = Arc::new(self.parse_robots(text)?);
                self.adopt_crawl_delay(url, &robot);
                *cached = Some(RobotsEntry {
                    robot: robot.clone(),
                    body,
                    fetched_at: Utc::now(),
                    ttl,
                });
                robot
            }
        };
        Ok(robot.allowed(url.as_str()))
    }

    /// A host's Crawl-delay slower than its configured rate replaces its limiter.
    fn adopt_crawl_delay(&self, url: &Url, robot: &Robot) {
        if let Some(delay) = robot.delay.filter(|d| *d > 0.0) {
            let asked = (60.0 / f64::from(delay)).floor().max(1.0) as u32;
            if asked < self.policy(url).rate_per_minute {
                let limiter = Arc::new(RateLimiter::direct(quota(asked, 1)));
                // The robots.txt request itself counts: the slower limiter starts with its one
                // slot taken, so the first page waits the full Crawl-delay.
                let _ = limiter.check();
                self.with_host(url, |h| {
                    h.limiter = limiter;
                    h.interval = interval(asked);
                });
            }
        }
    }

    fn parse_robots(&self, body: &[u8]) -> Result<Robot, FetchError> {
        let agent = self.user_agent.split('/').next().unwrap_or("patroli");
        Robot::new(agent, body)
            .or_else(|_| Robot::new(agent, b""))
            .map_err(|e| FetchError::Other(format!("robots.txt: {e}")))
    }

    /// The robots.txt files cached now, to persist between runs.
    pub async fn robots_cache(&self) -> Vec<RobotsRecord> {
        let slots: Vec<(String, RobotsSlot)> = {
            let hosts = self.hosts.lock().expect("host table lock");
            hosts
                .iter()
                .map(|(k, h)| (k.clone(), h.robots.clone()))
                .collect()
        };
        let mut out = Vec::new();
        for (host, slot) in slots {
            if let Some(RobotsEntry {
                body: Some(body),
                fetched_at,
                ..
            }) = &*slot.lock().await
            {
                out.push(RobotsRecord {
                    host,
                    body: body.clone(),
                    fetched_at: *fetched_at,
                });
            }
        }
        out
    }

    /// Restores robots.txt files cached by an earlier run (they keep their age; stale ones are
    /// fetched again when needed).
    pub async fn seed_robots(&self, records: &[RobotsRecord]) {
        for r in records {
            let Ok(url) = Url::parse(&format!("http://{}/", r.host)) else {
                continue;
            };
            let Ok(robot) = self.parse_robots(&r.body) else {
                continue;
            };
            let robot = Arc::new(robot);
            let slot = self.with_host(&url, |h| h.robots.clone());
            let mut cached = slot.lock().await;
            if cached
                .as_ref()
                .is_some_and(|e| e.fetched_at >= r.fetched_at)
            {
                continue;
            }
            self.adopt_crawl_delay(&url, &robot);
            *cached = Some(RobotsEntry {
                robot,
                body: Some(r.body.clone()),
                fetched_at: r.fetched_at,
                ttl: ROBOTS_TTL,
            });
        }
    }

    /// robots.txt of `url`'s host: its bytes, empty when it does not exist (4xx: everything is
    /// allowed), or `None` when it cannot be read (5xx or network error: nothing is allowed
    /// until it can).
    async fn fetch_robots(
        &self,
        url: &Url,
        allow_private: bool,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        match self.get(&robots_url, allow_private, None).await {
            Ok((status, _, response)) if status.is_success() => Ok(Some(
                read_capped(response, self.config.max_body_bytes).await?,
            )),
            Ok((status, _, _)) if status.is_client_error() => Ok(Some(Vec::new())),
            Ok(_) | Err(FetchError::Timeout | FetchError::Connect(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::from_reqwest)? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::BodyTooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// Decodes a body: charset from the Content-Type header, else a BOM, else a `<meta charset>` in
/// the first kilobytes, else UTF-8 (invalid bytes become U+FFFD, never an error).
pub fn decode(headers: &reqwest::header::HeaderMap, body: &[u8]) -> String {
    let from_header = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';')
                .find_map(|p| p.trim().strip_prefix("charset="))
        })
        .and_then(|label| encoding_rs::Encoding::for_label(label.trim_matches('"').as_bytes()));
    let encoding = from_header
        .or_else(|| encoding_rs::Encoding::for_bom(body).map(|(e, _)| e))
        .or_else(|| meta_charset(&body[..body.len().min(4096)]))
        .unwrap_or(encoding_rs::UTF_8);
    encoding.decode(body).0.into_owned()
}

fn meta_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "103.10.20.30", "2001:4860::8888"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn decodes_by_header_bom_and_meta() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "text/html; charset=windows-1252".parse().unwrap(),
        );
        assert_eq!(decode(&h, b"caf\xe9"), "café");
        let none = reqwest::header::HeaderMap::new();
        assert_eq!(decode(&none, b"\xef\xbb\xbfhalo"), "halo");
        let gbk = b"<meta charset=\"gbk\"><p>\xd5\xd0\xc6\xb8</p>";
        assert!(decode(&none, gbk).contains("招聘"));
        assert_eq!(decode(&none, b"ok \xff"), "ok \u{fffd}");
    }
}
