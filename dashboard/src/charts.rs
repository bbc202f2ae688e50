//! Charts of flagged posts, drawn on the server as SVG: per day, per destination country and per
//! Kalbar regency, over the last [`CHART_DAYS`] days. Served from this binary as `image/svg+xml`
//! for `<img>` tags (the CSP allows images from here only): no script, no external asset, no
//! style attribute (presentation attributes only). Every label is escaped, since destination and
//! place names come from verdicts on crawled text, and every bar has its count written beside it
//! so the chart reads without colour.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Days, Utc};
use patroli_index::Breakdown;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::i18n::Messages;
use crate::layout::{Layout, framed};

/// Days the charts cover, today (UTC) included.
pub const CHART_DAYS: u64 = 30;
/// Bars of a per-country or per-regency chart at most (Kalbar has 14 regencies and cities).
const MAX_BARS: i64 = 20;
/// Longest label drawn, in characters; longer ones are cut with "…".
const MAX_LABEL_CHARS: usize = 28;
/// Drawing size, in pixels.
const WIDTH: usize = 640;
const LABEL_WIDTH: usize = 200;
/// Room right of the longest bar for its count.
const COUNT_WIDTH: usize = 48;
const ROW_HEIGHT: usize = 20;
/// Height of the title line above the bars.
const TOP: usize = 32;
/// Bar colour: the dashboard's accent.
const BAR_FILL: &str = "#0b5cad";

/// The charts there are, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chart {
    PerDay,
    Destinations,
    Regencies,
}

impl Chart {
    const ALL: [Chart; 3] = [Chart::PerDay, Chart::Destinations, Chart::Regencies];

