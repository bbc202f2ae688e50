//! Verdicts rendered for people at a terminal.

use std::fmt::Write;

use patroli_classifier::Verdict;

/// Renders `verdict` over `text`: a summary line, the indicators with weights and matched text,
/// and the text with matches marked (ANSI reverse video when `color`, «…» otherwise).
pub fn render(text: &str, verdict: &Verdict, color: bool) -> String {
    let mut out = String::new();
    let places: Vec<&str> = verdict.places.iter().map(|p| &*p.name).collect();
    let dests: Vec<&str> = verdict.destinations.iter().map(|d| &*d.name).collect();
    let _ = writeln!(
        out,
        "score {:.2} · level {} · {} · language {} · Kalbar: {}",
        verdict.score,
        verdict.level.as_str().to_uppercase(),
        if verdict.flagged {
            "FLAGGED"
        } else {
            "not flagged"
        },
        verdict.lang.as_str(),
        if verdict.kalbar {
            format!("yes ({})", places.join(", "))
        } else {
            "no".into()
        },
    );
    if !dests.is_empty() {
        let _ = writeln!(out, "destinations: {}", dests.join(", "));
    }
    if !verdict.entities.is_empty() {
        let ids: Vec<String> = verdict
            .entities
            .iter()
            .map(|e| format!("{:?} {}", e.kind, e.value).to_lowercase())
            .collect();
        let _ = writeln!(out, "contacts: {}", ids.join(", "));
    }
    if !verdict.salaries.is_empty() {
        let pay: Vec<String> = verdict.salaries.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "pay: {}", pay.join(", "));
    }
    let _ = writeln!(out, "rule set {}", verdict.ruleset_version);
    if verdict.indicators.is_empty() {
        let _ = writeln!(out, "\nno indicator fired");
    } else {
        let _ = writeln!(
            out,
            "\nindicators (per category only the strongest counts):"
        );
    }
    for i in &verdict.indicators {
        let note = match (i.counted, i.experimental) {
            (_, true) => " (experimental, not counted)",
            (true, false) => "",
            (false, false) => " (not counted: a stronger one in its category)",
        };
        let _ = writeln!(
            out,
            "  {:+.2} {}{note}\n        {}",
            i.weight, i.id, i.description
        );
        for m in &i.matches {
            let _ = writeln!(out, "        «{}» bytes {}..{}", m.text, m.start, m.end);
        }
    }
    let mut spans: Vec<(usize, usize)> = verdict
        .indicators
        .iter()
        .flat_map(|i| i.matches.iter().map(|m| (m.start, m.end)))
        .collect();
    spans.sort_unstable();
    let (open, close) = if color {
        ("\x1b[7m", "\x1b[0m")
    } else {
        ("«", "»")
    };
    let mut marked = String::with_capacity(text.len() + spans.len() * 8);
    let mut pos = 0;
    for (s, e) in spans {
        let s = s.max(pos);
        if s >= e || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        marked.push_str(&text[pos..s]);
        marked.push_str(open);
        marked.push_str(&text[s..e]);
        marked.push_str(close);
        pos = e;
    }
    marked.push_str(&text[pos..]);
    let _ = writeln!(out, "\ntext:\n{marked}");
    out
}
