//! The bundled sample web: a job board with JSON-LD detail pages, a public Telegram channel
//! preview in the real `t.me/s/<channel>` shape, an RSS feed of a classifieds site, and a
//! robots.txt that forbids a page the crawler must never fetch. It serves the invented posts of
//! `seeds/sample-web/posts.toml` on 127.0.0.1 for the demo and the tests, and counts the
//! requests it receives per path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// The posts file bundled in the binary.
pub const POSTS_TOML: &str = include_str!("../seeds/sample-web/posts.toml");
/// The path robots.txt disallows; the sample job board links to it.
pub const FORBIDDEN_PATH: &str = "/internal/ekspor-data-pelamar";
/// The Telegram channel name of the sample web.
pub const CHANNEL: &str = "infolokerln_kalbar";
/// Items per listing page and per Telegram preview page.
const PAGE: usize = 10;
/// Number of the first Telegram message.
const FIRST_MESSAGE: usize = 101;

/// Where a sample post is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Jobboard,
    Telegram,
    Feed,
}

/// One invented post and its ground truth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplePost {
    pub slug: String,
    pub channel: Channel,
    /// `illegal`, `legit` or `negative`.
    pub label: String,
    pub lang: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub location: Option<String>,
    pub salary: Option<String>,
    pub published: DateTime<FixedOffset>,
    pub text: String,
}

#[derive(Deserialize)]
struct PostsFile {
    post: Vec<SamplePost>,
}

/// The bundled posts.
pub fn sample_posts() -> anyhow::Result<Vec<SamplePost>> {
    let file: PostsFile =
        toml::from_str(POSTS_TOML).context("seeds/sample-web/posts.toml is not valid")?;
    Ok(file.post)
}

struct Site {
    jobs: Vec<SamplePost>,
    messages: Vec<SamplePost>,
    feed: Vec<SamplePost>,
    requests: Mutex<BTreeMap<String, usize>>,
    /// Job slugs taken down: gone from the listing, 410 on their page.
    taken_down: Mutex<Vec<String>>,
}

impl Site {
    fn is_down(&self, slug: &str) -> bool {
        self.taken_down
            .lock()
            .expect("take-down list lock")
            .iter()
            .any(|s| s == slug)
    }
}

/// A running sample web.
pub struct SampleWeb {
    pub addr: SocketAddr,
    site: Arc<Site>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SampleWeb {
    /// Starts the sample web on 127.0.0.1 with an OS-assigned port.
    pub async fn start() -> anyhow::Result<SampleWeb> {
        Self::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), 0).await
    }

    /// Starts the sample web on a loopback address, with `extra_jobs` more job ads on the board
    /// (copies of the sample posts under new slugs), for throughput benchmarks.
    pub async fn start_with(addr: SocketAddr, extra_jobs: usize) -> anyhow::Result<SampleWeb> {
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the sample web only listens on loopback addresses, not {addr}"
        );
        let posts = sample_posts()?;
        let pick = |c: Channel| {
            let mut v: Vec<SamplePost> = posts.iter().filter(|p| p.channel == c).cloned().collect();
            v.sort_by_key(|p| p.published);
            v
        };
        let mut jobs = pick(Channel::Jobboard);
        jobs.extend(
            posts
                .iter()
                .cycle()
                .take(extra_jobs)
                .enumerate()
                .map(|(i, p)| SamplePost {
                    slug: format!("{}-x{i}", p.slug),
                    channel: Channel::Jobboard,
                    title: p.title.clone().or_else(|| Some(format!("Lowongan {i}"))),
                    ..p.clone()
                }),
        );
        let site = Arc::new(Site {
            jobs,
            messages: pick(Channel::Telegram),
            feed: pick(Channel::Feed),
            requests: Mutex::default(),
            taken_down: Mutex::default(),
        });
        let app = Router::new()
            .route("/robots.txt", get(robots))
            .route("/lowongan", get(job_list))
            .route("/lowongan/{slug}", get(job_detail))
            .route(FORBIDDEN_PATH, get(forbidden))
            .route("/s/{channel}", get(telegram))
            .route("/feed.xml", get(feed))
            .route("/iklan/{slug}", get(feed_item))
            .layer(middleware::from_fn_with_state(site.clone(), count))
            .with_state(site.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind the sample web on {addr}"))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(SampleWeb {
            addr,
            site,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes a job ad down, as a site does after a report: it leaves the listing and its page
    /// answers 410 Gone.
    pub fn take_down(&self, slug: &str) {
        self.site
            .taken_down
            .lock()
            .expect("take-down list lock")
            .push(slug.to_string());
    }

    /// How many requests each path received.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        self.site
            .requests
            .lock()
            .expect("request counter lock")
            .clone()
    }
}

