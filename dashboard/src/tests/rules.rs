//! The analysts' rule pages over HTTP: the playground, the evaluation, candidates and their
//! activation, and who may do what.

use axum::http::{StatusCode, header};
use patroli_classifier::{Gazetteer, Labeled, LanguageDetection, RuleSource};
use patroli_index::ActiveRules;

use super::{Fixture, fixture, get, hidden_csrf, login, post_form, send};
use crate::hash_password;

const RULESET: &str = "[ruleset]\nversion = \"t1\"\nflag_threshold = 0.5\n[ruleset.levels]\nlow = 0.2\nmedium = 0.5\nhigh = 0.75\n";

const ROUTE: &str = r#"[[indicator]]
id = "route.tikus"
category = "route"
status = "active"
weight = 0.6
description = "Jalan tikus"
keywords = ["jalan tikus"]
[indicator.examples]
match = ["Berangkat lewat jalan tikus"]
no_match = ["Jalan raya Pontianak"]
"#;

/// A new file for a candidate: the fixture's stored post says "Lowongan sawit".
const RECRUIT: &str = r#"[[indicator]]
id = "recruit.sawit"
category = "recruit"
status = "active"
weight = 0.7
description = "Lowongan sawit"
keywords = ["lowongan sawit"]
[indicator.examples]
match = ["Lowongan sawit di Sarawak"]
no_match = ["Kebun sawit saya"]
"#;

/// The fixture's rule set: version t1, one indicator.
pub(super) fn active_rules() -> ActiveRules {
    ActiveRules::from_files(
        vec![
            RuleSource::new("rules/route.toml", ROUTE),
            RuleSource::new("rules/ruleset.toml", RULESET),
        ],
        "rules",
        Gazetteer::default(),
        LanguageDetection::Off,
    )
    .unwrap()
}

