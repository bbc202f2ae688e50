//! The crawler against a fixture web on 127.0.0.1: each kind of source, politeness (the per-host
//! rate, robots.txt, Retry-After), hostile pages, charsets, and the scope and address checks.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patroli_crawler::{
    CollectedPost, CrawlEvent, FetchConfig, RunSummary, crawl_once, fetcher_for, parse_sources,
};

use crate::util::fixture::{Fixture, Hit, Reply, Req, gaps, tally};

/// A crawl still running after this long is a failure (a hang, or a bound not applied).
const RUN_LIMIT: Duration = Duration::from_secs(20);
/// Lower bound on the spacing of requests at 600 per minute (100 ms), with room for scheduling.
pub(crate) const SPACING_AT_600: Duration = Duration::from_millis(90);
/// Fast enough that the limiter never matters, for tests about something else.
const FAST: &str = "rate_per_minute = 60000\nburst = 100\n";

/// What a crawl sent and returned.
struct Run {
    posts: Vec<CollectedPost>,
    /// `(url, kind)` of every `CrawlEvent::Error`, in the order sent.
    errors: Vec<(String, &'static str)>,
    summaries: Vec<RunSummary>,
}

impl Run {
    fn summary(&self, id: &str) -> &RunSummary {
        self.summaries
            .iter()
            .find(|s| s.source_id == id)
            .unwrap_or_else(|| panic!("no summary for source {id}"))
    }

    /// Texts of the posts, sorted: a source fetches several pages at once, so posts arrive in
    /// any order.
    fn texts(&self) -> Vec<&str> {
        sorted(self.posts.iter().map(|p| p.text.as_str()))
    }

    /// Fails when two posts have the same URL.
    fn assert_no_duplicates(&self) {
        let mut urls = HashSet::new();
        for p in &self.posts {
            assert!(urls.insert(&p.url), "post {} sent twice", p.url);
        }
    }
}

/// Short timeouts and backoff, a 1 MB body cap, Retry-After honoured up to 3 s.
fn config() -> FetchConfig {
    FetchConfig {
        request_timeout: Duration::from_secs(5),
        retries: 1,
        backoff: Duration::from_millis(50),
        max_body_bytes: 1024 * 1024,
        max_retry_after: Duration::from_secs(3),
        ..Default::default()
    }
}

/// One `[[source]]` table allowed to reach the fixture; `extra` comes last, so it may end with a
/// `[source.selectors]` table.
pub(crate) fn source(id: &str, kind: &str, start_urls: &[String], extra: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nkind = \"{kind}\"\nstart_urls = {start_urls:?}\nlegal_basis = \"test fixture\"\nallow_private = true\n{extra}\n"
    )
}

/// Crawls the sources in `toml` once, collecting every post and error.
async fn crawl(toml: &str, config: FetchConfig) -> Run {
    let sources = parse_sources("test", toml).expect("test sources parse");
    let fetcher = Arc::new(fetcher_for(&sources, config).expect("fetcher builds"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let task = tokio::spawn(crawl_once(sources, fetcher, tx));
    let run = async {
        let mut posts = Vec::new();
        let mut errors = Vec::new();
        while let Some(event) = rx.recv().await {
            match event {
                CrawlEvent::Page { posts: p, .. } => posts.extend(p),
                CrawlEvent::Error { url, kind, .. } => errors.push((url, kind)),
                _ => {}
            }
        }
        let summaries = task.await.expect("crawl task");
        Run {
            posts,
            errors,
            summaries,
        }
    };
    tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the crawl ends within RUN_LIMIT")
}

/// A page with schema.org `JobPosting` JSON-LD whose description is `<p>{text}</p>`.
pub(crate) fn job_page(title: &str, text: &str) -> Reply {
    let ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "JobPosting",
        "title": title,
        "description": format!("<p>{text}</p>"),
        "hiringOrganization": {"@type": "Organization", "name": "PT Fixture"},
    });
    Reply::html(format!(
        "<html><head><script type=\"application/ld+json\">{ld}</script></head><body><h1>{title}</h1></body></html>"
    ))
}

/// A page of plain links.
pub(crate) fn links_page(hrefs: &[String]) -> Reply {
    let links: String = hrefs
        .iter()
        .map(|h| format!("<a href=\"{h}\">tautan</a>\n"))
        .collect();
    Reply::html(format!("<html><body>{links}</body></html>"))
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort();
    v
}

pub(crate) fn arrivals(hits: &[Hit]) -> Vec<Instant> {
    hits.iter().map(|h| h.at).collect()
}

