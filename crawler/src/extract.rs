//! Reading posts and the next links out of a fetched page, per kind of source. Pages are
//! hostile: anything malformed is skipped, never a panic.

use chrono::{DateTime, NaiveDate, Utc};
use scraper::{ElementRef, Html, Node, Selector};
use serde_json::Value;
use url::Url;

use crate::model::CollectedPost;
use crate::source::{Source, SourceKind};

/// Posts found on a page and the links to visit next.
#[derive(Debug, Default)]
pub struct PageResult {
    pub posts: Vec<CollectedPost>,
    /// Links one level deeper (detail pages, discovered pages).
    pub links: Vec<Url>,
    /// Further pages of the same listing (next page, older messages): the same depth.
    pub pages: Vec<Url>,
}

/// Extracts from one page of `source`.
pub fn extract(source: &Source, page: &Url, body: &[u8], text: &str) -> PageResult {
    match source.kind {
        SourceKind::Feed => feed(source, page, body),
        SourceKind::Telegram => telegram(source, page, text),
        SourceKind::Jobposting => jobposting(source, page, text),
        SourceKind::HtmlListing => listing(source, page, text),
        SourceKind::Sitemap if looks_like_sitemap(text) => sitemap(page, text),
        SourceKind::Sitemap => page_post(source, page, text, false),
        SourceKind::Generic => page_post(source, page, text, true),
    }
}

/// Readable text shorter than this does not make a page a post (menus, empty category pages).
pub const MIN_PAGE_TEXT: usize = 200;

fn looks_like_sitemap(text: &str) -> bool {
    let head = &text[..text.len().min(2048)];
    head.contains("<urlset") || head.contains("<sitemapindex")
}

/// `<loc>` entries of a sitemap or sitemap index: pages and child sitemaps alike are followed.
fn sitemap(page: &Url, text: &str) -> PageResult {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<loc>") {
        rest = &rest[start + 5..];
        let Some(end) = rest.find("</loc>") else {
            break;
        };
        let loc = rest[..end].trim().replace("&amp;", "&");
        if let Ok(u) = page.join(&loc) {
            links.push(u);
        }
        rest = &rest[end..];
    }
    PageResult {
        posts: Vec::new(),
        links,
        pages: Vec::new(),
    }
}

/// One page as a post: its `JobPosting` JSON-LD if it has some, else its readable text when long
/// enough. With `follow`, every link on the page is returned too.
fn page_post(source: &Source, page: &Url, text: &str, follow: bool) -> PageResult {
    let mut result = jobposting(source, page, text);
    if !follow {
        result.links.clear();
        result.pages.clear();
    }
    if !result.posts.is_empty() {
        return result;
    }
    let doc = Html::parse_document(text);
    let main = ["article", "main", "[role=main]", "body"]
        .iter()
        .filter_map(|s| selector(s))
        .find_map(|s| doc.select(&s).next());
    let Some(main) = main else { return result };
    let body = readable_text(main);
    if body.chars().count() >= MIN_PAGE_TEXT {
        let title = selector("h1")
            .and_then(|s| doc.select(&s).next().map(element_text))
            .or_else(|| selector("title").and_then(|s| doc.select(&s).next().map(element_text)))
            .filter(|t| !t.is_empty());
        result.posts.push(CollectedPost {
            source_id: source.id.clone(),
            url: page.to_string(),
            external_id: None,
            title,
            text: body,
            author: None,
            location: None,
            published: selector("time[datetime]")
                .and_then(|s| doc.select(&s).next())
                .and_then(|t| t.value().attr("datetime"))
                .and_then(parse_date),
        });
    }
    result
}

/// Text of an element without its navigation, headers, footers, forms and asides.
fn readable_text(el: ElementRef<'_>) -> String {
    text_without(
        el,
        &[
            "nav", "header", "footer", "aside", "form", "script", "style", "noscript", "button",
        ],
    )
}