/// The fixture's development corpus.
pub(super) fn corpus() -> Vec<Labeled> {
    [
        (
            "dev-1",
            "Berangkat lewat jalan tikus ke Sarawak",
            "illegal_recruitment",
        ),
        (
            "dev-2",
            "Lowongan sawit, paspor diurus",
            "illegal_recruitment",
        ),
        ("dev-3", "Jalan tikus di Entikong ditutup polisi", "news"),
        ("dev-4", "Kasir toko di Pontianak", "other"),
    ]
    .map(|(id, text, label)| Labeled {
        id: id.into(),
        text: text.into(),
        label: label.into(),
    })
    .to_vec()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Adds the analyst `ani` and logs her in; returns her cookie and a CSRF token.
async fn analyst(f: &Fixture) -> (String, String) {
    f.state
        .store
        .add_user("ani", "analyst", &hash_password("sandi-analis-1").unwrap())
        .await
        .unwrap();
    session(f, "ani", "sandi-analis-1").await
}

async fn session(f: &Fixture, user: &str, password: &str) -> (String, String) {
    let (_, cookie, _) = login(&f.state, user, password).await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(&f.state, get("/rules", &cookie)).await;
    let csrf = hidden_csrf(&html);
    (cookie, csrf)
}

async fn playground(f: &Fixture, cookie: &str, csrf: &str, text: &str) -> (StatusCode, String) {
    let req = post_form(
        "/rules/playground",
        cookie,
        form(&[("csrf", csrf), ("text", text)]),
    );
    let (status, _, html) = send(&f.state, req).await;
    (status, html)
}

async fn actions(f: &Fixture, n: i64) -> Vec<String> {
    f.state
        .store
        .audit_entries(n)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn the_playground_highlights_indicators_and_shows_hostile_text_as_text() {
    let f = fixture().await;
    let (cookie, csrf) = session(&f, "budi", "sandi-rahasia").await;
    let text = "<script>alert(1)</script><img src=x onerror=alert(2)> Berangkat lewat jalan tikus, WA 0812-3456-7890";
    let (status, html) = playground(&f, &cookie, &csrf, text).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<mark title=\"route.tikus: Jalan tikus\">jalan tikus</mark>"),
        "{html}"
    );
    assert!(html.contains("Ditandai untuk ditinjau"), "0.6 ≥ 0.5 flags");
    assert!(html.contains("<code>t1</code>"), "the rule-set version");
    assert!(html.contains("+6281234567890"), "the phone number found");
    for raw in ["<script>", "<img", "onerror=alert(2)>"] {
        assert!(!html.contains(raw), "raw {raw:?} in the page");
    }
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;")
            || html.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "the tag shows as text: {html}"
    );
    let last = &f.state.store.audit_entries(1).await.unwrap()[0];
    assert_eq!(last.action, "rules_playground");
    assert!(
        last.detail.as_deref().unwrap().contains("jalan tikus"),
        "{last:?}"
    );

    let forged = post_form("/rules/playground", &cookie, form(&[("text", "x")]));
    assert_eq!(send(&f.state, forged).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn officers_read_the_rules_but_may_not_tune_them() {
    let f = fixture().await;
    let (cookie, csrf) = session(&f, "budi", "sandi-rahasia").await;
    let (status, _, html) = send(&f.state, get("/rules", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<code>t1</code>") && html.contains("route.tikus"));
    assert!(
        !html.contains("href=\"/rules/candidate"),
        "no tuning links for officers"
    );
    for path in ["/rules/eval", "/rules/candidate?file=route.toml"] {
        assert_eq!(
            send(&f.state, get(path, &cookie)).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let activate = post_form(
        "/rules/activate",
        &cookie,
        form(&[
            ("csrf", &csrf),
            ("file", "recruit.toml"),
            ("version", "t2"),
            ("text", RECRUIT),
            ("base", "t1"),
        ]),
    );
    let (status, _, html) = send(&f.state, activate).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Peran Anda tidak berhak"), "{html}");
    assert_eq!(f.state.rules.current().rules.version(), "t1");
    assert!(f.state.store.rule_set_history().await.unwrap().is_empty());
    let actions = actions(&f, 5).await;
    assert_eq!(actions[0], "rules_activate_refused", "{actions:?}");
    assert!(actions.contains(&"rules_eval_refused".to_string()));
}

#[tokio::test]
async fn the_evaluation_measures_the_corpus_and_links_officers_judgements() {
    let f = fixture().await;
    // An officer escalates the fixture's post: a positive the rule set does not flag.
    let (officer, csrf) = session(&f, "budi", "sandi-rahasia").await;
    let escalate = post_form(
        "/leads/1/workflow",
        &officer,
        form(&[
            ("csrf", &csrf),
            ("action", "status"),
            ("status", "escalated"),
            ("target", "immigration"),
        ]),
    );
    assert_eq!(send(&f.state, escalate).await.0, StatusCode::SEE_OTHER);
    let (cookie, _) = analyst(&f).await;
    let (status, _, html) = send(&f.state, get("/rules/eval", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    // dev-1 flagged (TP); dev-2 and lead-1 missed (FN); dev-3 flagged (FP); dev-4 (TN).
    assert!(
        html.contains("5 teks (4 dari korpus pengembangan, 1 dari"),
        "{html}"
    );
    assert!(html.contains("Positif benar: 1") && html.contains("Negatif palsu: 2"));
    assert!(html.contains("Positif palsu: 1") && html.contains("Negatif benar: 1"));
    assert!(html.contains("<dd>0.500</dd>"), "precision 1/2");
    assert!(
        html.contains("href=\"/leads/1\""),
        "the missed lead is linked"
    );
    assert!(
        html.contains("<mark title=\"route.tikus: Jalan tikus\">Jalan tikus</mark> di Entikong"),
        "the false positive is explained"
    );
    assert_eq!(actions(&f, 1).await, ["rules_eval"]);
}

#[tokio::test]
async fn a_bad_candidate_shows_where_and_changes_nothing() {
    let f = fixture().await;
    let (cookie, csrf) = analyst(&f).await;
    let broken = ROUTE.replace("keywords = [\"jalan tikus\"]", "patterns = ['gaji(']");
    let body = form(&[
        ("csrf", &csrf),
        ("file", "route.toml"),
        ("version", "t2"),
        ("text", &broken),
    ]);
    let (status, _, html) = send(&f.state, post_form("/rules/candidate", &cookie, body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains(
            "<td><code>route.toml</code></td><td>7</td><td><code>route.tikus</code></td>"
        ),
        "file, line and rule: {html}"
    );
    assert!(html.contains("invalid regex"));
    assert!(
        !html.contains("action=\"/rules/activate\""),
        "no activation offered"
    );

    // Posting it to the activation anyway is refused, and the rule set stays.
    let body = form(&[
        ("csrf", &csrf),
        ("file", "route.toml"),
        ("version", "t2"),
        ("text", &broken),
        ("base", "t1"),
    ]);
    let (status, _, html) = send(&f.state, post_form("/rules/activate", &cookie, body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("perbaiki kesalahan"), "{html}");
    assert_eq!(f.state.rules.current().rules.version(), "t1");

    // Valid TOML whose own example fails is shown but cannot be activated either.
    let failing = ROUTE.replace("\"Jalan raya Pontianak\"", "\"Lewat jalan tikus\"");
    let body = form(&[
        ("csrf", &csrf),
        ("file", "route.toml"),
        ("version", "t2"),
        ("text", &failing),
    ]);
    let (status, _, html) = send(&f.state, post_form("/rules/candidate", &cookie, body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 gagal") && html.contains("ada contoh yang gagal"));
    assert!(!html.contains("action=\"/rules/activate\""));

    // A file name that could be a path is refused with a message.
    let body = form(&[("csrf", &csrf), ("file", "../x.toml"), ("text", RECRUIT)]);
    let (status, _, html) = send(&f.state, post_form("/rules/candidate", &cookie, body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Nama berkas harus"), "{html}");
    assert!(f.state.store.rule_set_history().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_good_candidate_is_diffed_then_activated_for_the_playground_and_audited() {
    let f = fixture().await;
    let (cookie, csrf) = analyst(&f).await;
    let (_, html) = playground(&f, &cookie, &csrf, "Lowongan sawit").await;
    assert!(html.contains("Tidak ditandai"), "t1 does not know the word");

    let candidate = |version: &str, base: &str| {
        form(&[
            ("csrf", &csrf),
            ("file", "recruit.toml"),
            ("version", version),
            ("text", RECRUIT),
            ("base", base),
        ])
    };
    let (status, _, html) = send(
        &f.state,
        post_form("/rules/candidate", &cookie, candidate("t2", "")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Kandidat versi <code>t2</code>"), "{html}");
    assert!(
        html.contains("4 contoh diperiksa, 0 gagal"),
        "every example of the pack ran"
    );
    assert!(
        html.contains("Menjadi ditandai: <strong>1</strong>"),
        "the stored post becomes flagged"
    );
    assert!(html.contains("<a href=\"/leads/1\">"), "with a link to it");
    assert!(
        html.contains("<th>Recall</th><td>0.500</td><td>1.000</td>"),
        "side by side on the corpus"
    );
    assert!(html.contains("action=\"/rules/activate\""));
    assert!(html.contains("name=\"base\" value=\"t1\""));
    assert_eq!(
        f.state.rules.current().rules.version(),
        "t1",
        "checking changes nothing"
    );

    let (status, h, _) = send(
        &f.state,
        post_form("/rules/activate", &cookie, candidate("t2", "t1")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/rules");
    let (_, html) = playground(&f, &cookie, &csrf, "Lowongan sawit").await;
    assert!(html.contains("Ditandai untuk ditinjau") && html.contains("<code>t2</code>"));
    assert!(html.contains("<mark title=\"recruit.sawit: Lowongan sawit\">Lowongan sawit</mark>"));
    let entries = f.state.store.audit_entries(3).await.unwrap();
    let activation = entries
        .iter()
        .find(|e| e.action == "rules_activate")
        .unwrap();
    assert_eq!(
        (activation.actor.as_str(), activation.target.as_deref()),
        ("ani", Some("t2"))
    );
    let (_, _, html) = send(&f.state, get("/rules", &cookie)).await;
    assert!(html.contains("Diaktifkan oleh ani"), "{html}");
    assert!(html.contains("<td><code>t2</code></td><td><code>t1</code></td><td><code>recruit.toml</code></td><td>ani</td>"));
    let stored = f.state.store.latest_rule_set().await.unwrap().unwrap().1;
    let names: Vec<&str> = stored.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["recruit.toml", "route.toml", "ruleset.toml"]);

    // The same version again, or a candidate checked against the old set, is refused.
    let (_, _, html) = send(
        &f.state,
        post_form("/rules/candidate", &cookie, candidate("", "")),
    )
    .await;
    assert!(html.contains("versinya sama"), "{html}");
    assert!(!html.contains("action=\"/rules/activate\""));
    let (status, _, html) = send(
        &f.state,
        post_form("/rules/activate", &cookie, candidate("t3", "t1")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("berubah sejak kandidat ini diperiksa"));
    assert!(
        html.contains("name=\"base\" value=\"t2\""),
        "offered again against t2"
    );
    assert_eq!(f.state.rules.current().rules.version(), "t2");
}

#[tokio::test]
async fn activation_without_the_csrf_token_is_refused() {
    let f = fixture().await;
    let (cookie, _) = analyst(&f).await;
    let body = form(&[
        ("file", "recruit.toml"),
        ("version", "t2"),
        ("text", RECRUIT),
        ("base", "t1"),
    ]);
    let (status, _, html) = send(&f.state, post_form("/rules/activate", &cookie, body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Formulir kedaluwarsa"), "{html}");
    assert_eq!(f.state.rules.current().rules.version(), "t1");
    assert!(f.state.store.rule_set_history().await.unwrap().is_empty());
}