impl Drop for SampleWeb {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn count(State(site): State<Arc<Site>>, req: Request, next: Next) -> Response {
    *site
        .requests
        .lock()
        .expect("request counter lock")
        .entry(req.uri().path().to_string())
        .or_default() += 1;
    next.run(req).await
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text as HTML paragraphs with line breaks.
fn paragraphs(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", esc(p.trim()).replace('\n', "<br/>")))
        .collect()
}

fn page(title: &str, head: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>{}</title>{head}</head><body>{body}</body></html>",
        esc(title)
    ))
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain")],
        "User-agent: *\nDisallow: /internal/\n\nSitemap: /sitemap.xml\n",
    )
}

async fn forbidden() -> Html<String> {
    page(
        "Ekspor data pelamar",
        "",
        "<p>Halaman internal: data pribadi pelamar. Crawler tidak boleh mengambil halaman ini.</p>",
    )
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn job_list(State(site): State<Arc<Site>>, Query(q): Query<PageQuery>) -> Response {
    let jobs: Vec<&SamplePost> = site
        .jobs
        .iter()
        .filter(|j| !site.is_down(&j.slug))
        .collect();
    let pages = jobs.len().div_ceil(PAGE).max(1);
    let n = q.page.unwrap_or(1);
    if n == 0 || n > pages {
        return (StatusCode::NOT_FOUND, "halaman tidak ada").into_response();
    }
    let mut body =
        String::from("<header><h1>LokerKalbar.test</h1><nav><a class=\"internal\" href=\"")
            + FORBIDDEN_PATH
            + "\">Admin: ekspor data</a></nav></header><ul class=\"jobs\">";
    for j in jobs.iter().rev().skip((n - 1) * PAGE).take(PAGE) {
        let _ = write!(
            body,
            "<li class=\"job\"><a class=\"job-link\" href=\"/lowongan/{}?utm_source=listing\">{}</a> <span class=\"org\">{}</span> <span class=\"loc\">{}</span></li>",
            esc(&j.slug),
            esc(j.title.as_deref().unwrap_or("Lowongan")),
            esc(j.author.as_deref().unwrap_or("")),
            esc(j.location.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</ul>");
    if n < pages {
        let _ = write!(
            body,
            "<a rel=\"next\" href=\"/lowongan?page={}\">Berikutnya</a>",
            n + 1
        );
    }
    page("Lowongan kerja", "", &body).into_response()
}

async fn job_detail(
    State(site): State<Arc<Site>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(j) = site.jobs.iter().find(|j| j.slug == slug) else {
        return (StatusCode::NOT_FOUND, "lowongan tidak ada").into_response();
    };
    if site.is_down(&slug) {
        return (StatusCode::GONE, "lowongan sudah dihapus").into_response();
    }
    // Job pages never change: an ETag lets crawlers revalidate with a 304.
    let etag = format!("\"{}-1\"", j.slug);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let title = j.title.clone().unwrap_or_default();
    let mut ld = serde_json::json!({
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": title,
        "description": paragraphs(&j.text),
        "datePosted": j.published.to_rfc3339(),
        "identifier": {"@type": "PropertyValue", "name": "LokerKalbar", "value": j.slug},
        "hiringOrganization": {"@type": "Organization", "name": j.author.clone().unwrap_or_default()},
        "employmentType": "FULL_TIME",
    });
    if let Some(loc) = &j.location {
        ld["jobLocation"] = serde_json::json!({"@type": "Place", "address": {"@type": "PostalAddress", "addressLocality": loc}});
    }
    if let Some(s) = &j.salary {
        ld["baseSalary"] = serde_json::json!({"@type": "MonetaryAmount", "value": s});
    }
    // `</` inside JSON could close the script element early; escape it as JSON allows.
    let ld = ld.to_string().replace("</", "<\\/");
    let head = format!("<script type=\"application/ld+json\">{ld}</script>");
    let body = format!(
        "<article><h1>{}</h1><p class=\"org\">{}</p>{}<p><a href=\"/lowongan\">Kembali</a></p></article>",
        esc(&title),
        esc(j.author.as_deref().unwrap_or("")),
        paragraphs(&j.text)
    );
    ([(header::ETAG, etag)], page(&title, &head, &body)).into_response()
}

#[derive(Deserialize)]
struct BeforeQuery {
    before: Option<usize>,
}

async fn telegram(
    State(site): State<Arc<Site>>,
    Path(channel): Path<String>,
    Query(q): Query<BeforeQuery>,
) -> Response {
    if channel != CHANNEL {
        return (StatusCode::NOT_FOUND, "channel not found").into_response();
    }
    let numbered: Vec<(usize, &SamplePost)> = site
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| (FIRST_MESSAGE + i, m))
        .collect();
    let before = q.before.unwrap_or(usize::MAX);
    let older: Vec<_> = numbered.iter().filter(|(n, _)| *n < before).collect();
    let shown = &older[older.len().saturating_sub(PAGE)..];
    let mut body = String::from(
        "<header class=\"tgme_channel_info\"><div class=\"tgme_channel_info_header_title\"><span dir=\"auto\">Info Loker LN Kalbar</span></div></header><section class=\"tgme_channel_history js-message_history\">",
    );
    if let Some((first, _)) = shown.first()
        && *first > FIRST_MESSAGE
    {
        let _ = write!(
            body,
            "<div class=\"tgme_widget_message_centered js-messages_more_wrap\"><a href=\"/s/{CHANNEL}?before={first}\" class=\"tme_messages_more js-messages_more\" data-before=\"{first}\"></a></div>"
        );
    }
    for (n, m) in shown {
        let _ = write!(
            body,
            concat!(
                "<div class=\"tgme_widget_message_wrap js-widget_message_wrap\">",
                "<div class=\"tgme_widget_message text_not_supported_wrap js-widget_message\" data-post=\"{ch}/{n}\" data-view=\"x\">",
                "<div class=\"tgme_widget_message_bubble\">",
                "<div class=\"tgme_widget_message_author accent_color\"><a class=\"tgme_widget_message_owner_name\" href=\"/{ch}\"><span dir=\"auto\">Info Loker LN Kalbar</span></a></div>",
                "<div class=\"tgme_widget_message_text js-message_text\" dir=\"auto\">{text}</div>",
                "<div class=\"tgme_widget_message_footer compact js-message_footer\"><div class=\"tgme_widget_message_info short js-message_info\">",
                "<span class=\"tgme_widget_message_views\">1.{n}K</span><span class=\"tgme_widget_message_meta\">",
                "<a class=\"tgme_widget_message_date\" href=\"/{ch}/{n}\"><time datetime=\"{dt}\" class=\"time\">{hm}</time></a></span>",
                "</div></div></div></div></div>"
            ),
            ch = CHANNEL,
            n = n,
            text = esc(m.text.trim()).replace('\n', "<br/>"),
            dt = m.published.to_rfc3339(),
            hm = m.published.format("%H:%M"),
        );
    }
    body.push_str("</section>");
    page("Info Loker LN Kalbar – Telegram", "", &body).into_response()
}

async fn feed(State(site): State<Arc<Site>>) -> Response {
    let mut items = String::new();
    for f in site.feed.iter().rev() {
        let _ = write!(
            items,
            "<item><title>{}</title><link>/iklan/{}</link><guid isPermaLink=\"false\">iklan-{}</guid><author>{}</author><pubDate>{}</pubDate><description>{}</description></item>",
            esc(f.title.as_deref().unwrap_or("Iklan")),
            esc(&f.slug),
            esc(&f.slug),
            esc(f.author.as_deref().unwrap_or("")),
            f.published.to_rfc2822(),
            esc(&paragraphs(&f.text)),
        );
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Iklan Baris Kalbar</title><link>/</link><description>Iklan baris lowongan dan jasa</description>{items}</channel></rss>"
    );
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

async fn feed_item(State(site): State<Arc<Site>>, Path(slug): Path<String>) -> Response {
    match site.feed.iter().find(|f| f.slug == slug) {
        Some(f) => page(
            f.title.as_deref().unwrap_or("Iklan"),
            "",
            &paragraphs(&f.text),
        )
        .into_response(),
        None => (StatusCode::NOT_FOUND, "iklan tidak ada").into_response(),
    }
}