    fn file(self) -> &'static str {
        match self {
            Chart::PerDay => "flagged-per-day.svg",
            Chart::Destinations => "flagged-per-country.svg",
            Chart::Regencies => "flagged-per-regency.svg",
        }
    }

    fn title(self, t: &Messages) -> &str {
        match self {
            Chart::PerDay => t.get("charts.per_day"),
            Chart::Destinations => t.get("charts.per_country"),
            Chart::Regencies => t.get("charts.per_regency"),
        }
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage<'a> {
    layout: Layout<'a>,
    /// (image path, title)
    charts: Vec<(String, &'a str)>,
    period: String,
}
framed!(StatsPage);

/// The page that shows the charts.
pub async fn stats(user: CurrentUser) -> Result<Response, AppError> {
    let t = user.locale.messages();
    let html = StatsPage {
        layout: Layout::of(&user),
        charts: Chart::ALL
            .iter()
            .map(|c| (format!("/charts/{}", c.file()), c.title(t)))
            .collect(),
        period: t
            .get("charts.period")
            .replace("{days}", &CHART_DAYS.to_string()),
    }
    .render()?;
    Ok(Html(html).into_response())
}

/// One chart, as SVG.
pub async fn chart(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let t = user.locale.messages();
    let chart = Chart::ALL
        .into_iter()
        .find(|c| c.file() == file)
        .ok_or(AppError::NotFound)?;
    let today = Utc::now().date_naive();
    let since = today - Days::new(CHART_DAYS - 1);
    let rows: Vec<(String, i64)> = match chart {
        Chart::PerDay => state
            .store
            .flagged_per_day(since, today)
            .await?
            .into_iter()
            .map(|(day, n)| (day.format("%Y-%m-%d").to_string(), n))
            .collect(),
        Chart::Destinations => state
            .store
            .flagged_by(Breakdown::DestinationCountry, since, MAX_BARS)
            .await?
            .into_iter()
            .map(|(code, n)| (country_label(t, &code), n))
            .collect(),
        Chart::Regencies => {
            state
                .store
                .flagged_by(Breakdown::Regency, since, MAX_BARS)
                .await?
        }
    };
    let svg = bar_chart(chart.title(t), &rows, t.get("charts.empty"));
    Ok(([(CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response())
}

/// "Malaysia (MY)" for a country code the catalogue names, else the code as stored.
fn country_label(t: &Messages, code: &str) -> String {
    match t.lookup(&format!("country.{code}")) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

/// A horizontal bar chart: one row per `(label, count)`, the label left, the bar, then the count
/// as text. With nothing to count it says `empty` instead.
fn bar_chart(title: &str, rows: &[(String, i64)], empty: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(0);
    let shown = if max == 0 { 1 } else { rows.len() };
    let height = TOP + ROW_HEIGHT * shown + ROW_HEIGHT / 2;
    let title = escape(title);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" font-family=\"system-ui, sans-serif\" \
         font-size=\"12\" fill=\"#1b1f24\"><title>{title}</title>\
         <text x=\"0\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{title}</text>"
    );
    if max == 0 {
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text>",
            TOP + 14,
            escape(empty)
        );
    } else {
        let room = (WIDTH - LABEL_WIDTH - COUNT_WIDTH) as i64;
        for (i, (label, n)) in rows.iter().enumerate() {
            let y = TOP + i * ROW_HEIGHT;
            // Any count above zero gets a visible bar.
            let width = if *n > 0 { (n * room / max).max(1) } else { 0 };
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{width}\" height=\"{}\" fill=\"{BAR_FILL}\"/>\
                 <text x=\"{}\" y=\"{}\">{n}</text>",
                LABEL_WIDTH - 6,
                y + 14,
                escape(&shorten(label)),
                y + 3,
                ROW_HEIGHT - 6,
                LABEL_WIDTH as i64 + width + 4,
                y + 14,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// At most [`MAX_LABEL_CHARS`] characters, cut at a character boundary.
fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Text made safe for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widths of the bars drawn, in order.
    fn bar_widths(svg: &str) -> Vec<i64> {
        svg.match_indices("<rect ")
            .map(|(i, _)| {
                let rest = &svg[i..];
                let at = rest.find("width=\"").unwrap() + 7;
                rest[at..at + rest[at..].find('"').unwrap()]
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn bars_are_proportional_and_counts_are_written() {
        let rows = [
            ("MY".to_string(), 10),
            ("KH".to_string(), 5),
            ("SG".to_string(), 0),
        ];
        let svg = bar_chart("Per negara", &rows, "kosong");
        let room = (WIDTH - LABEL_WIDTH - COUNT_WIDTH) as i64;
        assert_eq!(bar_widths(&svg), [room, room / 2, 0]);
        for text in [">MY</text>", ">10</text>", ">5</text>", ">0</text>"] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
        assert!(!svg.contains("kosong"));
        assert!(
            !svg.contains("style"),
            "no style attribute for the CSP to refuse"
        );
    }

    #[test]
    fn a_small_count_still_shows_a_bar() {
        let rows = [("a".to_string(), 10_000), ("b".to_string(), 1)];
        assert_eq!(bar_widths(&bar_chart("t", &rows, "e"))[1], 1);
    }

    #[test]
    fn nothing_to_count_says_so() {
        let rows = [("2026-03-01".to_string(), 0), ("2026-03-02".to_string(), 0)];
        let svg = bar_chart("Per hari", &rows, "Belum ada unggahan yang ditandai.");
        assert!(svg.contains(">Belum ada unggahan yang ditandai.</text>"));
        assert!(bar_widths(&svg).is_empty());
        assert!(bar_widths(&bar_chart("t", &[], "e")).is_empty());
    }

    #[test]
    fn labels_are_escaped_and_shortened() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{FFFD}b");
        let long = "Kabupaten Kapuas Hulu bagian utara sekali";
        let short = shorten(long);
        assert_eq!(short.chars().count(), MAX_LABEL_CHARS);
        assert!(short.ends_with('…') && long.starts_with(short.trim_end_matches('…')));
        assert_eq!(shorten("Sambas"), "Sambas");
    }

    #[test]
    fn country_codes_get_names_when_known() {
        let t = crate::i18n::Locale::Id.messages();
        assert_eq!(country_label(t, "MY"), "Malaysia (MY)");
        assert_eq!(country_label(t, "KH"), "Kamboja (KH)");
        assert_eq!(country_label(t, "ZZ"), "ZZ");
    }
}