// ---------------------------------------------------------------------------------------------
// Kinds of source
// ---------------------------------------------------------------------------------------------

/// `(id, title, text, author)` of a forum post.
type ForumPost = (u32, &'static str, &'static str, &'static str);

const FORUM: &[&[ForumPost]] = &[
    &[
        (1, "Loker sawit", "Dicari pekerja sawit di Sibu.", "Budi"),
        (
            2,
            "Kerja pabrik",
            "Operator pabrik di Johor, mess gratis.",
            "Sari",
        ),
    ],
    &[
        (3, "Sopir", "Sopir truk, paspor dibantu.", "Andi"),
        (4, "ART", "Asisten rumah tangga ke Kuching.", "Rina"),
    ],
    &[(5, "Tukang las", "Tukang las berpengalaman.", "Joko")],
];

fn forum_page(r: &Req) -> Reply {
    let page: usize = r.param("page").map_or(1, |p| p.parse().unwrap_or(0));
    if r.path != "/forum" || page == 0 || page > FORUM.len() {
        return Reply::not_found();
    }
    let mut html = String::from("<html><body><nav><a href=\"/forum/tentang\">Tentang</a></nav>\n");
    for (id, title, text, author) in FORUM[page - 1] {
        html += &format!(
            "<div class=\"post\" id=\"p{id}\"><h3 class=\"title\">{title}</h3><div class=\"body\">{text}</div><span class=\"by\">{author}</span><time datetime=\"2026-11-0{id}T10:00:00Z\"></time><a href=\"/forum/t/{id}\">baca</a></div>\n"
        );
    }
    if page == FORUM.len() {
        // A post without text is skipped; the last page's "next" leads back to the first.
        html += "<div class=\"post\" id=\"p9\"><h3 class=\"title\">Foto saja</h3></div>\n";
        html += "<a class=\"next\" href=\"/forum\">awal</a>";
    } else {
        html += &format!(
            "<a class=\"next\" href=\"?page={}\">berikutnya</a>",
            page + 1
        );
    }
    Reply::html(html + "</body></html>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_listing_reads_posts_with_selectors_and_pages_on() {
    let web = Fixture::start(forum_page).await;
    let toml = source(
        "forum",
        "html_listing",
        &[web.url("/forum")],
        &format!(
            "{FAST}[source.selectors]\npost = \".post\"\ntitle = \".title\"\ntext = \".body\"\nauthor = \".by\"\ndate = \"time\"\nnext = \"a.next\"\n"
        ),
    );
    let run = crawl(&toml, config()).await;

    let got = sorted(run.posts.iter().map(|p| {
        (
            p.url.clone(),
            p.external_id.clone(),
            p.title.clone(),
            p.text.clone(),
            p.author.clone(),
            p.published.map(|d| d.to_rfc3339()),
        )
    }));
    let want: Vec<_> = FORUM
        .iter()
        .flat_map(|page| page.iter())
        .map(|(id, title, text, author)| {
            (
                web.url(&format!("/forum/t/{id}")),
                Some(format!("p{id}")),
                Some(title.to_string()),
                text.to_string(),
                Some(author.to_string()),
                Some(format!("2026-11-0{id}T10:00:00+00:00")),
            )
        })
        .collect();
    assert_eq!(got, want);
    run.assert_no_duplicates();
    assert!(run.errors.is_empty(), "{:?}", run.errors);

    // Each listing page once (the last page's link back to the first is a duplicate); post and
    // navigation links are not followed by an html_listing source.
    let hits = web.hits_on_pages();
    for page in ["/forum", "/forum?page=2", "/forum?page=3"] {
        assert_eq!(web.count(page), 1, "{page}: {:?}", tally(&hits));
    }
    assert_eq!(
        hits.len(),
        4,
        "three pages and robots.txt: {:?}",
        tally(&hits)
    );
    let summary = run.summary("forum");
    assert_eq!((summary.pages, summary.posts), (3, 5));
    assert_eq!(summary.admissions.get("Duplicate"), Some(&1));
}

const JOBS: &[(u32, &str, &str)] = &[
    (
        1,
        "Operator Produksi",
        "Dicari operator produksi di Kuching, gaji RM1.800.",
    ),
    (
        2,
        "Pekerja Kebun",
        "Pekerja kebun sawit Sarawak, mess dan makan ditanggung.",
    ),
    (
        3,
        "Sopir Ekspedisi",
        "Sopir ekspedisi Pontianak–Entikong, SIM B1.",
    ),
];

fn job_board(r: &Req) -> Reply {
    match (r.path.as_str(), r.param("page")) {
        ("/lowongan", None) => Reply::html(
            "<html><body><a href=\"/tentang\">Tentang kami</a>\
             <a class=\"job\" href=\"/lowongan/1\">Operator</a>\
             <a class=\"job\" href=\"/lowongan/2#lamar\">Kebun</a>\
             <a class=\"next\" href=\"/lowongan?page=2\">berikutnya</a></body></html>",
        ),
        ("/lowongan", Some("2")) => Reply::html(
            "<html><body><a class=\"job\" href=\"/lowongan/3\">Sopir</a>\
             <a class=\"job\" href=\"/lowongan/1?utm_source=fb\">Operator lagi</a></body></html>",
        ),
        (path, None) => path
            .strip_prefix("/lowongan/")
            .and_then(|n| n.parse::<u32>().ok())
            .and_then(|n| JOBS.iter().find(|(id, ..)| *id == n))
            .map_or_else(Reply::not_found, |(_, title, text)| job_page(title, text)),
        _ => Reply::not_found(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobposting_reads_json_ld_of_linked_detail_pages() {
    let web = Fixture::start(job_board).await;
    let toml = source(
        "board",
        "jobposting",
        &[web.url("/lowongan")],
        &format!("{FAST}[source.selectors]\nlink = \"a.job\"\nnext = \"a.next\"\n"),
    );
    let run = crawl(&toml, config()).await;

    let got = sorted(run.posts.iter().map(|p| {
        (
            p.url.clone(),
            p.title.clone(),
            p.text.clone(),
            p.author.clone(),
        )
    }));
    let want: Vec<_> = JOBS
        .iter()
        .map(|(id, title, text)| {
            (
                web.url(&format!("/lowongan/{id}")),
                Some(title.to_string()),
                text.to_string(),
                Some("PT Fixture".to_string()),
            )
        })
        .collect();
    assert_eq!(got, want);
    run.assert_no_duplicates();
    assert!(run.errors.is_empty(), "{:?}", run.errors);

    let hits = web.hits_on_pages();
    for page in [
        "/lowongan",
        "/lowongan?page=2",
        "/lowongan/1",
        "/lowongan/2",
        "/lowongan/3",
    ] {
        assert_eq!(web.count(page), 1, "{page}: {:?}", tally(&hits));
    }
    assert_eq!(
        web.count("/tentang"),
        0,
        "only `selectors.link` links are followed"
    );
    let summary = run.summary("board");
    assert_eq!((summary.pages, summary.posts), (5, 3));
    assert_eq!(summary.admissions.get("Duplicate"), Some(&1));
}

fn feeds(r: &Req) -> Reply {
    let base = format!("http://127.0.0.1:{}", r.port);
    match r.path.as_str() {
        "/rss.xml" => Reply::bytes(
            "application/rss+xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Iklan Baris</title><link>{base}/</link><description>Iklan</description>
<item><title>Cari ART ke Kuching</title><link>{base}/iklan/1</link><guid isPermaLink="false">iklan-1</guid>
<description>&lt;p&gt;Gaji &lt;b&gt;RM1800&lt;/b&gt;, berangkat cepat&lt;/p&gt;</description><pubDate>Mon, 02 Nov 2026 09:00:00 +0700</pubDate></item>
<item><title>Sopir truk</title><link>{base}/iklan/2</link><guid isPermaLink="false">iklan-2</guid>
<description>Sopir truk sawit, mess disediakan</description></item>
<item><title>kosong</title><link>{base}/iklan/3</link></item>
</channel></rss>"#
            ),
        ),
        "/atom.xml" => Reply::bytes(
            "application/atom+xml",
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Loker</title><id>urn:loker</id><updated>2026-11-03T00:00:00Z</updated>
<entry><title>Operator pabrik</title><link href="{base}/loker/10"/><id>urn:loker:10</id><updated>2026-11-03T01:00:00Z</updated>
<content type="html">&lt;p&gt;Kerja di &lt;b&gt;Johor&lt;/b&gt;&lt;/p&gt;</content></entry>
<entry><title>Tukang las</title><link href="{base}/loker/11"/><id>urn:loker:11</id><updated>2026-11-03T02:00:00Z</updated>
<summary>Tukang las berpengalaman, paspor diurus</summary></entry>
</feed>"#
            ),
        ),
        _ => Reply::not_found(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_reads_rss_items_and_atom_entries() {
    let web = Fixture::start(feeds).await;
    let toml = source(
        "iklan",
        "feed",
        &[web.url("/rss.xml"), web.url("/atom.xml")],
        FAST,
    );
    let run = crawl(&toml, config()).await;

    let mut got: Vec<_> = run
        .posts
        .iter()
        .map(|p| {
            (
                p.url.clone(),
                p.external_id.clone(),
                p.title.clone(),
                p.text.clone(),
            )
        })
        .collect();
    got.sort();
    let post = |path: &str, id: &str, title: &str, text: &str| {
        (
            web.url(path),
            Some(id.to_string()),
            Some(title.to_string()),
            text.to_string(),
        )
    };
    let want = vec![
        post(
            "/iklan/1",
            "iklan-1",
            "Cari ART ke Kuching",
            "Gaji RM1800, berangkat cepat",
        ),
        post(
            "/iklan/2",
            "iklan-2",
            "Sopir truk",
            "Sopir truk sawit, mess disediakan",
        ),
        post(
            "/loker/10",
            "urn:loker:10",
            "Operator pabrik",
            "Kerja di Johor",
        ),
        post(
            "/loker/11",
            "urn:loker:11",
            "Tukang las",
            "Tukang las berpengalaman, paspor diurus",
        ),
    ];
    assert_eq!(got, want);
    run.assert_no_duplicates();
    let rss_first = run
        .posts
        .iter()
        .find(|p| p.url.ends_with("/iklan/1"))
        .unwrap();
    assert_eq!(
        rss_first.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-11-02T02:00:00+00:00")
    );
    // Feed items are posts in themselves: their links are not fetched.
    let hits = web.hits_on_pages();
    assert_eq!(web.count("/rss.xml"), 1);
    assert_eq!(web.count("/atom.xml"), 1);
    assert!(
        !hits
            .iter()
            .any(|h| h.target.starts_with("/iklan/") || h.target.starts_with("/loker/")),
        "{:?}",
        tally(&hits)
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
}

/// Messages of the fixture channel: 1 to 8; message 4 is a photo without text.
const TG_MESSAGES: u64 = 8;
const TG_PAGE: u64 = 3;

fn tg_text(n: u64) -> String {
    format!("Pesan {n}: dicari pekerja kebun\nWA 0812-000-{n:03}")
}

/// A t.me/s preview: the newest `TG_PAGE` messages before `?before=`, oldest first, as t.me
/// shows them. Only the first page carries a "more" link; the crawler pages on by itself after.
fn telegram(r: &Req) -> Reply {
    if r.path != "/s/lokerln" {
        return Reply::not_found();
    }
    let before = r
        .param("before")
        .map_or(TG_MESSAGES + 1, |b| b.parse().unwrap_or(0));
    let first = before.saturating_sub(TG_PAGE).max(1);
    let mut html = String::from("<html><body><section class=\"tgme_channel_history\">\n");
    if before == TG_MESSAGES + 1 {
        html +=
            &format!("<a class=\"tme_messages_more\" href=\"/s/lokerln?before={first}\"></a>\n");
    }
    for n in first..before {
        let text = if n == 4 {
            "<div class=\"tgme_widget_message_photo_wrap\"></div>".to_string()
        } else {
            let (line1, line2) = tg_text(n)
                .split_once('\n')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap();
            format!(
                "<div class=\"tgme_widget_message_text js-message_text\">{line1}<br/>{line2}</div>"
            )
        };
        html += &format!(
            "<div class=\"tgme_widget_message_wrap\"><div class=\"tgme_widget_message\" data-post=\"lokerln/{n}\">\
             <div class=\"tgme_widget_message_owner_name\"><span>Loker LN</span></div>{text}\
             <div class=\"tgme_widget_message_footer\"><a class=\"tgme_widget_message_date\" href=\"https://t.me/lokerln/{n}\">\
             <time datetime=\"2026-11-0{n}T02:15:00+00:00\" class=\"time\">02:15</time></a></div></div></div>\n"
        );
    }
    Reply::html(html + "</section></body></html>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_reads_preview_messages_and_pages_with_before() {
    let web = Fixture::start(telegram).await;
    let toml = source("tg", "telegram", &[web.url("/s/lokerln")], FAST);
    let run = crawl(&toml, config()).await;

    let got = sorted(run.posts.iter().map(|p| {
        (
            p.url.clone(),
            p.external_id.clone(),
            p.text.clone(),
            p.author.clone(),
            p.published.map(|d| d.to_rfc3339()),
        )
    }));
    // Message 4 is a photo without text.
    let want = sorted([1, 2, 3, 5, 6, 7, 8].into_iter().map(|n: u64| {
        (
            web.url(&format!("/lokerln/{n}")),
            Some(format!("lokerln/{n}")),
            tg_text(n),
            Some("Loker LN".to_string()),
            Some(format!("2026-11-0{n}T02:15:00+00:00")),
        )
    }));
    assert_eq!(got, want);
    run.assert_no_duplicates();
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let hits = web.hits_on_pages();
    for page in ["/s/lokerln", "/s/lokerln?before=6", "/s/lokerln?before=3"] {
        assert_eq!(web.count(page), 1, "{page}: {:?}", tally(&hits));
    }
    assert_eq!(
        hits.len(),
        4,
        "three pages and robots.txt: {:?}",
        tally(&hits)
    );
}

// ---------------------------------------------------------------------------------------------
// Politeness
// ---------------------------------------------------------------------------------------------

/// `/{prefix}/1` … `/{prefix}/{last}`: one post each, each linking the next.
fn chain(r: &Req, prefix: &str, last: u32) -> Option<Reply> {
    let n: u32 = r.path.strip_prefix(prefix)?.parse().ok()?;
    if n == 0 || n > last {
        return None;
    }
    let next = if n < last {
        format!(
            "<a class=\"next\" href=\"{prefix}{}\">berikutnya</a>",
            n + 1
        )
    } else {
        String::new()
    };
    Some(Reply::html(format!(
        "<html><body><div class=\"post\"><p class=\"body\">Halaman {prefix}{n}</p></div>{next}</body></html>"
    )))
}

const CHAIN_SELECTORS: &str =
    "[source.selectors]\npost = \".post\"\ntext = \".body\"\nnext = \"a.next\"\n";

/// Texts of a chain's (or a fan's) pages, sorted.
fn chain_texts(prefix: &str, last: u32) -> Vec<String> {
    sorted((1..=last).map(|n| format!("Halaman {prefix}{n}")))
}

/// `{prefix}hub` links `{prefix}1` … `{prefix}{count}`, each a job page: a source may fetch
/// them all at once (up to its `concurrency`), so only the limiter spaces the requests.
pub(crate) fn fan(r: &Req, prefix: &str, count: u32) -> Option<Reply> {
    let rest = r.path.strip_prefix(prefix)?;
    if rest == "hub" {
        return Some(links_page(
            &(1..=count)
                .map(|n| format!("{prefix}{n}"))
                .collect::<Vec<_>>(),
        ));
    }
    let n: u32 = rest.parse().ok().filter(|n| (1..=count).contains(n))?;
    Some(job_page("Halaman", &format!("Halaman {prefix}{n}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_per_minute_spaces_every_request_to_a_host() {
    let web = Fixture::start(|r| fan(r, "/p/", 12).unwrap_or_else(Reply::not_found)).await;
    let toml = source(
        "paced",
        "jobposting",
        &[web.url("/p/hub")],
        "rate_per_minute = 600\nburst = 1\n",
    );
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), chain_texts("/p/", 12));
    let hits = web.hits_on_pages();
    assert_eq!(
        hits.len(),
        14,
        "robots.txt, the hub and 12 pages: {:?}",
        tally(&hits)
    );
    let min = gaps(&arrivals(&hits)).into_iter().min().unwrap();
    assert!(
        min >= SPACING_AT_600,
        "two requests {min:?} apart at 600/min"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_on_one_host_share_its_limiter() {
    let web = Fixture::start(|r| {
        fan(r, "/a/", 6)
            .or_else(|| fan(r, "/b/", 6))
            .unwrap_or_else(Reply::not_found)
    })
    .await;
    let extra = "rate_per_minute = 600\nburst = 1\n";
    let toml = source("a", "jobposting", &[web.url("/a/hub")], extra)
        + &source("b", "jobposting", &[web.url("/b/hub")], extra);
    let run = crawl(&toml, config()).await;

    let want = sorted(
        chain_texts("/a/", 6)
            .into_iter()
            .chain(chain_texts("/b/", 6)),
    );
    assert_eq!(run.texts(), want);
    let hits = web.hits_on_pages();
    assert_eq!(
        hits.len(),
        15,
        "robots.txt once, two hubs and 12 pages: {:?}",
        tally(&hits)
    );
    let min = gaps(&arrivals(&hits)).into_iter().min().unwrap();
    assert!(
        min >= SPACING_AT_600,
        "two requests {min:?} apart on one host at 600/min"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_disallowed_link_is_never_requested() {
    let web = Fixture::start(|r| match r.path.as_str() {
        "/robots.txt" => Reply::text("User-agent: *\nDisallow: /rahasia/\n"),
        "/lowongan" => links_page(&["/lowongan/1".into(), "/rahasia/1".into()]),
        "/lowongan/1" => job_page("Operator", "Operator produksi di Kuching."),
        "/rahasia/1" => job_page("Rahasia", "Halaman terlarang."),
        _ => Reply::not_found(),
    })
    .await;
    let toml = source("board", "jobposting", &[web.url("/lowongan")], FAST);
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), ["Operator produksi di Kuching."]);
    assert_eq!(run.errors, [(web.url("/rahasia/1"), "robots")]);
    assert_eq!(web.count("/rahasia/1"), 0);
    assert_eq!(
        web.count("/robots.txt"),
        1,
        "robots.txt is fetched once per host"
    );
    assert_eq!(run.summary("board").errors, BTreeMap::from([("robots", 1)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_crawl_delay_slows_a_faster_source() {
    let web = Fixture::start(|r| {
        if r.path == "/robots.txt" {
            return Reply::text("User-agent: *\nCrawl-delay: 1\n");
        }
        chain(r, "/p/", 3).unwrap_or_else(Reply::not_found)
    })
    .await;
    let toml = source(
        "delayed",
        "html_listing",
        &[web.url("/p/1")],
        &format!("rate_per_minute = 600\nburst = 1\n{CHAIN_SELECTORS}"),
    );
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), chain_texts("/p/", 3));
    let pages: Vec<Hit> = web
        .hits_on_pages()
        .into_iter()
        .filter(|h| h.target.starts_with("/p/"))
        .collect();
    assert_eq!(pages.len(), 3, "{:?}", tally(&pages));
    let min = gaps(&arrivals(&pages)).into_iter().min().unwrap();
    assert!(
        min >= Duration::from_millis(950),
        "pages {min:?} apart under Crawl-delay: 1"
    );
    // The robots.txt request itself counts against the host's rate: the first page does not
    // follow it at once.
    let hits = web.hits_on_pages();
    assert_eq!(hits.len(), 4, "{:?}", tally(&hits));
    let gap = hits[1].at - hits[0].at;
    assert!(
        gap >= SPACING_AT_600,
        "the first page came {gap:?} after robots.txt: faster than the source's 600/min, let alone Crawl-delay: 1"
    );
}

const JOB_1: &str = "Operator produksi di Kuching.";
const JOB_2: &str = "Pekerja kebun sawit di Sibu.";

/// `/hub` links `/job/1`, `middle` and `/job/2`; the two jobs' texts are `JOB_1` and `JOB_2`.
fn jobs_around(r: &Req, middle: &str) -> Option<Reply> {
    match r.path.as_str() {
        "/hub" => Some(links_page(&[
            "/job/1".into(),
            middle.to_string(),
            "/job/2".into(),
        ])),
        "/job/1" => Some(job_page("Operator", JOB_1)),
        "/job/2" => Some(job_page("Kebun", JOB_2)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_429_is_waited_out_then_collected() {
    let web = Fixture::start(|r| {
        if r.path == "/sibuk" {
            return if r.nth == 0 {
                Reply::status(429).with_header("retry-after", "1")
            } else {
                job_page("Sibuk", "Lowongan di server sibuk.")
            };
        }
        jobs_around(r, "/sibuk").unwrap_or_else(Reply::not_found)
    })
    .await;
    let toml = source("board", "jobposting", &[web.url("/hub")], FAST);
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), ["Lowongan di server sibuk.", JOB_1, JOB_2]);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let busy: Vec<Hit> = web
        .hits_on_pages()
        .into_iter()
        .filter(|h| h.target == "/sibuk")
        .collect();
    assert_eq!(busy.len(), 2);
    let waited = busy[1].at - busy[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried {waited:?} after `429, Retry-After: 1`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_longer_than_allowed_skips_the_url() {
    let web = Fixture::start(|r| {
        if r.path == "/tutup" {
            return Reply::status(503).with_header("retry-after", "100000");
        }
        jobs_around(r, "/tutup").unwrap_or_else(Reply::not_found)
    })
    .await;
    let toml = source("board", "jobposting", &[web.url("/hub")], FAST);
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), [JOB_1, JOB_2]);
    assert_eq!(run.errors, [(web.url("/tutup"), "retry_after")]);
    assert_eq!(web.count("/tutup"), 1, "not retried");
    assert_eq!(
        run.summary("board").errors,
        BTreeMap::from([("retry_after", 1)])
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile pages
// ---------------------------------------------------------------------------------------------

/// Pages that misbehave, around two good job pages.
fn hostile_site(r: &Req) -> Reply {
    let middle = match r.param("case") {
        Some("huge") => format!("http://127.0.0.1:{}/huge", r.raw_port),
        Some("drip") => format!("http://127.0.0.1:{}/drip", r.raw_port),
        Some("endless") => "/endless/1".to_string(),
        Some(other) => format!("/{other}"),
        None => String::new(),
    };
    if let Some(reply) = jobs_around(r, &middle) {
        return reply;
    }
    let path = r.path.as_str();
    if let Some(n) = path.strip_prefix("/endless/") {
        let n: u64 = n.parse().unwrap_or(0);
        return Reply::redirect(format!("/endless/{}", n + 1));
    }
    match path {
        "/loop" => Reply::redirect("/loop-b"),
        "/loop-b" => Reply::redirect("/loop"),
        "/away" => Reply::redirect(format!("http://localhost:{}/outside", r.port)),
        "/outside" => job_page("Di luar", "Tidak boleh diambil."),
        "/bomb" => Reply::gzip_bomb(16 * 1024 * 1024),
        "/utf8" => {
            let ld = b"{\"@type\":\"JobPosting\",\"title\":\"Rusak\",\"description\":\"Gaji \xff 5 juta\"}";
            let mut body = b"<html><head><script type=\"application/ld+json\">".to_vec();
            body.extend_from_slice(ld);
            body.extend_from_slice(b"</script></head><body></body></html>");
            Reply::bytes("text/html", body)
        }
        _ => Reply::not_found(),
    }
}

/// Crawls `/hub?case={case}` (which links `/job/1`, the case's URL and `/job/2`) and checks that
/// the case's URL, and only it, failed with `kind` while both jobs were still collected.
async fn fails_alone(
    case: &str,
    middle: fn(&Fixture) -> String,
    kind: &str,
    config: FetchConfig,
) -> (Fixture, Run) {
    let web = Fixture::start(hostile_site).await;
    let toml = source(
        "board",
        "jobposting",
        &[web.url(&format!("/hub?case={case}"))],
        FAST,
    );
    let run = crawl(&toml, config).await;
    let middle = middle(&web);
    assert_eq!(run.texts(), [JOB_1, JOB_2], "{case}: the run goes on");
    assert_eq!(run.errors, [(middle, kind)], "{case}");
    assert_eq!(
        run.summary("board").errors,
        BTreeMap::from([(kind, 1)]),
        "{case}"
    );
    (web, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_redirects_stop_at_the_limit() {
    let config = config();
    let limit = config.max_redirects;
    let (web, _) = fails_alone("endless", |w| w.url("/endless/1"), "redirect", config).await;
    let hops = web
        .hits_on_pages()
        .iter()
        .filter(|h| h.target.starts_with("/endless/"))
        .count();
    assert_eq!(hops, limit + 1, "the first request and {limit} redirects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loop_is_refused() {
    let (web, _) = fails_alone("loop", |w| w.url("/loop"), "redirect", config()).await;
    assert_eq!(web.count("/loop"), 1);
    assert_eq!(web.count("/loop-b"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_another_host_is_refused() {
    let (web, _) = fails_alone("away", |w| w.url("/away"), "off_scope", config()).await;
    assert_eq!(web.count("/away"), 1);
    assert_eq!(
        web.count("/outside"),
        0,
        "the redirect target is never fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body_is_cut_off_at_the_cap() {
    let (web, _) = fails_alone("huge", |w| w.raw_url("/huge"), "body_too_large", config()).await;
    assert_eq!(web.raw_count("/huge"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb_is_cut_off_at_the_cap() {
    let (web, _) = fails_alone("bomb", |w| w.url("/bomb"), "body_too_large", config()).await;
    assert_eq!(web.count("/bomb"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_drip_body_times_out() {
    let config = FetchConfig {
        request_timeout: Duration::from_secs(1),
        ..config()
    };
    let started = Instant::now();
    let (web, _) = fails_alone("drip", |w| w.raw_url("/drip"), "timeout", config).await;
    assert!(web.raw_count("/drip") >= 1);
    // The whole drip would take 12 s; the 1 s timeout ends it well before.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_replaced_not_fatal() {
    let web = Fixture::start(hostile_site).await;
    let toml = source("board", "jobposting", &[web.url("/hub?case=utf8")], FAST);
    let run = crawl(&toml, config()).await;
    assert_eq!(run.texts(), ["Gaji \u{FFFD} 5 juta", JOB_1, JOB_2]);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
}

/// Links on every trap page.
const TRAP_LINKS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spider_trap_stops_at_max_pages() {
    let web = Fixture::start(|r| {
        if let Some(rest) = r.path.strip_prefix("/trap/") {
            let mut links = vec!["/job/1".to_string()];
            links.extend((0..TRAP_LINKS).map(|i| format!("/trap/{rest}/{i}")));
            return links_page(&links);
        }
        jobs_around(r, "").unwrap_or_else(Reply::not_found)
    })
    .await;
    let toml = source(
        "trap",
        "jobposting",
        &[web.url("/trap/0")],
        &format!("{FAST}max_pages = 10\n"),
    );
    let run = crawl(&toml, config()).await;

    assert_eq!(run.texts(), [JOB_1]);
    let summary = run.summary("trap");
    assert_eq!(summary.pages, 10);
    let fetched = web
        .hits_on_pages()
        .iter()
        .filter(|h| h.target != "/robots.txt")
        .count();
    assert_eq!(fetched, 10, "at most max_pages requests");
    assert!(
        summary.admissions.get("OverBudget").copied().unwrap_or(0) >= TRAP_LINKS,
        "{:?}",
        summary.admissions
    );
    assert!(!summary.complete);
}

// ---------------------------------------------------------------------------------------------
// Charsets
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charset_from_header_and_from_meta() {
    let web = Fixture::start(|r| match r.path.as_str() {
        "/cp1252" => Reply::bytes(
            "text/html; charset=windows-1252",
            b"<html><body><div class=\"post\"><p class=\"body\">Lowongan caf\xe9 di Kuching</p></div></body></html>"
                .to_vec(),
        ),
        // "招聘工人" in GBK, declared only by the meta tag.
        "/gbk" => Reply::bytes(
            "text/html",
            b"<html><head><meta charset=\"gbk\"></head><body><div class=\"post\"><p class=\"body\">\xd5\xd0\xc6\xb8\xb9\xa4\xc8\xcb ke Taiwan</p></div></body></html>"
                .to_vec(),
        ),
        _ => Reply::not_found(),
    })
    .await;
    let toml = source(
        "charset",
        "html_listing",
        &[web.url("/cp1252"), web.url("/gbk")],
        &format!("{FAST}{CHAIN_SELECTORS}"),
    );
    let run = crawl(&toml, config()).await;
    assert_eq!(
        run.texts(),
        ["Lowongan café di Kuching", "招聘工人 ke Taiwan"]
    );
}

// ---------------------------------------------------------------------------------------------
// Safety
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_address_refused_without_allow_private() {
    let web = Fixture::start(|r| jobs_around(r, "/job/1").unwrap_or_else(Reply::not_found)).await;
    let by_ip = web.url("/hub");
    let by_name = format!("http://localhost:{}/hub", web.port());
    let toml = format!(
        "[[source]]\nid = \"inward\"\nkind = \"jobposting\"\nstart_urls = [\"{by_ip}\", \"{by_name}\"]\nlegal_basis = \"test fixture\"\n{FAST}"
    );
    let run = crawl(&toml, config()).await;

    assert!(run.posts.is_empty());
    assert_eq!(
        sorted(run.errors),
        [(by_ip, "private_address"), (by_name, "private_address")]
    );
    assert!(web.hits().is_empty(), "{:?}", tally(&web.hits()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_outside_allowed_hosts_is_never_fetched() {
    let web = Fixture::start(|r| {
        let outside = format!("http://localhost:{}/job/2", r.port);
        jobs_around(r, &outside).unwrap_or_else(Reply::not_found)
    })
    .await;
    let toml = source(
        "board",
        "jobposting",
        &[web.url("/hub")],
        &format!("allowed_hosts = [\"127.0.0.1\"]\n{FAST}"),
    );
    let run = crawl(&toml, config()).await;

    // `/job/2` is linked twice: on 127.0.0.1 (fetched) and on localhost (refused).
    assert_eq!(run.texts(), [JOB_1, JOB_2]);
    assert_eq!(web.count("/job/2"), 1, "only the in-scope link is fetched");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.summary("board").admissions.get("OffScope"), Some(&1));
}