fn selector(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

/// Readable text of an element: text nodes joined, `<br>` and block ends as line breaks,
/// scripts and styles dropped, spaces squeezed.
pub fn element_text(el: ElementRef<'_>) -> String {
    text_without(el, &["script", "style", "noscript"])
}

/// Text of an element, leaving out everything inside the `skipped` elements.
fn text_without(el: ElementRef<'_>, skipped: &[&str]) -> String {
    let mut out = String::new();
    for edge in el.traverse() {
        match edge {
            ego_tree::iter::Edge::Open(node) => match node.value() {
                Node::Text(t) => {
                    let skip = node.ancestors().any(|a| {
                        a.value()
                            .as_element()
                            .is_some_and(|e| skipped.contains(&e.name()))
                    });
                    if !skip {
                        out.push_str(t);
                    }
                }
                Node::Element(e) if e.name() == "br" || is_block(e.name()) => out.push('\n'),
                _ => {}
            },
            ego_tree::iter::Edge::Close(node) => {
                if node
                    .value()
                    .as_element()
                    .is_some_and(|e| is_block(e.name()))
                {
                    out.push('\n');
                }
            }
        }
    }
    tidy(&out)
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "tr" | "ul" | "ol" | "section" | "article"
    )
}

/// Squeezes spaces inside lines and drops empty lines.
fn tidy(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn html_fragment_text(html: &str) -> String {
    element_text(Html::parse_fragment(html).root_element())
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc2822(s))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

fn links(doc: &Html, page: &Url, sel: Option<&str>) -> Vec<Url> {
    let Some(sel) = sel.and_then(selector) else {
        return Vec::new();
    };
    doc.select(&sel)
        .filter_map(|a| a.value().attr("href"))
        .filter_map(|href| page.join(href).ok())
        .collect()
}

fn first_text(el: ElementRef<'_>, sel: Option<&str>) -> Option<String> {
    let sel = selector(sel?)?;
    el.select(&sel)
        .next()
        .map(element_text)
        .filter(|t| !t.is_empty())
}

fn telegram(source: &Source, page: &Url, text: &str) -> PageResult {
    let doc = Html::parse_document(text);
    let message = selector(".tgme_widget_message[data-post]").expect("static selector");
    let body = selector(".tgme_widget_message_text").expect("static selector");
    let time = selector(".tgme_widget_message_date time[datetime], time[datetime]")
        .expect("static selector");
    let owner = selector(".tgme_widget_message_owner_name").expect("static selector");
    let mut posts = Vec::new();
    let mut oldest: Option<u64> = None;
    for m in doc.select(&message) {
        let Some(data_post) = m.value().attr("data-post") else {
            continue;
        };
        let Some((_, number)) = data_post.rsplit_once('/') else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        oldest = Some(oldest.map_or(number, |o| o.min(number)));
        let Some(text) = m
            .select(&body)
            .next()
            .map(element_text)
            .filter(|t| !t.is_empty())
        else {
            continue; // a photo or sticker without text
        };
        let Ok(url) = page.join(&format!("/{data_post}")) else {
            continue;
        };
        posts.push(CollectedPost {
            source_id: source.id.clone(),
            url: url.to_string(),
            external_id: Some(data_post.to_string()),
            title: None,
            text,
            author: m.select(&owner).next().map(element_text),
            location: None,
            published: m
                .select(&time)
                .next()
                .and_then(|t| t.value().attr("datetime"))
                .and_then(parse_date),
        });
    }
    // Older messages: the page's own "more" link, else `?before=` the oldest message seen.
    let mut links = links(&doc, page, Some("a.tme_messages_more[href]"));
    if links.is_empty()
        && let Some(oldest) = oldest.filter(|o| *o > 1)
    {
        let mut next = page.clone();
        next.query_pairs_mut()
            .clear()
            .append_pair("before", &oldest.to_string());
        links.push(next);
    }
    PageResult {
        posts,
        links: Vec::new(),
        pages: links,
    }
}

/// Every `JobPosting` object in a JSON-LD value (top level, arrays and `@graph`).
fn job_postings(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| job_postings(i, out)),
        Value::Object(map) => {
            let is_job = match map.get("@type") {
                Some(Value::String(t)) => t == "JobPosting",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "JobPosting"),
                _ => false,
            };
            if is_job {
                out.push(v.clone());
            } else if let Some(graph) = map.get("@graph") {
                job_postings(graph, out);
            }
        }
        _ => {}
    }
}

fn json_str(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = match cur {
            Value::Array(a) => a.first()?.get(key)?,
            _ => cur.get(key)?,
        };
    }
    match cur {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn jobposting(source: &Source, page: &Url, text: &str) -> PageResult {
    let doc = Html::parse_document(text);
    let scripts = selector("script[type=\"application/ld+json\"]").expect("static selector");
    let mut jobs = Vec::new();
    for s in doc.select(&scripts) {
        if let Ok(v) = serde_json::from_str::<Value>(&s.text().collect::<String>()) {
            job_postings(&v, &mut jobs);
        }
    }
    let posts = jobs
        .iter()
        .filter_map(|job| {
            let text = html_fragment_text(&json_str(job, &["description"])?);
            let locality = json_str(job, &["jobLocation", "address", "addressLocality"]);
            let region = json_str(job, &["jobLocation", "address", "addressRegion"]);
            let location = match (locality, region) {
                (Some(l), Some(r)) => Some(format!("{l}, {r}")),
                (l, r) => l.or(r),
            };
            Some(CollectedPost {
                source_id: source.id.clone(),
                url: json_str(job, &["url"])
                    .and_then(|u| page.join(&u).ok())
                    .unwrap_or_else(|| page.clone())
                    .to_string(),
                external_id: json_str(job, &["identifier", "value"])
                    .or_else(|| json_str(job, &["identifier"])),
                title: json_str(job, &["title"]),
                text,
                author: json_str(job, &["hiringOrganization", "name"]),
                location,
                published: json_str(job, &["datePosted"])
                    .as_deref()
                    .and_then(parse_date),
            })
        })
        .collect();
    PageResult {
        posts,
        links: links(
            &doc,
            page,
            Some(source.selectors.link.as_deref().unwrap_or("a[href]")),
        ),
        pages: links(&doc, page, source.selectors.next.as_deref()),
    }
}

fn listing(source: &Source, page: &Url, text: &str) -> PageResult {
    let doc = Html::parse_document(text);
    let sel = &source.selectors;
    let Some(post_sel) = sel.post.as_deref().and_then(selector) else {
        return PageResult::default();
    };
    let link_sel = selector(sel.link.as_deref().unwrap_or("a[href]"));
    let mut posts = Vec::new();
    for el in doc.select(&post_sel) {
        let Some(text) = first_text(el, sel.text.as_deref()) else {
            continue;
        };
        let url = link_sel
            .as_ref()
            .and_then(|s| el.select(s).next())
            .and_then(|a| a.value().attr("href"))
            .and_then(|h| page.join(h).ok());
        let date = sel.date.as_deref().and_then(selector).and_then(|s| {
            el.select(&s).next().and_then(|d| {
                d.value()
                    .attr("datetime")
                    .map(str::to_string)
                    .or_else(|| Some(element_text(d)))
            })
        });
        posts.push(CollectedPost {
            source_id: source.id.clone(),
            url: url.as_ref().unwrap_or(page).to_string(),
            external_id: el.value().id().map(str::to_string),
            title: first_text(el, sel.title.as_deref()),
            text,
            author: first_text(el, sel.author.as_deref()),
            location: None,
            published: date.as_deref().and_then(parse_date),
        });
    }
    PageResult {
        posts,
        links: Vec::new(),
        pages: links(&doc, page, sel.next.as_deref()),
    }
}

fn feed(source: &Source, page: &Url, body: &[u8]) -> PageResult {
    let Ok(feed) = feed_rs::parser::parse(body) else {
        return PageResult::default();
    };
    let posts = feed
        .entries
        .into_iter()
        .filter_map(|e| {
            let html = e
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))?;
            let text = html_fragment_text(&html);
            if text.is_empty() {
                return None;
            }
            let url = e
                .links
                .first()
                .and_then(|l| page.join(&l.href).ok())
                .unwrap_or_else(|| page.clone());
            Some(CollectedPost {
                source_id: source.id.clone(),
                url: url.to_string(),
                external_id: Some(e.id.clone()).filter(|id| !id.is_empty()),
                title: e.title.map(|t| html_fragment_text(&t.content)),
                text,
                author: e.authors.first().map(|a| a.name.clone()),
                location: None,
                published: e.published.or(e.updated),
            })
        })
        .collect();
    PageResult {
        posts,
        links: Vec::new(),
        pages: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse_sources;

    fn source(kind: &str, extra: &str) -> Source {
        let toml = format!(
            "[[source]]\nid = \"s\"\nkind = \"{kind}\"\nstart_urls = [\"https://site.example/\"]\nlegal_basis = \"public\"\n{extra}"
        );
        parse_sources("t.toml", &toml).unwrap().remove(0)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn telegram_preview_messages_and_paging() {
        let html = r#"<html><body>
        <div class="tgme_widget_message" data-post="lokerln/120">
          <div class="tgme_widget_message_owner_name"><span>Loker LN</span></div>
          <div class="tgme_widget_message_text">Dicari <b>pekerja</b> sawit<br/>Gaji 9jt</div>
          <a class="tgme_widget_message_date"><time datetime="2026-11-02T02:15:00+00:00">02:15</time></a>
        </div>
        <div class="tgme_widget_message" data-post="lokerln/119"><div class="tgme_widget_message_photo"></div></div>
        <div class="tgme_widget_message" data-post="lokerln/bad"><div class="tgme_widget_message_text">x</div></div>
        </body></html>"#;
        let r = extract(
            &source("telegram", ""),
            &url("https://t.me/s/lokerln"),
            html.as_bytes(),
            html,
        );
        assert_eq!(r.posts.len(), 1);
        let p = &r.posts[0];
        assert_eq!(p.text, "Dicari pekerja sawit\nGaji 9jt");
        assert_eq!(p.url, "https://t.me/lokerln/120");
        assert_eq!(p.external_id.as_deref(), Some("lokerln/120"));
        assert_eq!(p.author.as_deref(), Some("Loker LN"));
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2026-11-02T02:15:00+00:00"
        );
        assert_eq!(r.pages, [url("https://t.me/s/lokerln?before=119")]);
    }

    #[test]
    fn jobposting_json_ld_and_links() {
        let html = r#"<html><head><script type="application/ld+json">
        {"@context":"https://schema.org","@graph":[{"@type":"Organization","name":"x"},
         {"@type":"JobPosting","title":"Operator Produksi","description":"<p>Kerja di <b>Kuching</b></p><ul><li>Mess</li></ul>",
          "datePosted":"2026-10-05","hiringOrganization":{"@type":"Organization","name":"PT Maju"},
          "jobLocation":{"@type":"Place","address":{"addressLocality":"Kuching","addressRegion":"Sarawak"}},
          "identifier":{"@type":"PropertyValue","value":"J-77"}}]}
        </script><script type="application/ld+json">{not json</script></head>
        <body><a href="/lowongan/2">next</a><a href="https://other.example/x">x</a></body></html>"#;
        let r = extract(
            &source("jobposting", ""),
            &url("https://site.example/lowongan/1"),
            html.as_bytes(),
            html,
        );
        assert_eq!(r.posts.len(), 1);
        let p = &r.posts[0];
        assert_eq!(p.title.as_deref(), Some("Operator Produksi"));
        assert_eq!(p.text, "Kerja di Kuching\nMess");
        assert_eq!(p.author.as_deref(), Some("PT Maju"));
        assert_eq!(p.location.as_deref(), Some("Kuching, Sarawak"));
        assert_eq!(p.external_id.as_deref(), Some("J-77"));
        assert_eq!(p.url, "https://site.example/lowongan/1");
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2026-10-05T00:00:00+00:00"
        );
        assert_eq!(
            r.links,
            [
                url("https://site.example/lowongan/2"),
                url("https://other.example/x")
            ]
        );
    }

    #[test]
    fn sitemap_lists_pages_and_pages_become_posts() {
        let xml = r#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <url><loc>https://site.example/loker/1?a=1&amp;b=2</loc></url><url><loc> https://site.example/loker/2 </loc></url></urlset>"#;
        let src = source("sitemap", "");
        let r = extract(
            &src,
            &url("https://site.example/sitemap.xml"),
            xml.as_bytes(),
            xml,
        );
        assert!(r.posts.is_empty());
        assert_eq!(
            r.links,
            [
                url("https://site.example/loker/1?a=1&b=2"),
                url("https://site.example/loker/2")
            ]
        );
        let body = "Dicari tenaga kerja kebun. ".repeat(10);
        let html = format!(
            "<html><head><title>Loker</title></head><body><nav>Beranda Loker Kontak</nav><article><h1>Kerja kebun</h1><p>{body}</p><a href='/x'>x</a></article><footer>hak cipta</footer></body></html>"
        );
        let r = extract(
            &src,
            &url("https://site.example/loker/2"),
            html.as_bytes(),
            &html,
        );
        assert_eq!(r.posts.len(), 1);
        assert_eq!(r.posts[0].title.as_deref(), Some("Kerja kebun"));
        assert!(r.posts[0].text.starts_with("Kerja kebun\nDicari"));
        assert!(!r.posts[0].text.contains("Beranda") && !r.posts[0].text.contains("hak cipta"));
        assert!(r.links.is_empty(), "sitemap pages are not crawled further");
        let generic = extract(
            &source("generic", ""),
            &url("https://site.example/loker/2"),
            html.as_bytes(),
            &html,
        );
        assert_eq!(generic.links, [url("https://site.example/x")]);
        let short = "<html><body><p>Menu</p><a href='/a'>a</a></body></html>";
        let r = extract(
            &source("generic", ""),
            &url("https://site.example/"),
            short.as_bytes(),
            short,
        );
        assert!(r.posts.is_empty() && r.links.len() == 1);
    }

    #[test]
    fn rss_items() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Iklan</title>
        <item><title>Cari ART</title><link>https://site.example/iklan/5</link><guid>iklan-5</guid>
        <description>&lt;p&gt;Gaji RM1800&lt;/p&gt;</description><pubDate>Mon, 02 Nov 2026 09:00:00 +0700</pubDate></item>
        <item><title>kosong</title></item></channel></rss>"#;
        let r = extract(
            &source("feed", ""),
            &url("https://site.example/feed.xml"),
            rss.as_bytes(),
            rss,
        );
        assert_eq!(r.posts.len(), 1);
        assert_eq!(r.posts[0].text, "Gaji RM1800");
        assert_eq!(r.posts[0].title.as_deref(), Some("Cari ART"));
        assert_eq!(r.posts[0].external_id.as_deref(), Some("iklan-5"));
        assert_eq!(
            r.posts[0].published.unwrap().to_rfc3339(),
            "2026-11-02T02:00:00+00:00"
        );
    }

    #[test]
    fn html_listing_with_selectors_and_hostile_markup() {
        let src = source(
            "html_listing",
            "[source.selectors]\npost = \".post\"\ntitle = \"h3\"\ntext = \".body\"\nauthor = \".by\"\ndate = \"time\"\nnext = \"a.next\"\n",
        );
        let html = r#"<div class="post" id="p1"><h3>Loker</h3><div class="body">Kerja <script>alert(1)</script>enak<div>lagi</span></div></div><span class="by">Budi</span><time datetime="2026-11-01T10:00:00Z"></time></div>
        <div class="post"><h3>Tanpa isi</h3></div><a class="next" href="?page=2">›</a><<<>><div><p>unclosed"#;
        let r = extract(
            &src,
            &url("https://site.example/forum"),
            html.as_bytes(),
            html,
        );
        assert_eq!(r.posts.len(), 1);
        assert_eq!(r.posts[0].text, "Kerja enak\nlagi");
        assert_eq!(r.posts[0].author.as_deref(), Some("Budi"));
        assert_eq!(r.posts[0].external_id.as_deref(), Some("p1"));
        assert_eq!(r.pages, [url("https://site.example/forum?page=2")]);
    }
}
